"""Pooling as torch.nn.functional has it: max and average pooling in 1, 2 and 3 dimensions with
all their options, max unpooling, adaptive max pooling and power-average (LP) pooling.

Max and average pooling run on the kernels of (N, C, D, H, W) volumes, a 1-D or 2-D input as a
unit-axis view (torch's flat indices are the same in the view). max_unpool is a scatter,
adaptive max pooling a gather of its windows and a max, LP pooling an average pooling of x ** p:
their gradients, to any order, come free.
"""
import math
import numbers

import numpy as np

from kernels.geometry import as_volume, pool_output_size

from .. import backend
from ..autograd import Function
from ..errors import IndexOutOfRangeError, ShapeError
from ..tensor import Tensor
from . import _checks
from ._checks import (native_byte_order, require_float, require_float32_or_64, require_nonempty,
                      require_output, require_tensor)
from .activation import relu
from .conv import LAYOUTS, _check_padded, _empty_batch, sizes
from .index import Scatter
from .reduce import max as max_along
from .shape import getitem, permute, reshape


class MaxPool(Function):
    """Max pooling of x (N, C, D, H, W), given what the kernel made of it, (y, argmax): the
    indices are a result too. The gradient goes to each window's arg-max."""
    name = "max_pool"

    def forward(self, x, y, argmax, kernel, stride, padding, dilation):
        self.save(argmax, tuple(x.shape), kernel, stride, padding, dilation)
        return y

    def backward(self, gy):
        return (self.kernels.max_pool3d_backward(gy, *self.saved),) + (None,) * 6


class MaxPoolBackward(Function):
    """max pooling's backward (gy sent to each window's arg-max) as an op of its own, so that
    it can be differentiated again: its own backward gathers from the arg-max."""
    name = "max_pool_backward"

    def forward(self, gy, argmax, x_shape, kernel, stride, padding, dilation):
        k = self.kernels
        self.out_shape, n, c = tuple(argmax.shape), *x_shape[:2]
        self.plane = (n, c, math.prod(x_shape[2:]))
        self.argmax = k.reshape(argmax, (n, c, math.prod(self.out_shape[2:])))
        return k.max_pool3d_backward(gy, argmax, x_shape, kernel, stride, padding, dilation)

    def backward(self, gg):
        k = self.kernels
        picked = k.take_along_axis(k.reshape(gg, self.plane), self.argmax, 2)
        return (k.reshape(picked, self.out_shape),) + (None,) * 6


class AvgPool(Function):
    name = "avg_pool"

    def forward(self, x, kernel, stride, padding, out_size, count_include_pad, divisor_override):
        self.x_shape = tuple(x.shape)
        self.args = (kernel, stride, padding, count_include_pad, divisor_override)
        return self.kernels.avg_pool3d_forward(x, kernel, stride, padding, out_size,
                                               count_include_pad, divisor_override)

    def backward(self, gy):
        return (self.kernels.avg_pool3d_backward(gy, self.x_shape, *self.args),) + (None,) * 6


class AvgPoolBackward(Function):
    """average pooling's backward as an op of its own; linear, its backward is the pooling."""
    name = "avg_pool_backward"

    def forward(self, gy, x_shape, kernel, stride, padding, count_include_pad, divisor_override):
        self.out_size = tuple(gy.shape[2:])
        self.args = (kernel, stride, padding, count_include_pad, divisor_override)
        return self.kernels.avg_pool3d_backward(gy, x_shape, *self.args)

    def backward(self, gg):
        kernel, stride, padding, include_pad, divisor = self.args
        return (self.kernels.avg_pool3d_forward(gg, kernel, stride, padding, self.out_size,
                                                include_pad, divisor),) + (None,) * 6


TWINS = {"max_pool3d_backward": MaxPoolBackward.apply, "avg_pool3d_forward": AvgPool.apply,
         "avg_pool3d_backward": AvgPoolBackward.apply}


# --- argument handling ---------------------------------------------------------------------------
def _batched(op, dims, x, what="input"):
    """x (N, C, *spatial), a (C, *spatial) input given a batch of one as torch does, and whether
    it was unbatched."""
    require_tensor(op, what, x)
    if x.ndim not in (dims + 1, dims + 2):
        unbatched = LAYOUTS[dims].replace("N, ", "")
        raise ShapeError(f"{op}: expected {what} {LAYOUTS[dims]} or {unbatched}, got shape "
                         f"{x.shape}")
    unbatched = x.ndim == dims + 1
    return (reshape(x, (1,) + x.shape) if unbatched else x), unbatched


def _volume(t):
    """(N, C, *spatial) viewed as (N, C, D, H, W)."""
    return reshape(t, t.shape[:2] + as_volume(t.shape[2:]))


def _triples(kernel, stride, padding, dilation, out):
    """The pooling's arguments as (d, h, w) triples of the volume view."""
    return (as_volume(kernel), as_volume(stride), as_volume(padding, 0), as_volume(dilation),
            as_volume(out))


def _geometry(op, dims, x, kernel_size, stride, padding, dilation, ceil_mode):
    """x batched and in native byte order, whether it was unbatched, the (d, h, w) triples of
    kernel, stride, padding, dilation and output size, and the output shape, all checked."""
    x, unbatched = _batched(op, dims, x)
    require_float32_or_64(op, "input", x.dtype)
    x = native_byte_order(x)  # converted (a differentiable cast), not refused
    require_nonempty(op, x, LAYOUTS[dims])
    kernel = sizes(op, "kernel_size", kernel_size, 1, dims)
    # stride=None (or torch's []) means the kernel size
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and not stride)
    stride = kernel if no_stride else sizes(op, "stride", stride, 1, dims)
    padding = sizes(op, "padding", padding, 0, dims)
    dilation = sizes(op, "dilation", dilation, 1, dims)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ShapeError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    size = x.shape[2:]
    _check_padded(op, size, padding)
    out = tuple(pool_output_size(*a, bool(ceil_mode))
                for a in zip(size, kernel, stride, padding, dilation))
    if min(out) < 1:
        dilated = "" if max(dilation) == 1 else f" (dilation {dilation})"
        raise ShapeError(f"{op}: kernel {kernel}{dilated} does not fit the input {size} padded "
                         f"by {padding}")
    # The kernels loop over whole windows (the CUDA ones do): a kernel absurdly larger than the
    # input would run for hours.
    steps = math.prod(out) * math.prod(kernel)
    if steps > _checks.MAX_WINDOW_STEPS:
        raise ShapeError(f"{op}: kernel {kernel} over the input {size} padded by {padding} "
                         f"visits {steps} window positions per plane; expected at most "
                         f"{_checks.MAX_WINDOW_STEPS}")
    out_shape = require_output(op, x.shape[:2] + out, input_size=x.numel())
    return x, unbatched, _triples(kernel, stride, padding, dilation, out), out_shape


def _require_real_taps(op, size, kernel, stride, padding, dilation):
    """Every dilated window must hold an input element (torch would give -inf there). Only
    a window starting in the left padding can miss: one starting inside holds its start."""
    for n, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        start = np.arange(-(-p // s)) * s - p
        first = -(start // d)  # the first tap at or after 0
        if np.any((first >= k) | (start + first * d >= n)):
            raise ShapeError(f"{op}: a window of kernel {kernel} dilated by {dilation} holds only "
                             f"padding over the input {size} padded by {padding}")


def _unbatch(t, unbatched):
    return reshape(t, t.shape[1:]) if unbatched else t


# --- max and average pooling --------------------------------------------------------------------
def _max_pool(dims):
    op = f"max_pool{dims}d"

    def max_pool(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 return_indices=False):
        x, unbatched, args, out_shape = _geometry(op, dims, input, kernel_size, stride, padding,
                                                  dilation, ceil_mode)
        kernel, stride, padding, dilation, out = args
        _require_real_taps(op, (1,) * (3 - dims) + x.shape[2:], kernel, stride, padding, dilation)
        k = backend.table(x.device)
        if x.shape[0] == 0:  # an empty batch gives an empty result, as in torch
            y, argmax = _empty_batch(x, out_shape), k.zeros(out_shape, np.int64)
        else:
            volume = _volume(x)
            pooled, argmax = k.max_pool3d_forward(volume.data, *args)
            y = reshape(MaxPool.apply(volume, pooled, argmax, kernel, stride, padding, dilation),
                        out_shape)
        y = _unbatch(y, unbatched)
        if not return_indices:
            return y
        return y, Tensor._from_array(k.reshape(argmax, y.shape), x.device)
    max_pool.__name__ = max_pool.__qualname__ = op
    max_pool.__doc__ = (f"torch's F.{op}: the max of each (dilated) window of the last {dims} "
                        "dims; with return_indices also its flat index in the input plane.")
    return max_pool


def _avg_pool(dims):
    op = f"avg_pool{dims}d"

    def avg_pool(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        x, unbatched, args, out_shape = _geometry(op, dims, input, kernel_size, stride, padding,
                                                  1, ceil_mode)
        kernel, stride, padding, _, out = args
        if divisor_override is not None and (not isinstance(divisor_override, numbers.Integral)
                                             or isinstance(divisor_override, bool)
                                             or divisor_override == 0
                                             or abs(divisor_override) > _checks.MAX_SIZE):
            raise ShapeError(f"{op}: divisor_override must be a non-zero int, got "
                             f"{divisor_override!r}")
        divisor = None if divisor_override is None else int(divisor_override)
        if x.shape[0] == 0:
            return _unbatch(_empty_batch(x, out_shape), unbatched)
        y = AvgPool.apply(_volume(x), kernel, stride, padding, out, bool(count_include_pad),
                          divisor)
        return _unbatch(reshape(y, out_shape), unbatched)
    avg_pool.__name__ = avg_pool.__qualname__ = op
    avg_pool.__doc__ = (f"torch's F.{op}: the mean of each window of the last {dims} dims, over "
                        "torch's divisor (see avg_pool3d_forward in kernels/contract.py).")
    return avg_pool


max_pool1d, max_pool2d, max_pool3d = (_max_pool(d) for d in (1, 2, 3))
_avg_pool1d, avg_pool2d, avg_pool3d = (_avg_pool(d) for d in (1, 2, 3))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """torch's F.avg_pool1d: the mean of each window of the last dim (torch's has no
    divisor_override)."""
    return _avg_pool1d(input, kernel_size, stride, padding, ceil_mode, count_include_pad)


# --- unpooling, adaptive and power-average pooling -----------------------------------------------
def _max_unpool(dims):
    op = f"max_unpool{dims}d"

    def max_unpool(input, indices, kernel_size, stride=None, padding=0, output_size=None):
        x, unbatched = _batched(op, dims, input)
        require_tensor(op, "indices", indices)
        if indices.dtype != np.int64:
            raise ShapeError(f"{op}: indices must be int64, got {indices.dtype}")
        if tuple(indices.shape) != tuple(input.shape):
            raise ShapeError(f"{op}: indices has shape {indices.shape} but input has "
                             f"{input.shape}; expected the same")
        kernel = sizes(op, "kernel_size", kernel_size, 1, dims)
        stride = kernel if stride is None else sizes(op, "stride", stride, 1, dims)
        padding = sizes(op, "padding", padding, 0, dims)
        default = tuple((n - 1) * s - 2 * p + k
                        for n, k, s, p in zip(x.shape[2:], kernel, stride, padding))
        out = default if output_size is None else _unpool_size(op, output_size, default, stride)
        if min(out) < 1:
            raise ShapeError(f"{op}: the output size {out} has an extent below 1")
        out_shape = require_output(op, x.shape[:2] + out, input_size=x.numel())
        plane = math.prod(out)
        n, c = x.shape[:2]
        index = reshape(_batched(op, dims, indices, "indices")[0], (n, c, -1))
        low, high = (index.min().item(), index.max().item()) if index.numel() else (0, 0)
        if low < 0 or high >= plane:
            worst = low if low < 0 else high
            raise IndexOutOfRangeError(f"{op}: found an invalid max index {worst}; the output "
                                       f"planes {out} hold {plane} elements")
        k = backend.table(x.device)
        zeros = Tensor._from_array(k.zeros((n, c, plane), x.dtype), x.device)
        y = Scatter.apply(zeros, index, reshape(x, (n, c, -1)), 2, None)
        return _unbatch(reshape(y, out_shape), unbatched)
    max_unpool.__name__ = max_unpool.__qualname__ = op
    max_unpool.__doc__ = (f"torch's F.{op}: zeros of output_size (by default the size "
                          f"max_pool{dims}d pooled from), each input value at its index.")
    return max_unpool


def _unpool_size(op, output_size, default, stride):
    """torch's check of max_unpool's output_size (the last dims of a longer one): each extent
    strictly within a stride of the default."""
    dims = len(default)
    size = tuple(output_size)
    if len(size) == dims + 2:
        size = size[2:]
    if len(size) != dims or not all(isinstance(n, numbers.Integral) for n in size):
        raise ShapeError(f"{op}: output_size should be a sequence containing {dims} or {dims + 2}"
                         f" ints, got {output_size!r}")
    for d, (n, m, s) in enumerate(zip(size, default, stride)):
        if not m - s < n < m + s:
            raise ShapeError(f"{op}: invalid output_size {tuple(output_size)} (dim {d} must be "
                             f"between {m - s} and {m + s})")
    return tuple(int(n) for n in size)


def _adaptive_taps(n, out):
    """(out, width) input positions of torch's adaptive windows [floor(o n / out),
    ceil((o + 1) n / out)) along an axis of n; a shorter window repeats its last position
    (a repeat never changes a max, nor which element is the first maximum)."""
    o = np.arange(out)
    start, stop = o * n // out, -(-(o + 1) * n // out)
    width = int(np.max(stop - start))
    return np.minimum(start[:, None] + np.arange(width), stop[:, None] - 1)


def _adaptive_max_pool(dims):
    op = f"adaptive_max_pool{dims}d"

    def adaptive_max_pool(input, output_size, return_indices=False):
        x, unbatched = _batched(op, dims, input)
        require_float(op, x.dtype)
        require_nonempty(op, x, LAYOUTS[dims])
        given = (output_size,) * dims if isinstance(output_size, numbers.Integral) else \
            tuple(output_size) if isinstance(output_size, (tuple, list)) else ()
        if len(given) != dims:
            raise ShapeError(f"{op}: output_size must be an int or a tuple of {dims} ints or "
                             f"None, got {output_size!r}")
        out = tuple(n if m is None else sizes(op, "output_size", m, 1, 1)[0]
                    for n, m in zip(x.shape[2:], given))
        out_shape = require_output(op, x.shape[:2] + out, input_size=x.numel())
        taps = [_adaptive_taps(n, m) for n, m in zip(x.shape[2:], out)]
        # One index array per axis, shaped (1, .., out, width, .., 1): the gather is
        # (N, C, out_1, width_1, out_2, width_2, ...), then the widths go last.
        index = tuple(t.reshape((1,) * (2 * i) + t.shape + (1,) * (2 * (dims - i - 1)))
                      for i, t in enumerate(taps))
        windows = getitem(x, (slice(None), slice(None)) + index)
        order = (0, 1) + tuple(range(2, 2 + 2 * dims, 2)) + tuple(range(3, 3 + 2 * dims, 2))
        windows = reshape(permute(windows, order), out_shape + (-1,))
        y, which = max_along(windows, dim=-1)
        y = _unbatch(y, unbatched)
        if not return_indices:
            return y
        # each window element's flat index in the input plane, then the winner's
        strides = [math.prod(x.shape[3 + i:]) for i in range(dims)]
        flat = sum(i * s for i, s in zip(index, strides))
        flat = np.transpose(flat, [a - 2 for a in order[2:]]).reshape(out + (-1,))
        k = backend.table(x.device)
        picked = k.take_along_axis(k.broadcast_to(k.from_host(flat), windows.shape),
                                   k.reshape(which.data, out_shape + (1,)), len(out_shape))
        return y, Tensor._from_array(k.reshape(picked, y.shape), x.device)
    adaptive_max_pool.__name__ = adaptive_max_pool.__qualname__ = op
    adaptive_max_pool.__doc__ = (f"torch's F.{op}: the max over torch's adaptive windows of the "
                                 f"last {dims} dims; output_size may hold None (keep that size).")
    return adaptive_max_pool


def _lp_pool(dims):
    op = f"lp_pool{dims}d"
    avg_pool = {1: _avg_pool1d, 2: avg_pool2d, 3: avg_pool3d}[dims]

    def lp_pool(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        require_tensor(op, "input", input)
        kernel = sizes(op, "kernel_size", kernel_size, 1, dims)
        out = avg_pool(input ** norm_type, kernel, stride, 0, ceil_mode)
        # torch's formula: the sum is the mean times the whole kernel, also at clipped windows
        return (out.sign() * relu(out.abs()) * math.prod(kernel)) ** (1.0 / norm_type)
    lp_pool.__name__ = lp_pool.__qualname__ = op
    lp_pool.__doc__ = (f"torch's F.{op}: (the sum of x ** norm_type over each window) ** "
                       "(1 / norm_type), computed as torch does from an average pooling.")
    return lp_pool


max_unpool1d, max_unpool2d, max_unpool3d = (_max_unpool(d) for d in (1, 2, 3))
adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d = (_adaptive_max_pool(d)
                                                                  for d in (1, 2, 3))
lp_pool1d, lp_pool2d, lp_pool3d = (_lp_pool(d) for d in (1, 2, 3))

__all__ = []  # F.<name> only
METHODS = ()
FUNCTIONAL = tuple(f"{name}{d}d" for name in ("max_pool", "avg_pool", "max_unpool",
                                               "adaptive_max_pool", "lp_pool") for d in (1, 2, 3))
