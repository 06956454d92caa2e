"""Pooling layers with PyTorch's constructor arguments."""
from ..arguments import counts
from ..errors import ArgumentError
from . import functional as F
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d"]


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        layer = type(self).__name__
        kernel = counts(layer, "kernel_size", kernel_size)
        if stride is not None:
            counts(layer, "stride", stride)
        if any(2 * p > k for p, k in zip(counts(layer, "padding", padding, minimum=0), kernel)):
            raise ArgumentError(f"{layer}: padding {padding} must be at most half the kernel "
                                f"size {kernel_size}")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)
