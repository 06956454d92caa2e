"""Moving arrays between the host and the device, allocation and casts."""
import numpy as np

from .device import xp

__all__ = ["from_host", "to_host", "zeros", "astype", "copy", "is_writeable", "buffer_id"]


def from_host(a):
    return xp.asarray(np.asarray(a))


def to_host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def zeros(shape, dtype):
    return xp.zeros(shape, dtype)


def astype(a, dtype):
    return a.astype(dtype, copy=False)


def copy(a):
    return xp.array(a, copy=True, order="C")


def is_writeable(a):
    """False for broadcast views (a stride of 0), which must be copied before keeping."""
    flags = getattr(a, "flags", None)
    writeable = getattr(flags, "writeable", True)
    return writeable and all(s != 0 for s, n in zip(a.strides, a.shape) if n > 1)


def buffer_id(a):
    while getattr(a, "base", None) is not None and hasattr(a.base, "shape"):
        a = a.base
    return id(a)
