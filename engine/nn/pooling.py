"""Pooling layers with PyTorch's constructor arguments, attributes and reprs."""
import numbers

from ..arguments import count
from ..errors import ArgumentError
from . import functional as F
from .module import Module

__all__ = [f"{name}{d}d" for name in ("MaxPool", "AvgPool", "MaxUnpool", "AdaptiveMaxPool")
           for d in (1, 2, 3)] + ["LPPool1d", "LPPool2d", "LPPool3d"]


def _check(layer, what, value, dims, minimum=1):
    """An int or `dims` ints, each checked by arguments.count (the layer fails when built, not
    when first called)."""
    values = (value,) * dims if isinstance(value, numbers.Integral) else value
    if not isinstance(values, (tuple, list)) or len(values) != dims:
        raise ArgumentError(f"{layer}: {what} must be an int or a tuple of {dims} ints, got "
                            f"{value!r}")
    return tuple(count(layer, what, v, minimum) for v in values)


def _check_window(layer, dims, kernel_size, stride, padding, dilation=1):
    kernel = _check(layer, "kernel_size", kernel_size, dims)
    if stride is not None:
        _check(layer, "stride", stride, dims)
    _check(layer, "dilation", dilation, dims)
    if any(2 * p > k for p, k in zip(_check(layer, "padding", padding, dims, 0), kernel)):
        raise ArgumentError(f"{layer}: padding {padding} must be at most half the kernel "
                            f"size {kernel_size}")


def _as_tuple(value, dims):
    """torch's _single/_pair/_triple."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims


class _MaxPoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        _check_window(type(self).__name__, self.dims, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return getattr(F, f"max_pool{self.dims}d")(input, self.kernel_size, self.stride,
                                                    self.padding, self.dilation, self.ceil_mode,
                                                    self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    dims = 1


class MaxPool2d(_MaxPoolNd):
    dims = 2


class MaxPool3d(_MaxPoolNd):
    dims = 3


class _AvgPoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        _check_window(type(self).__name__, self.dims, kernel_size, stride, padding)
        if divisor_override is not None and (not isinstance(divisor_override, numbers.Integral)
                                             or divisor_override == 0):
            raise ArgumentError(f"{type(self).__name__}: divisor_override must be a non-zero "
                                f"int or None, got {divisor_override!r}")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return getattr(F, f"avg_pool{self.dims}d")(input, self.kernel_size, self.stride,
                                                    self.padding, self.ceil_mode,
                                                    self.count_include_pad,
                                                    self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    dims = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # torch keeps the 1-D layer's sizes as 1-tuples
        self.kernel_size, self.stride, self.padding = (
            _as_tuple(v, 1) for v in (self.kernel_size, self.stride, self.padding))

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    dims = 2


class AvgPool3d(_AvgPoolNd):
    dims = 3


class _MaxUnpoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        _check_window(type(self).__name__, self.dims, kernel_size, stride, padding)
        self.kernel_size = _as_tuple(kernel_size, self.dims)
        self.stride = _as_tuple(kernel_size if stride is None else stride, self.dims)
        self.padding = _as_tuple(padding, self.dims)

    def forward(self, input, indices, output_size=None):
        return getattr(F, f"max_unpool{self.dims}d")(input, indices, self.kernel_size,
                                                      self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    dims = 1


class MaxUnpool2d(_MaxUnpoolNd):
    dims = 2


class MaxUnpool3d(_MaxUnpoolNd):
    dims = 3


class _AdaptiveMaxPoolNd(Module):
    dims = 2

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return getattr(F, f"adaptive_max_pool{self.dims}d")(input, self.output_size,
                                                             self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    dims = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    dims = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    dims = 3


class _LPPoolNd(Module):
    dims = 2

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        _check_window(type(self).__name__, self.dims, kernel_size, stride, 0)
        self.norm_type, self.kernel_size, self.stride = norm_type, kernel_size, stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return getattr(F, f"lp_pool{self.dims}d")(input, float(self.norm_type), self.kernel_size,
                                                   self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    dims = 1


class LPPool2d(_LPPoolNd):
    dims = 2


class LPPool3d(_LPPoolNd):
    dims = 3
