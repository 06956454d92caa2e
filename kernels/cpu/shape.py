"""Shape kernels: views where numpy can, copies where it must."""
import numpy as np

__all__ = ["reshape", "transpose", "getitem", "getitem_backward", "concatenate", "split", "stack",
           "pad"]


def reshape(x, shape):
    return np.reshape(x, shape)


def transpose(x, axes):
    return np.transpose(x, axes)


def getitem(x, index):
    return x[index]


def getitem_backward(gy, index, shape):
    """Scatter-add gy into zeros of `shape`; repeated integer indices add up."""
    g = np.zeros(shape, gy.dtype)
    np.add.at(g, index, gy)
    return g


def concatenate(xs, axis):
    return np.concatenate(xs, axis=axis)


def split(x, sizes, axis):
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


def stack(xs, axis):
    return np.stack(xs, axis=axis)


def pad(x, widths):
    """Zero padding; widths holds a (before, after) pair for every axis."""
    return np.pad(x, widths)
