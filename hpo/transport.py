"""What hpbandster's transport (Pyro4) needs to work here.

With hpbandster 0.7.4, ConfigSpace 1.x and numpy 2, `BOHB.run()` hangs silently: Pyro4's default serpent
serializer cannot send the numpy scalars ConfigSpace samples. Pyro4 is switched to pickle, and objectives are
handed plain Python values only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

LOOPBACK = "127.0.0.1"


def configure_pyro() -> None:
    """Make Pyro4 use pickle, which carries numpy scalars that serpent cannot (call before any Pyro4 object)."""
    import Pyro4

    Pyro4.config.SERIALIZER = "pickle"
    Pyro4.config.SERIALIZERS_ACCEPTED = {"pickle"}


def to_plain(value: Any) -> Any:
    """Numpy scalars/arrays inside dicts and lists -> plain Python (configs sampled by ConfigSpace carry numpy)."""
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
