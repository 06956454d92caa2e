"""Moving arrays between host and device, allocation and casts (the host is the device here)."""
import numpy as np

__all__ = ["from_host", "to_host", "zeros", "astype", "copy", "is_writeable", "buffer_id"]


def from_host(a):
    return np.asarray(a)


def to_host(a):
    return a


def zeros(shape, dtype):
    return np.zeros(shape, dtype)


def astype(a, dtype):
    return a.astype(dtype, copy=False)


def copy(a):
    return np.array(a, copy=True, order="C")


def is_writeable(a):
    """False for read-only views such as broadcasts, which must be copied before keeping."""
    return a.flags.writeable


def buffer_id(a):
    """Identity of the memory a (a view, perhaps) lives in: the array that owns it."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return id(a)
