"""torch and TensorFlow in one process, whichever of them was imported first.

The one crash of this stack: triton (which torchvision, timm and torch._dynamo load lazily) segfaults when it is
loaded after TensorFlow. Our own programs import TensorFlow first, and so does the AutoDL platform, whose ingestion
imports TensorFlow before it imports the submission's model.py. So this module keeps triton out of the process
unless it is already loaded: torch treats it as not installed, which costs only torch.compile's GPU kernels (this
package never compiles). Every package that uses torch imports this module first: model.py, learner/ and
meta_classifier/ in their `__init__`, autodl_format's reader and writer through `tf`.

`tf` is imported on first use (`from autodl_format.frameworks import tf`): code that needs only torch does not
pay for TensorFlow's import.

Where TensorFlow cannot be imported (a GPU box with torch but without TensorFlow's 1.9 GB wheel),
`tensorflow_available()` says so; autodl_format.reader then reads the TFRecord files with protobuf and Pillow
(autodl_format.examples) and the learner takes those numpy datasets. The choice is made once per process, at the
first call, and logged once (a warning when TensorFlow is missing, else at INFO level).

TensorFlow's start-up chatter (oneDNN, CUDA driver, cuInit lines), which no environment variable silences on
TF 2.21, is swallowed while this module imports TensorFlow and hides the GPUs from it; it is replayed if that
fails. Nothing else is touched: a submission's own TensorFlow logging stays as it set it up.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ info and warning lines, once absl is up
sys.modules.setdefault("triton", None)  # None in sys.modules makes `import triton` raise ImportError

import torch  # noqa: E402


@contextmanager
def _stderr_swallowed() -> Iterator[None]:
    """Send file descriptor 2 (C++ writes there directly) to a temporary file; replay it if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _import_tensorflow():
    with _stderr_swallowed():  # a no-op import when the caller had TensorFlow already: then only our device call
        import tensorflow

        real = getattr(tensorflow, "__wrapped__", tensorflow)  # ingestion --tf1_compat hands submissions a TF1 view
        try:  # TF only reads data here: leave the GPU's memory to torch (also where cuInit speaks up)
            real.config.set_visible_devices([], "GPU")
        except (RuntimeError, ValueError):  # devices already initialised: nothing to do
            pass
    return real


_log = logging.getLogger("autodl_format")
_decided: dict[str, bool] = {}


def tensorflow_available() -> bool:
    """Whether TensorFlow imports in this process (importing it when it does). Decided at the first call, logged
    once; `sys.modules["tensorflow"] = None` before it makes it False, as on a machine without TensorFlow."""
    if "tf" not in _decided:
        try:
            tf = globals().get("tf") or _import_tensorflow()
        except ImportError as error:
            _decided["tf"] = False
            _log.warning("TensorFlow cannot be imported (%s): AutoDL files are read with protobuf and Pillow", error)
        else:
            globals()["tf"] = tf
            _decided["tf"] = True
            _log.info("AutoDL files are read with TensorFlow %s (tf.data)", tf.__version__)
    return _decided["tf"]


def __getattr__(name: str):
    if name == "tf":  # first use: import it (and keep it as a module attribute from then on)
        globals()["tf"] = _import_tensorflow()
        return globals()["tf"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["tensorflow_available", "tf", "torch"]
