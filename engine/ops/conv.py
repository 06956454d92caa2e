"""conv2d and its adjoint conv_transpose2d; both run on the three conv2d kernels."""
import numbers

import numpy as np

from kernels.contract import Conv2dKernels
from kernels.geometry import transposed_output_size, window_output_size

from ..autograd import Function
from ..errors import DTypeError, ShapeError
from . import _checks
from ._checks import (native_byte_order, require_float32_or_64, require_nonempty, require_output,
                      require_tensor, size_pair)
from .shape import reshape


def pair(op, name, value, minimum):
    """An int or a pair of ints as a pair, each in [minimum, MAX_SIZE] (2**31 - 1)."""
    return size_pair(op, name, value, minimum)


def _conv_flops(big, w):
    """2 x multiply-adds of a convolution whose larger side (output for conv2d, input for the
    transposed one) is `big`: each of its elements sums over C/groups x kH x kW products."""
    return 2.0 * float(np.prod(big.shape)) * w.shape[1] * w.shape[2] * w.shape[3]


class Conv2d(Function):
    backward_cost = 2

    def forward(self, x, w, b, stride, padding, dilation, groups, variant):
        self.save(x, w)
        self.params = (stride, padding, dilation, groups)
        self.conv = self.kernel("conv2d", variant, x_shape=x.shape, w_shape=w.shape, stride=stride,
                                padding=padding, dilation=dilation, groups=groups)
        y = self.conv.forward(x, w, b, *self.params)
        self.flops = _conv_flops(y, w)
        return y

    def backward(self, gy):
        x, w = self.saved
        k, need, conv = self.kernels, self.needs_input_grad, self.kernel("conv2d", self.variant)
        gx = conv.backward_input(gy, w, x.shape, *self.params) if need[0] else None
        gw = conv.backward_weight(x, gy, w.shape, *self.params) if need[1] else None
        gb = k.sum(gy, (0, 2, 3), False) if need[2] else None
        return gx, gw, gb, None, None, None, None, None


class ConvTranspose2d(Function):
    """y = conv2d's input gradient for gy = x. When output padding reaches past the windows
    (output_padding >= stride, allowed when dilation > stride), the conv2d geometry does not
    hold; then the uncropped, unpadded output is computed and cut to [padding, padding + out)."""
    name = "conv_transpose2d"
    backward_cost = 2

    def forward(self, x, w, b, out_shape, stride, padding, dilation, groups, variant):
        k = self.kernels
        self.save(x, w)
        self.fits = all(window_output_size(n, kk, s, p, d) == m for n, m, kk, s, p, d in
                        zip(out_shape[2:], x.shape[2:], w.shape[2:], stride, padding, dilation))
        self.padding, self.out_hw = padding, out_shape[2:]
        self.params = (stride, padding if self.fits else (0, 0), dilation, groups)
        if not self.fits:
            self.full_hw = tuple(transposed_output_size(m, kk, s, 0, 0, d) for m, kk, s, d in
                                 zip(x.shape[2:], w.shape[2:], stride, dilation))
        conv_input = out_shape if self.fits else out_shape[:2] + self.full_hw
        self.conv = self.kernel("conv2d", variant, x_shape=conv_input, w_shape=w.shape,
                                stride=stride, padding=self.params[1], dilation=dilation,
                                groups=groups)
        y = self.conv.backward_input(x, w, conv_input, *self.params)
        if not self.fits:
            y = _window(k, y, self.padding, self.out_hw)
        self.flops = _conv_flops(x, w)
        return y if b is None else k.add(y, k.reshape(b, (1, -1, 1, 1)))

    def backward(self, gy):
        x, w = self.saved
        k, need = self.kernels, self.needs_input_grad
        gb = k.sum(gy, (0, 2, 3), False) if need[2] else None
        if not self.fits:  # the adjoint of cutting the window: place gy back in the full output
            gy = _window(k, gy, tuple(-p for p in self.padding), self.full_hw)
        conv = self.kernel("conv2d", self.variant)
        gx = conv.forward(gy, w, None, *self.params) if need[0] else None
        gw = conv.backward_weight(gy, x, w.shape, *self.params) if need[1] else None
        return (gx, gw, gb) + (None,) * 6


class Conv2dWeightGrad(Function):
    """conv2d's weight gradient as an op of its own, so that a backward through a convolution
    can be differentiated again: it is bilinear in x and gy, and each of its own gradients is
    one of the convolution's kernels."""
    name = "conv2d_weight_grad"
    backward_cost = 2

    def forward(self, x, gy, w_shape, stride, padding, dilation, groups, variant):
        self.save(x, gy)
        self.params = (stride, padding, dilation, groups)
        conv = self.kernel("conv2d", variant, x_shape=x.shape, w_shape=w_shape, stride=stride,
                           padding=padding, dilation=dilation, groups=groups)
        return conv.backward_weight(x, gy, w_shape, *self.params)

    def backward(self, gw_grad):
        x, gy = self.saved
        need, conv = self.needs_input_grad, self.kernel("conv2d", self.variant)
        gx = conv.backward_input(gy, gw_grad, x.shape, *self.params) if need[0] else None
        ggy = conv.forward(x, gw_grad, None, *self.params) if need[1] else None
        return (gx, ggy) + (None,) * 6


def differentiable_kernels(variant):
    """contract.Conv2dKernels made of ops: a backward that calls them records its graph."""
    def forward(x, w, b, stride, padding, dilation, groups):
        return Conv2d.apply(x, w, b, stride, padding, dilation, groups, variant)

    def backward_input(gy, w, x_shape, stride, padding, dilation, groups):
        return ConvTranspose2d.apply(gy, w, None, tuple(x_shape), stride, padding, dilation,
                                     groups, variant)

    def backward_weight(x, gy, w_shape, stride, padding, dilation, groups):
        return Conv2dWeightGrad.apply(x, gy, tuple(w_shape), stride, padding, dilation, groups,
                                      variant)
    return Conv2dKernels(forward, backward_input, backward_weight)


def _window(k, a, start, size):
    """a[..., start:start + size] on the last two axes, reading zeros outside a."""
    widths = [(0, 0), (0, 0)]
    index = [slice(None), slice(None)]
    for begin, n, have in zip(start, size, a.shape[2:]):
        before, after = max(0, -begin), max(0, begin + n - have)
        widths.append((before, after))
        index.append(slice(begin + before, begin + before + n))
    if any(w != (0, 0) for w in widths):
        a = k.pad(a, tuple(widths))
    return k.getitem(a, tuple(index))


def _prepare(op, x, w, b, groups, bias_size):
    """Checks what conv2d and conv_transpose2d share; returns x, w and b in native byte order."""
    require_tensor(op, "input", x)
    require_tensor(op, "weight", w)
    require_tensor(op, "bias", b, optional=True)
    for name, t in (("input", x), ("weight", w), ("bias", b)):
        if t is not None:
            require_float32_or_64(op, name, t.dtype)
    # Non-native byte order is converted (a differentiable cast), not refused.
    x, w = native_byte_order(x), native_byte_order(w)
    b = None if b is None else native_byte_order(b)
    if w.dtype != x.dtype or (b is not None and b.dtype != x.dtype):
        raise DTypeError(f"{op}: input, weight and bias must share a dtype, got {x.dtype}, "
                         f"{w.dtype}{'' if b is None else ', ' + str(b.dtype)}")
    if x.ndim != 4 or w.ndim != 4:
        raise ShapeError(f"{op}: expected input (N, C, H, W) and a 4-D weight, got shapes "
                         f"{x.shape} and {w.shape}")
    if (not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1
            or groups > _checks.MAX_SIZE):
        raise ShapeError(f"{op}: groups must be a positive int, got {groups!r}")
    require_nonempty(op, x)
    if 0 in w.shape:
        raise ShapeError(f"{op}: weight has shape {w.shape}; expected no dimension of size 0")
    size = bias_size(w.shape, int(groups))
    if b is not None and b.shape != (size,):
        raise ShapeError(f"{op}: bias has shape {b.shape}; expected ({size},)")
    return x, w, b


def _empty_batch(x, out_shape, *params):
    """The result of a convolution or pooling of an empty batch (N == 0): empty, as in torch.
    Made of differentiable ops so that x gets its (empty) gradient and the weight and bias get
    zeros, as torch gives them."""
    y = reshape(x, out_shape)
    for p in params:
        if p is not None:
            y = y + p.sum() * 0
    return y


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, variant=None):
    """2-D cross-correlation of x (N, C, H, W) with w (Cout, C/groups, kH, kW), as torch."""
    op = "conv2d"
    x, w, b = _prepare(op, x, w, b, groups, lambda shape, groups: shape[0])
    stride, dilation = pair(op, "stride", stride, 1), pair(op, "dilation", dilation, 1)
    padding = pair(op, "padding", padding, 0)
    channels, cout = x.shape[1], w.shape[0]
    if channels != w.shape[1] * groups:
        raise ShapeError(f"{op}: input has {channels} channels but weight expects "
                         f"{w.shape[1] * groups} (groups={groups})")
    if cout % groups:
        raise ShapeError(f"{op}: weight has {cout} output channels, not divisible by groups={groups}")
    out_hw = _check_fits(op, x.shape[2:], w.shape[2:], stride, padding, dilation)
    out_shape = require_output(op, (x.shape[0], cout) + out_hw, input_size=x.numel())
    if x.shape[0] == 0:
        return _empty_batch(x, out_shape, w, b)
    return Conv2d.apply(x, w, b, stride, padding, dilation, int(groups), variant)


def _check_padded(op, size, padding):
    """The padded extents, each at most MAX_SIZE."""
    padded = tuple(s + 2 * p for s, p in zip(size, padding))
    if max(padded) > _checks.MAX_SIZE:
        raise ShapeError(f"{op}: the input {tuple(size)} padded by {padding} spans {padded}; "
                         f"expected at most {_checks.MAX_SIZE}")
    return padded


def _check_fits(op, size, kernel, stride, padding, dilation):
    """The output extents of a (dilated) window over the padded input, each at least 1."""
    padded = _check_padded(op, size, padding)
    out = tuple(window_output_size(*a) for a in zip(size, kernel, stride, padding, dilation))
    if min(out) < 1:
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        raise ShapeError(f"{op}: kernel spans {span} (dilation {dilation}) but the padded input "
                         f"is only {padded}")
    return out


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                     variant=None):
    """The adjoint of conv2d: x (N, Cin, H, W), w (Cin, Cout/groups, kH, kW), as torch."""
    op = "conv_transpose2d"
    x, w, b = _prepare(op, x, w, b, groups, lambda shape, groups: shape[1] * groups)
    stride, dilation = pair(op, "stride", stride, 1), pair(op, "dilation", dilation, 1)
    padding, output_padding = pair(op, "padding", padding, 0), pair(op, "output_padding",
                                                                     output_padding, 0)
    if x.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise ShapeError(f"{op}: input has {x.shape[1]} channels but weight of shape {w.shape} "
                         f"expects {w.shape[0]} (groups={groups})")
    if any(o >= max(s, d) for o, s, d in zip(output_padding, stride, dilation)):
        raise ShapeError(f"{op}: output_padding {output_padding} must be smaller than stride "
                         f"{stride} or dilation {dilation}")
    out_hw = tuple(transposed_output_size(*a) for a in
                   zip(x.shape[2:], w.shape[2:], stride, padding, output_padding, dilation))
    if min(out_hw) < 1:
        raise ShapeError(f"{op}: input {x.shape} with padding {padding} gives an empty output {out_hw}")
    out_shape = require_output(op, (x.shape[0], w.shape[1] * groups) + out_hw,
                               input_size=x.numel())
    # The convolution it is the adjoint of runs over the output padded by `padding`, or, when
    # output_padding reaches past the windows, over the uncropped output: both must fit too.
    _check_padded(op, out_hw, padding)
    if any(o >= s for o, s in zip(output_padding, stride)):
        full_hw = tuple(transposed_output_size(n, k, s, 0, 0, d) for n, k, s, d in
                        zip(x.shape[2:], w.shape[2:], stride, dilation))
        require_output(op, out_shape[:2] + full_hw, "the uncropped output", x.numel())
    if x.shape[0] == 0:
        return _empty_batch(x, out_shape, w, b)
    return ConvTranspose2d.apply(x, w, b, out_shape, stride, padding, dilation, int(groups),
                                 variant)


__all__ = []  # F.<name> only
METHODS = ()
FUNCTIONAL = ("conv2d", "conv_transpose2d")
