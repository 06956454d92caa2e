"""Pooling in C++: max pooling directly, average pooling through im2col with each (n, c) plane
as a one-channel image."""
import numpy as np

from ..geometry import window_output_size
from . import _cpp

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]


def _planes(x):
    n, c, h, w = x.shape
    return np.ascontiguousarray(x).reshape(n * c, 1, h, w)


def _out_hw(shape, kernel, stride, padding):
    return tuple(window_output_size(s, k, st, p) for s, k, st, p in zip(shape[2:], kernel, stride, padding))


def max_pool2d_forward(x, kernel, stride, padding):
    """The max of each window (padding never wins) and its flat index in the input plane."""
    return _cpp.max_pool2d_forward(np.ascontiguousarray(x), *kernel, *stride, *padding)


def max_pool2d_backward(gy, argmax, x_shape, kernel, stride, padding):
    return _cpp.max_pool2d_backward(np.ascontiguousarray(gy), argmax, *x_shape[2:])


def _divisor(x_shape, kernel, stride, padding, count_include_pad, dtype):
    """Per-window divisor: the window's size, or its count of real (unpadded) elements."""
    if count_include_pad:
        return np.asarray(kernel[0] * kernel[1], dtype)
    ones = np.ones((1, 1) + tuple(x_shape[2:]), dtype)
    return _cpp.im2col(ones, *kernel, *stride, *padding, 1, 1).sum(axis=1)


def avg_pool2d_forward(x, kernel, stride, padding, count_include_pad):
    n, c = x.shape[:2]
    cols = _cpp.im2col(_planes(x), *kernel, *stride, *padding, 1, 1)
    y = cols.sum(axis=1) / _divisor(x.shape, kernel, stride, padding, count_include_pad, x.dtype)
    return y.reshape((n, c) + _out_hw(x.shape, kernel, stride, padding))


def avg_pool2d_backward(gy, x_shape, kernel, stride, padding, count_include_pad):
    n, c, h, w = x_shape
    g = gy.reshape(n * c, 1, -1) / _divisor(x_shape, kernel, stride, padding, count_include_pad,
                                             gy.dtype)
    gcols = np.ascontiguousarray(np.broadcast_to(g, (n * c, kernel[0] * kernel[1], g.shape[2])))
    gx = _cpp.col2im(gcols, n * c, 1, h, w, *kernel, *stride, *padding, 1, 1)
    return gx.reshape(x_shape)
