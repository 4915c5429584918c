"""`--tf1_compat`: run a 2019-era TensorFlow 1 submission unchanged on TensorFlow 2.

Such a submission does `import tensorflow as tf` and then uses TF1 names (`tf.Session`, `tf.ConfigProto`,
`tf.logging`, `tf.data.Iterator.from_structure`, `tf.image.resize_images`, ...) on the graph-mode datasets of the
platform's TF 1.13 ingestion (`dataset.make_one_shot_iterator()`). In this mode ingestion switches TensorFlow to
graph mode, builds TF1 datasets (autodl_format.reader, `tf1=True`), and for the rest of the run `import tensorflow`
gives a TF1 view: `tf.compat.v1`'s names first, TensorFlow 2's where v1 has none. What TF 2 removed altogether
(`tf.contrib`, `tf.estimator` and `tf.layers` on TF >= 2.16) is not brought back.

Our own model.py runs in this mode too: autodl_format.frameworks unwraps the view (`__wrapped__`).
"""
from __future__ import annotations

import sys
import types
from contextlib import contextmanager
from typing import Any, Iterator


class TF1View(types.ModuleType):
    """What `import tensorflow as tf` gives a submission under --tf1_compat."""

    def __init__(self, tf2: types.ModuleType) -> None:
        super().__init__(tf2.__name__, tf2.__doc__)
        self.__wrapped__ = tf2
        self.__path__ = tf2.__path__  # `import tensorflow.python...` still finds TensorFlow's own submodules
        self.__spec__ = tf2.__spec__
        self.__version__ = tf2.__version__

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(self.__wrapped__.compat.v1, name)
        except AttributeError:
            return getattr(self.__wrapped__, name)


@contextmanager
def tf1_mode(tf2: types.ModuleType) -> Iterator[None]:
    """Graph mode for the rest of the process (TF cannot switch back reliably), and the TF1 view of
    `import tensorflow` until the block ends."""
    logger, level = tf2.get_logger(), tf2.get_logger().level
    logger.setLevel("ERROR")  # our switch, not the submission's: no deprecation warning for it
    try:
        tf2.compat.v1.disable_v2_behavior()
    finally:
        logger.setLevel(level)
    previous = sys.modules["tensorflow"]
    sys.modules["tensorflow"] = TF1View(tf2)
    try:
        yield
    finally:
        sys.modules["tensorflow"] = previous
