"""Max and average pooling (PyTorch semantics: stride defaults to the kernel size)."""
from kernels.geometry import window_output_size

from ..autograd import Function
from ..errors import ShapeError
from ._checks import require_float
from .conv import pair


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


def _pool_args(op, x, kernel_size, stride, padding):
    require_float(op, x.dtype)
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input (N, C, H, W), got shape {x.shape}")
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ShapeError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    out = [window_output_size(*a) for a in zip(x.shape[2:], kernel, stride, padding)]
    if min(out) < 1:
        raise ShapeError(f"{op}: kernel {kernel} does not fit the input {x.shape[2:]} "
                         f"padded by {padding}")
    return kernel, stride, padding


def max_pool2d(x, kernel_size, stride=None, padding=0):
    return MaxPool2d.apply(x, *_pool_args("max_pool2d", x, kernel_size, stride, padding))


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    return AvgPool2d.apply(x, *_pool_args("avg_pool2d", x, kernel_size, stride, padding),
                           count_include_pad)
