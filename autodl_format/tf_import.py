"""Import TensorFlow the safe way.

torch (and torchvision) must be imported before tensorflow in one process: the other order segfaults while torch
loads triton. Every module of this project that needs TensorFlow imports it from here.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TF's C++ start-up chatter

try:  # torch first, when it is installed
    import torch  # noqa: F401
    import torchvision  # noqa: F401
except ImportError:  # pragma: no cover - torch is a dependency, but the reader works without it
    pass

import tensorflow as tf  # noqa: E402


def _hide_gpus_from_tf() -> None:
    # TF only reads data here; leave the GPU's memory to torch.
    try:
        tf.config.set_visible_devices([], "GPU")
    except (RuntimeError, ValueError):  # already initialised: nothing to do
        pass


_hide_gpus_from_tf()

__all__ = ["tf"]
