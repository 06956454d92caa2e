"""Moving arrays between host and device (the host is the device here) and numpy's indexing;
the layout primitives come from kernels/layout.py."""
import numpy as np

__all__ = ["from_host", "to_host", "is_writeable", "buffer_id", "getitem", "getitem_backward"]


def from_host(a):
    return np.asarray(a)


def to_host(a):
    return a


def is_writeable(a):
    """False for read-only views such as broadcasts, which must be copied before keeping."""
    return a.flags.writeable


def buffer_id(a):
    """Identity of the memory a (a view, perhaps) lives in: the array that owns it."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return id(a)


def getitem(x, index):
    return x[index]


def getitem_backward(gy, index, shape):
    """Scatter-add gy into zeros of `shape`; repeated integer indices add up."""
    g = np.zeros(shape, gy.dtype)
    np.add.at(g, index, gy)
    return g
