"""Reductions over axes (axis: None, an int or a tuple of ints, already normalized)."""
import numpy as np

__all__ = ["sum", "max", "max_backward", "argmax", "sum_to_shape", "broadcast_to"]


def sum(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


def max(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


def max_backward(x, y, gy, axis):
    """Share gy among the maxima (y and gy with kept dims); ties split it evenly, as torch.amax."""
    mask = x == y
    return mask * (gy / np.sum(mask, axis=axis, keepdims=True))


def argmax(x, axis):
    return np.argmax(x, axis=axis)


def sum_to_shape(g, shape):
    """Sum a broadcast gradient back to `shape`: the leading dims, then the dims of size 1."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    return g.reshape(shape)


def broadcast_to(x, shape):
    return np.broadcast_to(x, shape)
