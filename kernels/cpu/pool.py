"""Pooling in C++ (kernels.cpu._cpp): max and average pooling over (N, C, D, H, W) volumes, each
window clipped to the input, so that a kernel far larger than the input costs no more than the
input."""
from . import _cpp
from .conv import native

__all__ = ["max_pool3d_forward", "max_pool3d_backward", "avg_pool3d_forward", "avg_pool3d_backward"]


def max_pool3d_forward(x, kernel, stride, padding, dilation, out_size):
    """The max of each window (padding never wins) and its flat index in the input volume."""
    return _cpp.max_pool3d_forward(native(x), kernel, stride, padding, dilation, out_size)


def max_pool3d_backward(gy, argmax, x_shape, kernel, stride, padding, dilation):
    return _cpp.max_pool3d_backward(native(gy), native(argmax), x_shape[2:])


def avg_pool3d_forward(x, kernel, stride, padding, out_size, count_include_pad, divisor_override):
    return _cpp.avg_pool3d_forward(native(x), kernel, stride, padding, out_size,
                                   bool(count_include_pad), divisor_override or 0)


def avg_pool3d_backward(gy, x_shape, kernel, stride, padding, count_include_pad, divisor_override):
    return _cpp.avg_pool3d_backward(native(gy), x_shape[2:], kernel, stride, padding,
                                    bool(count_include_pad), divisor_override or 0)
