"""Reductions over one, several or all axes (with keepdim), and scans along one axis."""
import builtins  # this module defines sum, max, min, any and all
import collections
import numbers
import types

import numpy as np

from .. import backend

from ..autograd import Function
from ..errors import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor
from ._checks import kept_shape, normalize_axes, normalize_axis, require_float, torch_dims

# torch.return_types: (values, indices) pairs that unpack and name their fields
return_types = types.SimpleNamespace(**{
    name: collections.namedtuple(name, ("values", "indices"))
    for name in ("max", "min", "cummax", "cummin")})


# --- Functions on arrays ---------------------------------------------------------------------------
class Sum(Function):
    def forward(self, x, axis, keepdims):
        self.axes = normalize_axes(self.op_name(), axis, x.ndim)
        self.x_shape = tuple(x.shape)
        return self.kernels.sum(x, self.axes, keepdims)

    def backward(self, gy):
        k = self.kernels
        gy = k.reshape(gy, kept_shape(self.x_shape, self.axes))
        return k.broadcast_to(gy, self.x_shape), None, None


class Max(Function):
    """The maximum over axes (amax); ties share the gradient evenly, as torch.amax."""

    def forward(self, x, axis, keepdims):
        self.axes = normalize_axes(self.op_name(), axis, x.ndim)
        y = getattr(self.kernels, self.op_name())(x, self.axes, True)
        self.save(x, y)
        return y if keepdims else self.kernels.reshape(y, _dropped(x.shape, self.axes))

    def backward(self, gy):
        x, y = self.saved
        gy = self.kernels.reshape(gy, y.shape)
        return self.kernels.max_backward(x, y, gy, self.axes), None, None


class Min(Max):
    """The minimum over axes (amin); max_backward's mask of the winners serves it unchanged."""


def _dropped(shape, axes):
    return tuple(n for i, n in enumerate(shape) if axes is not None and i not in axes)


class Prod(Function):
    def forward(self, x, axis, keepdims):
        self.axes = normalize_axes(self.op_name(), axis, x.ndim)
        y = self.kernels.prod(x, self.axes, keepdims)
        self.save(x, y)  # the output itself: differentiated again, y depends on x
        return y

    def backward(self, gy):
        """d prod / d x_i is the product of the others: y / x_i where x_i != 0; at a zero, the
        product of the nonzeros when it is the only zero, else 0. Differentiated again, it is
        exact but where two zeros or more share a product (there it gives 0)."""
        x, y = self.saved
        k = self.kernels
        y = k.reshape(y, kept_shape(x.shape, self.axes))
        zero = k.compare("eq", x, 0)
        nonzeros = k.where(zero, 1, x)
        lone_zero = k.compare("eq", k.sum(zero, self.axes, True), 1)
        others = k.where(zero, k.where(lone_zero, k.prod(nonzeros, self.axes, True), 0),
                         k.div(y, nonzeros))
        return k.mul(others, k.reshape(gy, y.shape)), None, None


class ExtremumAlong(Function):
    """max(dim) or min(dim) (`kind`): the values at `indices` along axis; the gradient goes to
    those positions only, as in torch."""

    def forward(self, x, indices, axis, keepdims, kind):
        self.save(indices)
        self.axis, self.x_shape = axis, tuple(x.shape)
        return getattr(self.kernels, kind)(x, (axis,), keepdims)

    def backward(self, gy):
        (indices,) = self.saved
        k, shape = self.kernels, kept_shape(self.x_shape, (self.axis,))
        n = self.x_shape[self.axis]
        positions = k.from_host(np.arange(n).reshape((n,) + (1,) * (len(shape) - 1 - self.axis)))
        picked = k.compare("eq", k.reshape(indices, shape), positions)
        return k.mul(picked, k.reshape(gy, shape)), None, None, None, None


def _flip(k, x, axis):
    return k.getitem(x, (slice(None),) * axis + (slice(None, None, -1),))


def _reverse_cumsum(k, x, axis):
    """sum over j >= i, for each i."""
    return _flip(k, k.cumsum(_flip(k, x, axis), axis), axis)


class Cumsum(Function):
    def forward(self, x, axis):
        self.axis = axis
        return self.kernels.cumsum(x, axis)

    def backward(self, gy):
        return _reverse_cumsum(self.kernels, gy, self.axis), None


class Cumprod(Function):
    def forward(self, x, axis):
        self.axis = axis
        y = self.kernels.cumprod(x, axis)
        self.save(x, y)
        return y

    def backward(self, gy):
        """d/dx_j of sum_i gy_i y_i is sum_{i >= j} gy_i prod_{l <= i, l != j} x_l: that is
        sum gy_i y_i / x_j before the first zero, the same sum with the first zero read as 1
        at it, and 0 after it (every product holds that zero). Differentiated again, it is
        exact but for the derivatives of that last 0 (by the first zero), taken as 0."""
        x, y = self.saved
        k, axis = self.kernels, self.axis
        zero = k.compare("eq", x, 0)
        zeros_so_far = k.cumsum(zero, axis)
        before = k.compare("eq", zeros_so_far, 0)
        first = k.where(zero, k.compare("eq", zeros_so_far, 1), False)
        at_first = _reverse_cumsum(k, k.mul(gy, k.cumprod(k.where(first, 1, x), axis)), axis)
        before_first = k.div(_reverse_cumsum(k, k.mul(gy, y), axis), k.where(zero, 1, x))
        return k.where(before, before_first, k.where(first, at_first, 0)), None


class Logcumsumexp(Function):
    def forward(self, x, axis):
        self.axis = axis
        y = self.kernels.logcumsumexp(x, axis)
        self.save(x, y)
        return y

    def backward(self, gy):
        """sum_{i >= j} gy_i e^(x_j - y_i), in logs for the positive and the negative parts of
        gy apart (as torch), so that nothing overflows; the dtype's lowest finite value stands
        for log 0, so that no inf - inf appears when this is differentiated again."""
        x, y = self.saved
        k, axis = self.kernels, self.axis
        lowest = float(np.finfo(y.dtype).min)

        def part(sign):
            has = k.compare("gt" if sign > 0 else "lt", gy, 0)
            log_g = k.where(has, k.log(k.where(has, k.mul(gy, sign), 1)), lowest)
            suffix = _flip(k, k.logcumsumexp(_flip(k, k.sub(log_g, y), axis), axis), axis)
            return k.exp(k.add(suffix, x))
        return k.sub(part(1), part(-1)), None


class CumulativeExtremum(Function):
    """cummax or cummin values: x at `indices` along axis; the gradient adds up at them."""

    def forward(self, x, indices, axis):
        self.save(indices)
        self.axis, self.x_shape = axis, tuple(x.shape)
        return self.kernels.take_along_axis(x, indices, axis)

    def backward(self, gy):
        (indices,) = self.saved
        k = self.kernels
        return (k.scatter(k.zeros(self.x_shape, gy.dtype), indices, gy, self.axis, "sum"),
                None, None)


class Norm2(Function):
    """The 2-norm over axes; its gradient x / norm is 0 where the norm is 0, as in torch."""
    name = "norm"

    def forward(self, x, axis, keepdims):
        k = self.kernels
        self.axes = normalize_axes(self.op_name(), axis, x.ndim)
        y = k.sqrt(k.sum(k.mul(x, x), self.axes, keepdims))
        self.save(x, y)  # the output itself: differentiated again, y depends on x
        return y

    def backward(self, gy):
        x, y = self.saved
        k = self.kernels
        y = k.reshape(y, kept_shape(x.shape, self.axes))
        unit = k.div(x, k.where(k.compare("eq", y, 0), 1, y))
        return k.mul(unit, k.reshape(gy, y.shape)), None, None


TWINS = {"min": Min.apply, "prod": Prod.apply, "cumsum": Cumsum.apply,
         "cumprod": Cumprod.apply, "logcumsumexp": Logcumsumexp.apply}


# --- argument handling -----------------------------------------------------------------------------
def _accumulating(input, dtype):
    """input cast to dtype (torch casts before a sum or product), else integers and bools as
    int64, as torch sums and multiplies them."""
    if dtype is not None:
        return input.astype(dtype)
    return input.astype(np.int64) if input.dtype.kind in "biu" else input


def _reduced_axes(op, input, dim):
    """normalize_axes, with torch's `dim=()` (amax, amin) meaning every axis."""
    return normalize_axes(op, None if dim == () else dim, input.ndim)


def _require_elements(op, input, axes):
    """Refuse an extremum over nothing (torch raises for it too)."""
    extents = input.shape if axes is None else [input.shape[a] for a in axes]
    if 0 in extents:
        raise ShapeError(f"{op}: cannot reduce a tensor of shape {input.shape} over "
                         f"{'every dimension' if axes is None else f'dim {axes}'}: it has no "
                         "elements there; expected a non-zero size")


def _one_axis(op, input, dim):
    """A one-axis op's axis; a 0-d tensor (dim 0 or -1) is taken as one element, axis 0."""
    if dim is None:
        raise ArgumentError(f"{op}: dim is required, got None")
    return normalize_axis(op, dim, input.ndim)


def _as_vector(input):
    """A 0-d tensor as a 1-element vector (the ops along one axis need one)."""
    return input.reshape(1) if input.ndim == 0 else input


def _count(input, axes):
    """How many elements each output element of a reduction over axes is made of."""
    return int(np.prod([n for i, n in enumerate(input.shape) if axes is None or i in axes],
                       dtype=np.int64))


# --- sums and means ----------------------------------------------------------------------------------
@torch_dims
def sum(input, dim=None, keepdim=False, *, dtype=None):
    return Sum.apply(_accumulating(input, dtype), dim, keepdim)


@torch_dims
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum with nans counted as 0."""
    from .shape import where
    return sum(where(input != input, 0, input), dim, keepdim, dtype=dtype)


@torch_dims
def mean(input, dim=None, keepdim=False, *, dtype=None):
    input = input if dtype is None else input.astype(dtype)
    require_float("mean", input.dtype)
    axes = normalize_axes("mean", dim, input.ndim)
    return Sum.apply(input, axes, keepdim) / _count(input, axes)


@torch_dims
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of the elements that are not nan."""
    input = input if dtype is None else input.astype(dtype)
    require_float("nanmean", input.dtype)
    counted = sum(input == input, dim, keepdim)
    return nansum(input, dim, keepdim) / counted.astype(input.dtype)


@torch_dims
def prod(input, dim=None, keepdim=False, *, dtype=None):
    if dim is not None and not isinstance(dim, numbers.Integral):
        raise DTypeError(f"prod: dim must be an int (one dimension, as torch), got {dim!r}")
    return Prod.apply(_accumulating(input, dtype), dim, keepdim)


@torch_dims
def count_nonzero(input, dim=None):
    return sum(input != 0, dim)


# --- extrema ---------------------------------------------------------------------------------------
def _extremum(kind, input, dim, keepdim):
    """max or min as torch: of every element, along dim with its indices, or against a tensor."""
    if isinstance(dim, Tensor):
        from . import elementwise  # maximum and minimum live with the elementwise ops
        return getattr(elementwise, "maximum" if kind == "max" else "minimum")(input, dim)
    if dim is None:
        _require_elements(kind, input, None)
        return (Max if kind == "max" else Min).apply(input, None, False)
    x = _as_vector(input)
    axis = _one_axis(kind, x, dim)
    _require_elements(kind, x, (axis,))
    indices = _arg(kind, x, axis, keepdim)
    values = ExtremumAlong.apply(x, indices, axis, keepdim, kind)
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return getattr(return_types, kind)(values, indices)


@torch_dims
def max(input, dim=None, keepdim=False):
    return _extremum("max", input, dim, keepdim)


@torch_dims
def min(input, dim=None, keepdim=False):
    return _extremum("min", input, dim, keepdim)


@torch_dims
def amax(input, dim=(), keepdim=False):
    axes = _reduced_axes("amax", input, dim)
    _require_elements("amax", input, axes)
    return Max.apply(input, axes, keepdim)


@torch_dims
def amin(input, dim=(), keepdim=False):
    axes = _reduced_axes("amin", input, dim)
    _require_elements("amin", input, axes)
    return Min.apply(input, axes, keepdim)


def _arg(kind, input, axis, keepdim):
    """The indices of the first extrema (outside the graph), over everything (axis None)."""
    k = backend.table(input.device)
    indices = getattr(k, "arg" + kind)(input.data, axis)
    if keepdim:
        indices = k.reshape(indices, kept_shape(input.shape, None if axis is None else (axis,)))
    return Tensor._from_array(indices, input.device)


def _arg_extremum(kind, input, dim, keepdim):
    op = "arg" + kind
    if dim is None:
        _require_elements(op, input, None)
        return _arg(kind, input, None, keepdim)
    axis = normalize_axis(op, dim, input.ndim)
    x = _as_vector(input)
    _require_elements(op, x, (axis,))
    indices = _arg(kind, x, axis, keepdim)
    return indices.reshape(()) if input.ndim == 0 else indices


@torch_dims
def argmax(input, dim=None, keepdim=False):
    """Indices of the maxima (the first on ties), outside the graph."""
    return _arg_extremum("max", input, dim, keepdim)


@torch_dims
def argmin(input, dim=None, keepdim=False):
    """Indices of the minima (the first on ties), outside the graph."""
    return _arg_extremum("min", input, dim, keepdim)


# --- logical reductions ----------------------------------------------------------------------------
def _as_input_kind(out, input):
    """any/all as torch: bool, but uint8 for uint8 input."""
    return out.astype(np.uint8) if input.dtype == np.uint8 else out


@torch_dims
def any(input, dim=None, keepdim=False):
    return _as_input_kind(sum(input != 0, dim, keepdim) > 0, input)


@torch_dims
def all(input, dim=None, keepdim=False):
    return _as_input_kind(sum(input == 0, dim, keepdim) == 0, input)


# --- statistics and norms --------------------------------------------------------------------------
def _correction(op, correction, unbiased):
    if correction is not None and unbiased is not None:
        raise ArgumentError(f"{op}: got both correction= and unbiased=; give one")
    if unbiased is not None:
        return 1 if unbiased else 0
    return 1 if correction is None else correction


@torch_dims
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The variance with `correction` (torch: 1 by default; unbiased=False means 0), divided by
    max(0, n - correction) as torch: no degrees of freedom left gives inf or nan."""
    if isinstance(dim, bool):  # torch.var(x, unbiased)
        dim, unbiased = None, dim
    require_float("var", input.dtype)
    axes = normalize_axes("var", dim, input.ndim)
    centered = input - mean(input, axes, True)
    dof = builtins.max(0, _count(input, axes) - _correction("var", correction, unbiased))
    with np.errstate(divide="ignore", invalid="ignore"):
        return sum(centered * centered, axes, keepdim) / float(dof)


@torch_dims
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction).sqrt()


@torch_dims
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


@torch_dims
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


@torch_dims
def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over dim, with the maximum taken out first so that nothing overflows."""
    from .shape import where
    x = input.astype(np.float32) if input.dtype.kind in "biu" else input
    axes = normalize_axes("logsumexp", dim, x.ndim)
    if _count(x, axes) == 0:  # torch: the log of an empty sum, -inf
        return sum(x, axes, keepdim) - np.inf
    shift = amax(x, axes, True).detach()
    shift = where(shift.abs() == np.inf, 0, shift)  # all -inf (or an inf): nothing to take out
    total = sum((x - shift).exp(), axes, keepdim)
    return total.log() + (shift if keepdim else shift.reshape(_dropped(x.shape, axes)))


@torch_dims
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm's vector norms over dim: p a positive number, inf, -inf, 0 or "fro" (the
    2-norm of the elements)."""
    x = input if dtype is None else input.astype(dtype)
    require_float("norm", x.dtype)
    axes = normalize_axes("norm", dim, x.ndim)
    if p == "fro" or p == 2:
        return Norm2.apply(x, axes, keepdim)
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or (p < 0 and p != -np.inf):
        raise ArgumentError(f"norm: p must be a positive number, inf, -inf, 0 or 'fro', got {p!r}")
    if p == np.inf:
        return amax(x.abs(), axes, keepdim)
    if p == -np.inf:
        return amin(x.abs(), axes, keepdim)
    if p == 0:
        return sum(x != 0, axes, keepdim).astype(x.dtype)
    if p == 1:
        return sum(x.abs(), axes, keepdim)
    return sum(x.abs() ** p, axes, keepdim) ** (1.0 / p)


# --- scans -------------------------------------------------------------------------------------------
def _scan(op, function, input, dim, *args):
    """A scan along dim of a Function; a 0-d tensor is scanned as one element."""
    x = _as_vector(input)
    out = function.apply(x, _one_axis(op, x, dim), *args)
    return out.reshape(()) if input.ndim == 0 else out


@torch_dims
def cumsum(input, dim, *, dtype=None):
    return _scan("cumsum", Cumsum, _accumulating(input, dtype), dim)


@torch_dims
def cumprod(input, dim, *, dtype=None):
    return _scan("cumprod", Cumprod, _accumulating(input, dtype), dim)


@torch_dims
def logcumsumexp(input, dim):
    require_float("logcumsumexp", input.dtype)
    return _scan("logcumsumexp", Logcumsumexp, input, dim)


def _cumulative_extremum(kind, input, dim):
    x = _as_vector(input)
    axis = _one_axis(kind, x, dim)
    _, indices = getattr(backend.table(x.device), kind)(x.data, axis)
    indices = Tensor._from_array(indices, x.device)
    values = CumulativeExtremum.apply(x, indices, axis)
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return getattr(return_types, kind)(values, indices)


@torch_dims
def cummax(input, dim):
    return _cumulative_extremum("cummax", input, dim)


@torch_dims
def cummin(input, dim):
    return _cumulative_extremum("cummin", input, dim)


# eg.<name>, as torch.<name>
__all__ = ["sum", "nansum", "mean", "nanmean", "prod", "count_nonzero", "max", "min", "amax",
               "amin", "argmax", "argmin", "any", "all", "var", "std", "var_mean", "std_mean",
               "logsumexp", "norm", "cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"]
# x.<name>(...), the tensor first
METHODS = tuple(name for name in __all__ if name not in ("var_mean", "std_mean"))
