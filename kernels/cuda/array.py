"""Moving arrays between the host and the device, and indexing with host index arrays; the
layout primitives come from kernels/layout.py."""
import numpy as np

from .device import to_device, xp

__all__ = ["from_host", "to_host", "is_writeable", "buffer_id", "getitem", "getitem_backward"]


def from_host(a):
    return to_device(np.asarray(a))


def to_host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def is_writeable(a):
    """False for broadcast views (a stride of 0), which must be copied before keeping."""
    flags = getattr(a, "flags", None)
    writeable = getattr(flags, "writeable", True)
    return writeable and all(s != 0 for s, n in zip(a.strides, a.shape) if n > 1)


def buffer_id(a):
    while getattr(a, "base", None) is not None and hasattr(a.base, "shape"):
        a = a.base
    return id(a)


def _device_index(index):
    """Index arrays moved to the device (slices and ints stay as they are)."""
    if isinstance(index, tuple):
        return tuple(_device_index(i) for i in index)
    return to_device(index) if isinstance(index, np.ndarray) else index


def getitem(x, index):
    return x[_device_index(index)]


def getitem_backward(gy, index, shape):
    """Scatter-add gy into zeros of `shape`; repeated integer indices add up."""
    g = xp.zeros(shape, gy.dtype)
    if xp is np:
        np.add.at(g, index, gy)
    else:
        import cupyx
        cupyx.scatter_add(g, _device_index(index), gy)
    return g
