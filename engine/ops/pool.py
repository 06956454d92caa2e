"""Max and average pooling (PyTorch semantics: stride defaults to the kernel size)."""
import numpy as np

from kernels.geometry import window_output_size

from ..autograd import Function
from ..errors import ShapeError
from . import _checks
from ._checks import (native_byte_order, require_float32_or_64, require_nonempty, require_output,
                      require_tensor)
from .conv import _check_padded, _empty_batch, pair


class MaxPool2d(Function):
    name = "max_pool2d"

    def forward(self, x, kernel, stride, padding):
        y, argmax = self.kernels.max_pool2d_forward(x, kernel, stride, padding)
        self.save(argmax, tuple(x.shape), kernel, stride, padding)
        return y

    def backward(self, gy):
        return (self.kernels.max_pool2d_backward(gy, *self.saved),) + (None,) * 3


class AvgPool2d(Function):
    name = "avg_pool2d"

    def forward(self, x, kernel, stride, padding, count_include_pad):
        self.save(tuple(x.shape), kernel, stride, padding, count_include_pad)
        return self.kernels.avg_pool2d_forward(x, kernel, stride, padding, count_include_pad)

    def backward(self, gy):
        return (self.kernels.avg_pool2d_backward(gy, *self.saved),) + (None,) * 4


class MaxPool2dBackward(Function):
    """max pooling's backward (gy sent to each window's arg-max) as an op of its own, so that
    it can be differentiated again: its own backward gathers from the arg-max."""
    name = "max_pool2d_backward"

    def forward(self, gy, argmax, x_shape, kernel, stride, padding):
        n, c = argmax.shape[:2]
        self.out_shape = tuple(argmax.shape)
        flat = self.kernels.to_host(argmax).reshape(n, c, -1)
        self.gather = (np.arange(n)[:, None, None], np.arange(c)[None, :, None], flat)
        return self.kernels.max_pool2d_backward(gy, argmax, x_shape, kernel, stride, padding)

    def backward(self, gg):
        k = self.kernels
        n, c = self.out_shape[:2]
        picked = k.getitem(k.reshape(gg, (n, c, -1)), self.gather)
        return (k.reshape(picked, self.out_shape),) + (None,) * 5


class AvgPool2dBackward(Function):
    """average pooling's backward as an op of its own; linear, its backward is the pooling."""
    name = "avg_pool2d_backward"

    def forward(self, gy, x_shape, kernel, stride, padding, count_include_pad):
        self.args = (kernel, stride, padding, count_include_pad)
        return self.kernels.avg_pool2d_backward(gy, x_shape, *self.args)

    def backward(self, gg):
        return (self.kernels.avg_pool2d_forward(gg, *self.args),) + (None,) * 5


def _pool_args(op, x, kernel_size, stride, padding):
    """x in native byte order, kernel, stride, padding and the output shape, all checked."""
    require_tensor(op, "input", x)
    require_float32_or_64(op, "input", x.dtype)
    x = native_byte_order(x)  # converted (a differentiable cast), not refused
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input (N, C, H, W), got shape {x.shape}")
    require_nonempty(op, x)
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ShapeError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    _check_padded(op, x.shape[2:], padding)
    out = tuple(window_output_size(*a) for a in zip(x.shape[2:], kernel, stride, padding))
    if min(out) < 1:
        raise ShapeError(f"{op}: kernel {kernel} does not fit the input {x.shape[2:]} "
                         f"padded by {padding}")
    # Kernels may loop over whole windows (the CUDA ones do): a kernel absurdly larger than
    # the input would run for hours.
    steps = out[0] * out[1] * kernel[0] * kernel[1]
    if steps > _checks.MAX_WINDOW_STEPS:
        raise ShapeError(f"{op}: kernel {kernel} over the input {x.shape[2:]} padded by {padding} "
                         f"visits {steps} window positions per plane; expected at most "
                         f"{_checks.MAX_WINDOW_STEPS}")
    out_shape = require_output(op, x.shape[:2] + out, input_size=x.numel())
    return x, (kernel, stride, padding), out_shape


def max_pool2d(x, kernel_size, stride=None, padding=0):
    x, args, out_shape = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    if x.shape[0] == 0:  # an empty batch gives an empty result, as in torch
        return _empty_batch(x, out_shape)
    return MaxPool2d.apply(x, *args)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    x, args, out_shape = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    if x.shape[0] == 0:
        return _empty_batch(x, out_shape)
    return AvgPool2d.apply(x, *args, bool(count_include_pad))


__all__ = []  # F.<name> only
METHODS = ()
FUNCTIONAL = ("max_pool2d", "avg_pool2d")
