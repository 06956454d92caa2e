"""Pooling in C++ (kernels.cpu._cpp): max and average pooling over NCHW planes, each window
clipped to the input, so that a kernel far larger than the input costs no more than the input."""
import numpy as np

from . import _cpp
from .conv import native

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]


def max_pool2d_forward(x, kernel, stride, padding):
    """The max of each window (padding never wins) and its flat index in the input plane."""
    return _cpp.max_pool2d_forward(native(x), *kernel, *stride, *padding)


def max_pool2d_backward(gy, argmax, x_shape, kernel, stride, padding):
    return _cpp.max_pool2d_backward(native(gy), native(argmax), *x_shape[2:])


def avg_pool2d_forward(x, kernel, stride, padding, count_include_pad):
    return _cpp.avg_pool2d_forward(native(x), *kernel, *stride, *padding, bool(count_include_pad))


def avg_pool2d_backward(gy, x_shape, kernel, stride, padding, count_include_pad):
    return _cpp.avg_pool2d_backward(native(gy), *x_shape[2:], *kernel, *stride, *padding,
                                    bool(count_include_pad))
