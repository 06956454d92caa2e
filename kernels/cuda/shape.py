"""Shape kernels: views and copies done by the array library (memory work, no arithmetic)."""
import numpy as np

from .device import xp

__all__ = ["reshape", "transpose", "getitem", "getitem_backward", "concatenate", "split", "stack",
           "pad"]


def reshape(x, shape):
    return xp.reshape(x, shape)


def transpose(x, axes):
    return xp.transpose(x, axes)


def _device_index(index):
    """Index arrays moved to the device (slices and ints stay as they are)."""
    if isinstance(index, tuple):
        return tuple(_device_index(i) for i in index)
    return xp.asarray(index) if isinstance(index, np.ndarray) else index


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


def concatenate(xs, axis):
    return xp.concatenate(xs, axis=axis)


def split(x, sizes, axis):
    return xp.split(x, np.cumsum(sizes)[:-1].tolist(), axis=axis)


def stack(xs, axis):
    return xp.stack(xs, axis=axis)


def pad(x, widths):
    return xp.pad(x, widths)
