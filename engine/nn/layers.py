"""Layers with PyTorch's names, arguments and default initializations."""
import math

import numpy as np

from ..arguments import count, counts, number
from ..errors import ArgumentError
from . import functional as F
from . import init
from .module import Module, Parameter


def _torch_default_init(weight, bias, fan_in):
    """torch's reset_parameters for Linear and Conv: kaiming_uniform_(a=sqrt(5)) on the weight,
    i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        self.in_features = count("Linear", "in_features", in_features)
        self.out_features = count("Linear", "out_features", out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        self.bias = Parameter(np.empty(out_features, dtype)) if bias else None
        _torch_default_init(self.weight, self.bias, in_features)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"


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


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ArgumentError("Upsample: give exactly one of size and scale_factor")
        for factor in (scale_factor if isinstance(scale_factor, (tuple, list)) else
                       () if scale_factor is None else (scale_factor,)):
            number("Upsample", "scale_factor", factor, low_open=True)
        if size is not None:
            counts("Upsample", "size", size)
        self.size, self.scale_factor = size, scale_factor
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = number("Dropout", "dropout probability", p, high=1.0)

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Sequential(Module):
    """Modules applied in order; indexable and iterable like a list."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
