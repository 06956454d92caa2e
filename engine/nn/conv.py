"""Convolution layers with PyTorch's constructor arguments and initializations."""
import numpy as np

from ..arguments import count, counts
from ..errors import ArgumentError
from . import functional as F
from . import init
from .module import Module, Parameter
from .layers import _torch_default_init

__all__ = ["Conv2d", "ConvTranspose2d"]


def _conv_arguments(layer, in_channels, out_channels, kernel_size, stride, padding, dilation,
                    groups):
    """The layer's kernel size as a pair, after checking every size it was given."""
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("groups", groups)):
        count(layer, name, value)
    if in_channels % groups or out_channels % groups:
        raise ArgumentError(f"{layer}: channels ({in_channels}, {out_channels}) must be "
                            f"divisible by groups={groups}")
    counts(layer, "stride", stride)
    counts(layer, "padding", padding, minimum=0)
    counts(layer, "dilation", dilation)
    return counts(layer, "kernel_size", kernel_size)


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, dtype=np.float32):
        super().__init__()
        kernel_size = _conv_arguments("Conv2d", in_channels, out_channels, kernel_size, stride,
                                      padding, dilation, groups)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.dilation, self.groups = padding, dilation, groups
        self.weight = Parameter(np.empty((out_channels, in_channels // groups) + self.kernel_size,
                                         dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        _torch_default_init(self.weight, self.bias, init.fans(self.weight)[0])

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
               f"stride={self.stride}, padding={self.padding}" + \
               ("" if self.bias is not None else ", bias=False")


class ConvTranspose2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, dtype=np.float32):
        super().__init__()
        kernel_size = _conv_arguments("ConvTranspose2d", in_channels, out_channels, kernel_size,
                                      stride, padding, dilation, groups)
        counts("ConvTranspose2d", "output_padding", output_padding, minimum=0)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.output_padding, self.groups, self.dilation = output_padding, groups, dilation
        self.weight = Parameter(np.empty((in_channels, out_channels // groups) + self.kernel_size,
                                         dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        # torch computes the fan from dimension 1 of the (Cin, Cout/groups, kH, kW) weight
        _torch_default_init(self.weight, self.bias, init.fans(self.weight)[0])

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
               f"stride={self.stride}"
