"""Convolution layers with PyTorch's constructor arguments, initializations and padding modes."""
import numbers

import numpy as np

from kernels.geometry import transposed_output_size

from ..arguments import count, counts
from ..errors import ArgumentError
from ..ops.conv import same_padding
from . import functional as F
from . import init
from .layers import _torch_default_init
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _counts(layer, what, value, dims, minimum=1):
    """An int or `dims` ints, each checked by count, as a tuple of `dims`."""
    if dims == 2:
        return counts(layer, what, value, minimum)
    values = (value,) * dims if isinstance(value, numbers.Integral) else value
    if not isinstance(values, (tuple, list)) or len(values) != dims:
        raise ArgumentError(f"{layer}: {what} must be an int or a tuple of {dims} ints, "
                            f"got {value!r}")
    return tuple(count(layer, what, v, minimum) for v in values)


def pad_widths(padding, kernel_size, dilation):
    """The F.pad widths (last axis first) of a convolution's padding: ints, 'valid' or 'same'."""
    if padding == "same":
        widths = same_padding(kernel_size, dilation)
    else:
        widths = [(p, p) for p in ((0,) * len(kernel_size) if padding == "valid" else padding)]
    return tuple(v for pair in reversed(widths) for v in pair)


class _ConvNd(Module):
    """What the convolution layers share: checked arguments, the weight and bias, torch's init."""
    dims = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias, padding_mode, dtype, output_padding=0):
        super().__init__()
        layer, dims = type(self).__name__, self.dims
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("groups", groups)):
            count(layer, name, value)
        if in_channels % groups or out_channels % groups:
            raise ArgumentError(f"{layer}: channels ({in_channels}, {out_channels}) must be "
                                f"divisible by groups={groups}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _counts(layer, "kernel_size", kernel_size, dims)
        self.stride = _counts(layer, "stride", stride, dims)
        self.dilation = _counts(layer, "dilation", dilation, dims)
        if isinstance(padding, str) and not self.transposed:
            if padding not in ("same", "valid"):
                raise ArgumentError(f"{layer}: Invalid padding string {padding!r}, should be one "
                                    "of {'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ArgumentError(f"{layer}: padding='same' is not supported for strided "
                                    f"convolutions, got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = _counts(layer, "padding", padding, dims, minimum=0)
        if padding_mode not in PADDING_MODES:
            raise ArgumentError(f"{layer}: padding_mode must be one of {list(PADDING_MODES)}, "
                                f"but got padding_mode={padding_mode!r}")
        if self.transposed and padding_mode != "zeros":
            raise ArgumentError(f'{layer}: Only "zeros" padding mode is supported, got '
                                f'{padding_mode!r}')
        self.padding_mode = padding_mode
        self.output_padding = _counts(layer, "output_padding", output_padding, dims, minimum=0)
        channels = (in_channels, out_channels // groups) if self.transposed else \
            (out_channels, in_channels // groups)
        self.weight = Parameter(np.empty(channels + self.kernel_size, dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        # torch's fan in is dimension 1 of the weight times the kernel, transposed or not
        _torch_default_init(self.weight, self.bias, init.fans(self.weight)[0])

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
            f"stride={self.stride}"
        for name, default in (("padding", 0), ("dilation", 1), ("output_padding", 0)):
            value = getattr(self, name)
            if value != (default,) * self.dims:
                s += f", {name}={value}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=np.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype)

    def forward(self, x):
        conv = getattr(F, f"conv{self.dims}d")
        if self.padding_mode == "zeros":
            return conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)
        # as torch: pad in the mode, then convolve without padding
        widths = pad_widths(self.padding, self.kernel_size, self.dilation)
        return conv(F.pad(x, widths, mode=self.padding_mode), self.weight, self.bias,
                    self.stride, 0, self.dilation, self.groups)


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 dtype=np.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, output_padding)

    def forward(self, x, output_size=None):
        """output_size (the spatial sizes, or the whole shape) picks the output padding among
        the sizes the stride allows, as torch."""
        output_padding = self.output_padding if output_size is None else \
            self._output_padding(x.shape, output_size)
        return getattr(F, f"conv_transpose{self.dims}d")(
            x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
            self.dilation)

    def _output_padding(self, shape, output_size):
        dims, layer = self.dims, type(self).__name__
        output_size = tuple(output_size)
        if len(output_size) == dims + 2:
            output_size = output_size[2:]
        if len(output_size) != dims or len(shape) != dims + 2:
            raise ArgumentError(f"{layer}: for input of shape {tuple(shape)}, output_size must "
                                f"have {dims} or {dims + 2} elements (got {len(output_size)})")
        smallest = tuple(transposed_output_size(n, k, s, p, 0, d) for n, k, s, p, d in
                         zip(shape[2:], self.kernel_size, self.stride, self.padding,
                             self.dilation))
        largest = tuple(m + s - 1 for m, s in zip(smallest, self.stride))
        if any(not lo <= n <= hi for n, lo, hi in zip(output_size, smallest, largest)):
            raise ArgumentError(f"{layer}: requested an output size of {output_size}, but valid "
                                f"sizes range from {smallest} to {largest} (for an input of "
                                f"{tuple(shape[2:])})")
        return tuple(n - lo for n, lo in zip(output_size, smallest))


class Conv1d(_Conv):
    dims = 1


class Conv2d(_Conv):
    dims = 2


class Conv3d(_Conv):
    dims = 3


class ConvTranspose1d(_ConvTranspose):
    dims = 1


class ConvTranspose2d(_ConvTranspose):
    dims = 2


class ConvTranspose3d(_ConvTranspose):
    dims = 3
