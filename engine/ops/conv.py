"""conv1d, conv2d, conv3d and their adjoints conv_transpose1d/2d/3d. The 2-D and 3-D ones run
on the conv2d and conv3d kernel families; a 1-D one runs as a 2-D one on a unit-height view."""
import numbers

import numpy as np

from kernels.contract import Conv2dKernels
from kernels.geometry import channel_reduction_axes, transposed_output_size, window_output_size

from ..autograd import Function
from ..errors import ArgumentError, DTypeError, ShapeError
from . import _checks
from ._checks import (native_byte_order, require_float32_or_64, require_nonempty, require_output,
                      require_tensor, size_pair)
from .patch import pad
from .shape import reshape

LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


def pair(op, name, value, minimum):
    """An int or a pair of ints as a pair, each in [minimum, MAX_SIZE] (2**31 - 1)."""
    return size_pair(op, name, value, minimum)


def sizes(op, name, value, minimum, dims):
    """An int or `dims` ints as a tuple of `dims` ints, each in [minimum, MAX_SIZE]."""
    if dims == 2:
        return pair(op, name, value, minimum)
    if isinstance(value, np.ndarray) and value.ndim <= 1:
        value = value.tolist()
    values = (value,) * dims if isinstance(value, numbers.Integral) else \
        tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(values) != dims or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                      for v in values):
        raise ShapeError(f"{op}: {name} must be an int or a tuple of {dims} ints, got {value!r}")
    return tuple(pair(op, name, v, minimum)[0] for v in values)


def _conv_flops(big, w):
    """2 x multiply-adds of a convolution whose larger side (output for a convolution, input for
    the transposed one) is `big`: each of its elements sums over C/groups x the kernel's taps."""
    return 2.0 * float(np.prod(big.shape)) * float(np.prod(w.shape[1:]))


class Conv2d(Function):
    family = "conv2d"  # the kernel family it runs on
    backward_cost = 2

    def forward(self, x, w, b, stride, padding, dilation, groups, variant):
        self.save(x, w)
        self.params = (stride, padding, dilation, groups)
        self.conv = self.kernel(self.family, variant, x_shape=x.shape, w_shape=w.shape,
                                stride=stride, padding=padding, dilation=dilation, groups=groups)
        y = self.conv.forward(x, w, b, *self.params)
        self.flops = _conv_flops(y, w)
        return y

    def backward(self, gy):
        x, w = self.saved
        k, need, conv = self.kernels, self.needs_input_grad, self.kernel(self.family, self.variant)
        gx = conv.backward_input(gy, w, x.shape, *self.params) if need[0] else None
        gw = conv.backward_weight(x, gy, w.shape, *self.params) if need[1] else None
        gb = k.sum(gy, channel_reduction_axes(gy.ndim), False) if need[2] else None
        return gx, gw, gb, None, None, None, None, None


class Conv3d(Conv2d):
    family = "conv3d"


class ConvTranspose2d(Function):
    """y = the convolution's input gradient for gy = x. When output padding reaches past the
    windows (output_padding >= stride, allowed when dilation > stride), the convolution's
    geometry does not hold; then the uncropped, unpadded output is computed and cut to
    [padding, padding + out)."""
    name = "conv_transpose2d"
    family = "conv2d"
    backward_cost = 2

    def forward(self, x, w, b, out_shape, stride, padding, dilation, groups, variant):
        k = self.kernels
        self.save(x, w)
        self.fits = all(window_output_size(n, kk, s, p, d) == m for n, m, kk, s, p, d in
                        zip(out_shape[2:], x.shape[2:], w.shape[2:], stride, padding, dilation))
        self.padding, self.out_size = padding, out_shape[2:]
        self.params = (stride, padding if self.fits else (0,) * len(padding), dilation, groups)
        if not self.fits:
            self.full_size = tuple(transposed_output_size(m, kk, s, 0, 0, d) for m, kk, s, d in
                                   zip(x.shape[2:], w.shape[2:], stride, dilation))
        conv_input = out_shape if self.fits else out_shape[:2] + self.full_size
        self.conv = self.kernel(self.family, variant, x_shape=conv_input, w_shape=w.shape,
                                stride=stride, padding=self.params[1], dilation=dilation,
                                groups=groups)
        y = self.conv.backward_input(x, w, conv_input, *self.params)
        if not self.fits:
            y = _window(k, y, self.padding, self.out_size)
        self.flops = _conv_flops(x, w)
        return y if b is None else k.add(y, k.reshape(b, (1, -1) + (1,) * (y.ndim - 2)))

    def backward(self, gy):
        x, w = self.saved
        k, need = self.kernels, self.needs_input_grad
        gb = k.sum(gy, channel_reduction_axes(gy.ndim), False) if need[2] else None
        if not self.fits:  # the adjoint of cutting the window: place gy back in the full output
            gy = _window(k, gy, tuple(-p for p in self.padding), self.full_size)
        conv = self.kernel(self.family, self.variant)
        gx = conv.forward(gy, w, None, *self.params) if need[0] else None
        gw = conv.backward_weight(gy, x, w.shape, *self.params) if need[1] else None
        return (gx, gw, gb) + (None,) * 6


class ConvTranspose3d(ConvTranspose2d):
    name = "conv_transpose3d"
    family = "conv3d"


class Conv2dWeightGrad(Function):
    """The convolution's weight gradient as an op of its own, so that a backward through a
    convolution can be differentiated again: it is bilinear in x and gy, and each of its own
    gradients is one of the convolution's kernels."""
    name = "conv2d_weight_grad"
    family = "conv2d"
    backward_cost = 2

    def forward(self, x, gy, w_shape, stride, padding, dilation, groups, variant):
        self.save(x, gy)
        self.params = (stride, padding, dilation, groups)
        conv = self.kernel(self.family, variant, x_shape=x.shape, w_shape=w_shape, stride=stride,
                           padding=padding, dilation=dilation, groups=groups)
        return conv.backward_weight(x, gy, w_shape, *self.params)

    def backward(self, gw_grad):
        x, gy = self.saved
        need, conv = self.needs_input_grad, self.kernel(self.family, self.variant)
        gx = conv.backward_input(gy, gw_grad, x.shape, *self.params) if need[0] else None
        ggy = conv.forward(x, gw_grad, None, *self.params) if need[1] else None
        return (gx, ggy) + (None,) * 6


class Conv3dWeightGrad(Conv2dWeightGrad):
    name = "conv3d_weight_grad"
    family = "conv3d"


# kernel family -> its convolution, transposed convolution and weight gradient ops
_OPS = {"conv2d": (Conv2d, ConvTranspose2d, Conv2dWeightGrad),
        "conv3d": (Conv3d, ConvTranspose3d, Conv3dWeightGrad)}


def differentiable_kernels(variant, family="conv2d"):
    """contract.Conv2dKernels made of ops: a backward that calls them records its graph."""
    conv, transpose, weight_grad = _OPS[family]

    def forward(x, w, b, stride, padding, dilation, groups):
        return conv.apply(x, w, b, stride, padding, dilation, groups, variant)

    def backward_input(gy, w, x_shape, stride, padding, dilation, groups):
        return transpose.apply(gy, w, None, tuple(x_shape), stride, padding, dilation, groups,
                               variant)

    def backward_weight(x, gy, w_shape, stride, padding, dilation, groups):
        return weight_grad.apply(x, gy, tuple(w_shape), stride, padding, dilation, groups, variant)
    return Conv2dKernels(forward, backward_input, backward_weight)


def _window(k, a, start, size):
    """a[:, :, start:start + size] over the spatial axes, reading zeros outside a."""
    widths = [(0, 0), (0, 0)]
    index = [slice(None), slice(None)]
    for begin, n, have in zip(start, size, a.shape[2:]):
        before, after = max(0, -begin), max(0, begin + n - have)
        widths.append((before, after))
        index.append(slice(begin + before, begin + before + n))
    if any(w != (0, 0) for w in widths):
        a = k.pad(a, tuple(widths))
    return k.getitem(a, tuple(index))


def _prepare(op, x, w, b, groups, bias_size, dims=2):
    """Checks what the convolutions share; returns x, w and b in native byte order."""
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
    if x.ndim != dims + 2 or w.ndim != dims + 2:
        raise ShapeError(f"{op}: expected input {LAYOUTS[dims]} and a {dims + 2}-D weight, got "
                         f"shapes {x.shape} and {w.shape}")
    if (not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1
            or groups > _checks.MAX_SIZE):
        raise ShapeError(f"{op}: groups must be a positive int, got {groups!r}")
    require_nonempty(op, x, LAYOUTS[dims])
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


def same_padding(kernel, dilation):
    """torch's padding='same' as (before, after) per axis: d (k - 1) split in two, the odd
    one after."""
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                 for k, d in zip(kernel, dilation))


def _padding(op, padding, kernel, stride, dilation):
    """(the padding on both sides, the extra zeros after) of an int, a tuple, 'valid' or 'same'."""
    dims = len(kernel)
    if not isinstance(padding, str):
        return sizes(op, "padding", padding, 0, dims), (0,) * dims
    if padding == "valid":
        return (0,) * dims, (0,) * dims
    if padding != "same":
        raise ArgumentError(f"{op}: Invalid padding string {padding!r}, should be one of "
                            "{'valid', 'same'}")
    if any(s != 1 for s in stride):
        raise ArgumentError(f"{op}: padding='same' is not supported for strided convolutions, "
                            f"got stride {stride}")
    widths = same_padding(kernel, dilation)
    return tuple(before for before, _ in widths), tuple(after - before for before, after in widths)


def _unit_height(t):
    """(N, C, L) viewed as (N, C, 1, L): a 1-D convolution runs as a 2-D one."""
    return reshape(t, t.shape[:2] + (1,) + t.shape[2:])


def _convolution(op, dims, x, w, b, stride, padding, dilation, groups, variant):
    x, w, b = _prepare(op, x, w, b, groups, lambda shape, groups: shape[0], dims)
    stride, dilation = sizes(op, "stride", stride, 1, dims), sizes(op, "dilation", dilation, 1, dims)
    padding, extra = _padding(op, padding, w.shape[2:], stride, dilation)
    channels, cout = x.shape[1], w.shape[0]
    if channels != w.shape[1] * groups:
        raise ShapeError(f"{op}: input has {channels} channels but weight expects "
                         f"{w.shape[1] * groups} (groups={groups})")
    if cout % groups:
        raise ShapeError(f"{op}: weight has {cout} output channels, not divisible by groups={groups}")
    size = tuple(n + e for n, e in zip(x.shape[2:], extra))
    out = _check_fits(op, size, w.shape[2:], stride, padding, dilation)
    out_shape = require_output(op, (x.shape[0], cout) + out, input_size=x.numel())
    if x.shape[0] == 0:
        return _empty_batch(x, out_shape, w, b)
    if any(extra):  # torch's 'same' with an odd total: the extra zero goes after, by itself
        x = pad(x, tuple(v for e in reversed(extra) for v in (0, e)))
    if dims == 1:
        y = Conv2d.apply(_unit_height(x), _unit_height(w), b, (1,) + stride, (0,) + padding,
                         (1,) + dilation, int(groups), variant)
        return reshape(y, out_shape)
    return _OPS[f"conv{dims}d"][0].apply(x, w, b, stride, padding, dilation, int(groups), variant)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, variant=None):
    """1-D cross-correlation of input (N, C, L) with weight (Cout, C/groups, k), as torch;
    padding may also be 'valid' or 'same'. It runs on the conv2d variants."""
    return _convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups,
                        variant)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, variant=None):
    """2-D cross-correlation of input (N, C, H, W) with weight (Cout, C/groups, kH, kW), as torch;
    padding may also be 'valid' or 'same'."""
    return _convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups,
                        variant)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, variant=None):
    """3-D cross-correlation of input (N, C, D, H, W) with weight (Cout, C/groups, kD, kH, kW), as
    torch; padding may also be 'valid' or 'same'."""
    return _convolution("conv3d", 3, input, weight, bias, stride, padding, dilation, groups,
                        variant)


def _transposed(op, dims, x, w, b, stride, padding, output_padding, groups, dilation, variant):
    x, w, b = _prepare(op, x, w, b, groups, lambda shape, groups: shape[1] * groups, dims)
    stride, dilation = sizes(op, "stride", stride, 1, dims), sizes(op, "dilation", dilation, 1, dims)
    padding = sizes(op, "padding", padding, 0, dims)
    output_padding = sizes(op, "output_padding", output_padding, 0, dims)
    if x.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise ShapeError(f"{op}: input has {x.shape[1]} channels but weight of shape {w.shape} "
                         f"expects {w.shape[0]} (groups={groups})")
    if any(o >= max(s, d) for o, s, d in zip(output_padding, stride, dilation)):
        raise ShapeError(f"{op}: output_padding {output_padding} must be smaller than stride "
                         f"{stride} or dilation {dilation}")
    out = tuple(transposed_output_size(*a) for a in
                zip(x.shape[2:], w.shape[2:], stride, padding, output_padding, dilation))
    if min(out) < 1:
        raise ShapeError(f"{op}: input {x.shape} with padding {padding} gives an empty output {out}")
    out_shape = require_output(op, (x.shape[0], w.shape[1] * groups) + out, input_size=x.numel())
    # The convolution it is the adjoint of runs over the output padded by `padding`, or, when
    # output_padding reaches past the windows, over the uncropped output: both must fit too.
    _check_padded(op, out, padding)
    if any(o >= s for o, s in zip(output_padding, stride)):
        full = tuple(transposed_output_size(n, k, s, 0, 0, d) for n, k, s, d in
                     zip(x.shape[2:], w.shape[2:], stride, dilation))
        require_output(op, out_shape[:2] + full, "the uncropped output", x.numel())
    if x.shape[0] == 0:
        return _empty_batch(x, out_shape, w, b)
    if dims == 1:
        y = ConvTranspose2d.apply(_unit_height(x), _unit_height(w), b,
                                  out_shape[:2] + (1,) + out_shape[2:], (1,) + stride,
                                  (0,) + padding, (1,) + dilation, int(groups), variant)
        return reshape(y, out_shape)
    return _OPS[f"conv{dims}d"][1].apply(x, w, b, out_shape, stride, padding, dilation,
                                         int(groups), variant)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, variant=None):
    """The adjoint of conv1d: input (N, Cin, L), weight (Cin, Cout/groups, k), as torch."""
    return _transposed("conv_transpose1d", 1, input, weight, bias, stride, padding,
                       output_padding, groups, dilation, variant)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, variant=None):
    """The adjoint of conv2d: input (N, Cin, H, W), weight (Cin, Cout/groups, kH, kW), as torch."""
    return _transposed("conv_transpose2d", 2, input, weight, bias, stride, padding,
                       output_padding, groups, dilation, variant)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, variant=None):
    """The adjoint of conv3d: input (N, Cin, D, H, W), weight (Cin, Cout/groups, kD, kH, kW),
    as torch."""
    return _transposed("conv_transpose3d", 3, input, weight, bias, stride, padding,
                       output_padding, groups, dilation, variant)


__all__ = []  # F.<name> only
METHODS = ()
FUNCTIONAL = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d")
