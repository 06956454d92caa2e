"""Max and average pooling through the C++ im2col: each (n, c) plane is a one-channel image."""
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
    """The max of each window (padding never wins) and its flat position within the window."""
    (ph, pw), (n, c, h, w) = padding, x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf) \
        if ph or pw else x
    cols = _cpp.im2col(_planes(padded), *kernel, *stride, 0, 0, 1, 1)
    argmax = cols.argmax(axis=1)  # the first of tied maxima, as torch
    y = np.take_along_axis(cols, argmax[:, None], axis=1)
    return y.reshape((n, c) + _out_hw(x.shape, kernel, stride, padding)), argmax


def max_pool2d_backward(gy, argmax, x_shape, kernel, stride, padding):
    (ph, pw), (n, c, h, w) = padding, x_shape
    kh, kw = kernel
    gcols = np.zeros((n * c, kh * kw, argmax.shape[1]), gy.dtype)
    np.put_along_axis(gcols, argmax[:, None], gy.reshape(n * c, 1, -1), axis=1)
    gx = _cpp.col2im(gcols, n * c, 1, h + 2 * ph, w + 2 * pw, kh, kw, *stride, 0, 0, 1, 1)
    return np.ascontiguousarray(gx.reshape(n, c, h + 2 * ph, w + 2 * pw)[:, :, ph:ph + h, pw:pw + w])


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
