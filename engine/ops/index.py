"""Gathering, scattering, sorting and selecting along a dimension.

Two Functions carry the gradients: TakeAlongAxis (gather) and Scatter; every other op here is
made of them and of the differentiable shape ops, so its gradient (to any order) comes free.
Index tensors are checked (dtype, shape, range) before any kernel reads memory through them;
the range check reads one count back from the device.
"""
import numbers
from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd import Function
from ..errors import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor
from ._checks import broadcast_shapes, normalize_axis, require_tensor, torch_dims
from .shape import BroadcastTo, GetItem, Reshape, Where

# --- the two differentiable primitives ----------------------------------------------------------


class TakeAlongAxis(Function):
    name = "gather"

    def forward(self, x, indices, axis):
        self.indices, self.axis, self.x_shape = indices, axis, tuple(x.shape)
        return self.kernels.take_along_axis(x, indices, axis)

    def backward(self, gy):
        k = self.kernels
        return k.scatter(k.zeros(self.x_shape, gy.dtype), self.indices, gy, self.axis,
                         "sum"), None, None


class Scatter(Function):
    """x with src sent along axis to indices: written (reduce None) or combined (sum, prod,
    amax, amin). Gradients as torch's scatter and scatter_reduce (include_self=True)."""

    def forward(self, x, indices, src, axis, reduce):
        self.indices, self.axis, self.reduce = indices, axis, reduce
        y = self.kernels.scatter(x, indices, src, axis, reduce)
        if reduce in ("prod", "amax", "amin"):
            self.save(x, src, y)
        return y

    def backward(self, gy):
        k, indices, axis = self.kernels, self.indices, self.axis

        def take(a):
            return k.take_along_axis(a, indices, axis)
        if self.reduce is None:  # overwritten elements of x get nothing; every src its place's
            return k.scatter(gy, indices, k.zeros(indices.shape, gy.dtype), axis, None), None, \
                take(gy), None, None
        if self.reduce == "sum":
            return gy, None, take(gy), None, None
        x, src, y = self.saved
        if self.reduce == "prod":
            return (*_prod_backward(k, gy, x, indices, src, y, axis, take), None, None)
        # amax, amin: ties (in x or src) share the gradient evenly, as torch does
        x_wins, src_wins = k.compare("eq", x, y), k.compare("eq", src, take(y))
        winners = k.scatter(k.astype(x_wins, gy.dtype), indices, k.astype(src_wins, gy.dtype),
                            axis, "sum")
        share = k.div(gy, winners)
        return k.mul(x_wins, share), None, k.mul(src_wins, take(share)), None, None


def _prod_backward(k, gy, x, indices, src, y, axis, take):
    """torch's: the product of the others, computed without dividing by a zero; an element
    sharing its place with another zero gets 0."""
    x_zero = k.compare("eq", x, 0)
    x_safe = k.where(x_zero, 1, x)
    gx = k.div(k.mul(gy, k.scatter(x_safe, indices, src, axis, "prod")), x_safe)
    src_zero = k.compare("eq", src, 0)
    zeros_per_place = take(k.scatter(k.zeros(tuple(x.shape), gy.dtype), indices,
                                     k.astype(src_zero, gy.dtype), axis, "sum"))
    lone_zero = k.where(src_zero, k.compare("eq", zeros_per_place, 1), False)
    # a lone zero's gradient: the product of the others, its place's product with it set to 1
    others = k.scatter(x, indices, k.where(lone_zero, 1, src), axis, "prod")
    gsrc = k.where(lone_zero, take(k.mul(gy, others)),
                   k.div(take(k.mul(gy, y)), k.where(src_zero, 1, src)))
    return gx, None, gsrc


TWINS = {"take_along_axis": TakeAlongAxis.apply, "scatter": Scatter.apply}

# --- checks ---------------------------------------------------------------------------------------
INT64 = (np.dtype(np.int64),)
INT32_OR_64 = (np.dtype(np.int32), np.dtype(np.int64))


def _index(op, index, dtypes=INT64, name="index"):
    """The index tensor's array as int64, after checking that it is a tensor of an allowed dtype."""
    require_tensor(op, name, index)
    if index.dtype not in dtypes:
        raise DTypeError(f"{op}: {name} must have dtype {' or '.join(map(str, dtypes))}, got "
                         f"{index.dtype}")
    return backend.table(index.device).astype(index.data, np.int64)


def _check_range(op, k, indices, size, dim):
    """Every index in [0, size), else ArgumentError naming one that is not."""
    if indices.size == 0:
        return
    outside = k.where(k.compare("lt", indices, 0), True, k.compare("ge", indices, size))
    if int(k.to_host(k.sum(outside, None, False))):
        bad = k.to_host(indices)[k.to_host(outside)][0]
        raise ArgumentError(f"{op}: index {bad} is out of range for dimension {dim} of size "
                            f"{size}; expected indices in [0, {size})")


def _nonempty_ndim(t):
    """torch counts a 0-d tensor as 1-d where an index runs along a dimension."""
    return max(t.ndim, 1)


def _as_1d(t):
    return Reshape.apply(t, (1,)) if t.ndim == 0 else t


def _shaped(t, shape):
    """t with the given shape (that of a 0-d tensor worked on as 1-d)."""
    return t if t.shape == tuple(shape) else Reshape.apply(t, tuple(shape))


def _no_larger(op, index, other, name, axis):
    """index no larger than `other` along every dimension but axis (None: along every one)."""
    if any(i != axis and m > n for i, (m, n) in enumerate(zip(index.shape, other.shape))):
        skip = "" if axis is None else f" except dimension {axis}"
        raise ShapeError(f"{op}: index of shape {index.shape} is larger than {name} of shape "
                         f"{other.shape} along a dimension{skip}")


# --- gather and scatter ---------------------------------------------------------------------------


@torch_dims
def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j][k] = input[index[i][j][k]][j][k] along dim (here dim 0)."""
    require_tensor("gather", "input", input)
    indices = _index("gather", index)
    if _nonempty_ndim(index) != _nonempty_ndim(input):
        raise ShapeError(f"gather: index of shape {index.shape} must have as many dimensions "
                         f"as input of shape {input.shape}")
    axis, k = normalize_axis("gather", dim, input.ndim), backend.table(input.device)
    x, indices = _as_1d(input), k.reshape(indices, index.shape or (1,))
    _no_larger("gather", indices, x, "input", axis)
    _check_range("gather", k, indices, x.shape[axis], dim)
    return _shaped(TakeAlongAxis.apply(x, indices, axis), index.shape)


def _scatter(op, input, dim, index, src, reduce):
    """The checked Scatter of src (a tensor, or a number filling index's shape) into input."""
    require_tensor(op, "input", input)
    indices = _index(op, index)
    k = backend.table(input.device)
    if isinstance(src, numbers.Number):
        src = Tensor._from_array(k.full(index.shape, src, input.dtype), input.device)
    require_tensor(op, "src", src)
    if src.dtype != input.dtype:
        raise DTypeError(f"{op}: src has dtype {src.dtype} but input has {input.dtype}; expected "
                         "the same dtype")
    if not _nonempty_ndim(input) == _nonempty_ndim(index) == _nonempty_ndim(src):
        raise ShapeError(f"{op}: input {input.shape}, index {index.shape} and src {src.shape} "
                         "must have the same number of dimensions")
    axis = normalize_axis(op, dim, input.ndim)
    x, s, indices = _as_1d(input), _as_1d(src), k.reshape(indices, index.shape or (1,))
    _no_larger(op, indices, x, "input", axis)
    _no_larger(op, indices, s, "src", None)
    _check_range(op, k, indices, x.shape[axis], dim)
    if s.shape != indices.shape:  # only the part of src that index covers is scattered
        s = GetItem.apply(s, tuple(slice(0, n) for n in indices.shape))
    return _shaped(Scatter.apply(x, indices, s, axis, reduce), input.shape)


_LEGACY_REDUCE = {None: None, "add": "sum", "multiply": "prod"}


@torch_dims
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """input with src (a tensor, or the number `value`) written along dim at index; with
    reduce="add" or "multiply", combined instead."""
    if reduce not in _LEGACY_REDUCE:
        raise ArgumentError(f"scatter: reduce must be None, 'add' or 'multiply', got {reduce!r}")
    if (src is None) == (value is None):
        raise ArgumentError("scatter: give one of src (a tensor) or value (a number)")
    return _scatter("scatter", input, dim, index, value if src is None else src,
                    _LEGACY_REDUCE[reduce])


@torch_dims
def scatter_add(input, dim, index, src):
    """input with src added along dim at index; repeated indices add up."""
    return _scatter("scatter_add", input, dim, index, src, "sum")


_IDENTITY = {"sum": 0, "mean": 0, "prod": 1}


def _identity(reduce, dtype):
    """The value that leaves `reduce` unchanged (the lowest value for amax, the highest for amin)."""
    if reduce in _IDENTITY:
        return _IDENTITY[reduce]
    lowest, highest = ((-np.inf, np.inf) if dtype.kind == "f" else
                       (np.iinfo(dtype).min, np.iinfo(dtype).max))
    return lowest if reduce == "amax" else highest


@torch_dims
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """input with src combined along dim at index by "sum", "prod", "mean", "amax" or "amin";
    with include_self=False the places index points at forget input's values first."""
    op = "scatter_reduce"
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise ArgumentError(f"{op}: reduce must be 'sum', 'prod', 'mean', 'amax' or 'amin', "
                            f"got {reduce!r}")
    base = input
    if not include_self:
        require_tensor(op, "input", input)
        base = _scatter(op, input, dim, index, _identity(reduce, np.dtype(input.dtype)), None)
    if reduce != "mean":
        return _scatter(op, base, dim, index, src, reduce)
    total = _scatter(op, base, dim, index, src, "sum")
    # how many values each place averages; 1 where none, which keeps its value
    start = Tensor(np.full(input.shape, int(include_self), input.dtype), device=input.device)
    count = _scatter(op, start, dim, index, 1, "sum")
    count = Where.apply(count == 0, 1, count)
    if input.dtype.kind == "f":
        return total / count
    k = backend.table(input.device)
    return Tensor._from_array(_floor_divide(k, total.data, count.data), input.device)


def _floor_divide(k, a, b):
    """a // b for integers (torch's mean of integers rounds down)."""
    quotient = k.div(a, b)
    truncated = k.astype(quotient, a.dtype)
    return k.sub(truncated, k.astype(k.compare("lt", quotient, truncated), a.dtype))


def _index_vector(op, index):
    """A 1-D index (a 0-d one counts as one element) as an int64 array."""
    indices = _index(op, index, INT32_OR_64)
    if index.ndim > 1:
        raise ShapeError(f"{op}: index must be a vector (1-D), got shape {index.shape}")
    return backend.table(index.device).reshape(indices, (index.numel(),))


def _along(k, vector, shape, axis):
    """A 1-D index repeated over every other dimension of `shape`, running along axis."""
    line = tuple(n if d == axis else 1 for d, n in enumerate(shape))
    return k.broadcast_to(k.reshape(vector, line), shape)


@torch_dims
def index_select(input, dim, index):
    """The slices of input at index along dim, in index's order."""
    require_tensor("index_select", "input", input)
    vector = _index_vector("index_select", index)
    axis = normalize_axis("index_select", dim, input.ndim)
    x, k = _as_1d(input), backend.table(input.device)
    _check_range("index_select", k, vector, x.shape[axis], dim)
    shape = x.shape[:axis] + (vector.size,) + x.shape[axis + 1:]
    out = TakeAlongAxis.apply(x, _along(k, vector, shape, axis), axis)
    return _shaped(out, ()) if input.ndim == 0 else out


@torch_dims
def index_add(input, dim, index, source, *, alpha=1):
    """input with alpha * source's slices added along dim at index; repeated indices add up."""
    op = "index_add"
    require_tensor(op, "input", input)
    require_tensor(op, "source", source)
    vector = _index_vector(op, index)
    axis = normalize_axis(op, dim, input.ndim)
    x, s, k = _as_1d(input), _as_1d(source), backend.table(input.device)
    expected = x.shape[:axis] + (vector.size,) + x.shape[axis + 1:]
    if s.shape != expected:
        raise ShapeError(f"{op}: source has shape {source.shape}; expected {expected} (input's "
                         f"shape {input.shape} with dimension {dim} of index's length)")
    if source.dtype != input.dtype:
        raise DTypeError(f"{op}: source has dtype {source.dtype} but input has {input.dtype}; "
                         "expected the same dtype")
    _check_range(op, k, vector, x.shape[axis], dim)
    if alpha != 1:
        s = s * alpha
    return _shaped(Scatter.apply(x, _along(k, vector, expected, axis), s, axis, "sum"),
                   input.shape)


@torch_dims
def take_along_dim(input, indices, dim=None):
    """input's values at indices along dim, the other dimensions broadcast (dim None: of the
    flattened input at the flattened indices)."""
    op = "take_along_dim"
    require_tensor(op, "input", input)
    array = _index(op, indices, name="indices")
    k = backend.table(input.device)
    if dim is None:
        x, array, axis = Reshape.apply(input, (input.numel(),)), k.reshape(array, (-1,)), 0
    else:
        if _nonempty_ndim(input) != _nonempty_ndim(indices):
            raise ShapeError(f"{op}: input of shape {input.shape} and indices of shape "
                             f"{indices.shape} must have the same number of dimensions")
        axis = normalize_axis(op, dim, input.ndim)
        x, array = _as_1d(input), k.reshape(array, indices.shape or (1,))
        others = broadcast_shapes(op, *(tuple(1 if d == axis else n for d, n in enumerate(s))
                                        for s in (x.shape, array.shape)))

        def along(n):
            return tuple(n if d == axis else m for d, m in enumerate(others))
        if x.shape != along(x.shape[axis]):
            x = BroadcastTo.apply(x, along(x.shape[axis]))
        array = k.broadcast_to(array, along(array.shape[axis]))
    _check_range(op, k, array, x.shape[axis], dim)
    out = TakeAlongAxis.apply(x, array, axis)
    return _shaped(out, ()) if dim is not None and input.ndim == 0 else out


# --- masks ----------------------------------------------------------------------------------------


def _mask(op, mask):
    require_tensor(op, "mask", mask)
    if mask.dtype != np.bool_:
        raise DTypeError(f"{op}: mask must be a bool tensor, got dtype {mask.dtype}")


def masked_fill(input, mask, value):
    """input with value (a number, or a 0-d tensor: differentiable) where mask holds."""
    require_tensor("masked_fill", "input", input)
    _mask("masked_fill", mask)
    if broadcast_shapes("masked_fill", mask.shape, input.shape) != input.shape:
        raise ShapeError(f"masked_fill: mask of shape {mask.shape} does not broadcast to input's "
                         f"shape {input.shape}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got a tensor "
                             f"of shape {value.shape}")
        value = value.astype(input.dtype)
    elif isinstance(value, numbers.Number):
        value = Tensor(np.asarray(value).astype(input.dtype), device=input.device)
    else:
        raise DTypeError(f"masked_fill: value must be a number or a 0-d tensor, got "
                         f"{type(value).__name__}")
    return Where.apply(mask, value, input)


def masked_select(input, mask):
    """The 1-D tensor of input's elements where mask holds (both broadcast); reads the mask
    back to the host, as torch synchronizes."""
    require_tensor("masked_select", "input", input)
    _mask("masked_select", mask)
    shape = tuple(broadcast_shapes("masked_select", input.shape, mask.shape))
    x = input if input.shape == shape else BroadcastTo.apply(input, shape)
    return GetItem.apply(x, np.broadcast_to(mask.numpy(), shape))


def nonzero(input, *, as_tuple=False):
    """The (n, ndim) int64 indices of input's non-zero elements, in row-major order (as_tuple:
    one 1-D tensor per dimension); reads the result's size back to the host, as torch does."""
    require_tensor("nonzero", "input", input)
    k = backend.table(input.device)
    found = np.argwhere(k.to_host(k.compare("ne", input.data, 0))).astype(np.int64)
    if as_tuple:
        columns = found.T if input.ndim else np.zeros((1, len(found)), np.int64)
        return tuple(Tensor(c, device=input.device) for c in columns)
    return Tensor(found, device=input.device)


def argwhere(input):
    """nonzero(input): the (n, ndim) indices of the non-zero elements."""
    return nonzero(input)


# --- sorting --------------------------------------------------------------------------------------
SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])


def _order(op, input, dim, descending):
    """(input as at least 1-D, the axis, int64 positions that sort it stably along the axis)."""
    require_tensor(op, "input", input)
    x = _as_1d(input)
    axis = normalize_axis(op, dim, input.ndim)
    return x, axis, backend.table(input.device).sort(x.data, axis, descending)[1]


def _pick(x, axis, positions, shape):
    """(values, indices) at positions along axis, both of the given shape."""
    values = _shaped(TakeAlongAxis.apply(x, positions, axis), shape)
    return values, _shaped(Tensor._from_array(positions, x.device), shape)


@torch_dims
def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along dim, always stably; nan counts as the largest value."""
    x, axis, order = _order("sort", input, dim, descending)
    return SortResult(*_pick(x, axis, order, input.shape))


@torch_dims
def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort input along dim (stably)."""
    _, _, order = _order("argsort", input, dim, descending)
    return _shaped(Tensor._from_array(order, input.device), input.shape)


def msort(input):
    """input sorted along its first dimension."""
    return sort(input, dim=0).values


def _first(x, axis, order, start, stop):
    index = tuple(slice(start, stop) if d == axis else slice(None) for d in range(x.ndim))
    return backend.table(x.device).getitem(order, index)


def _check_k(op, k, lo, n, dim):
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not lo <= k <= n:
        raise ArgumentError(f"{op}: k must be an int in [{lo}, {n}] for dimension {dim} of size "
                            f"{n}, got {k!r}")


@torch_dims
def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (largest=False: smallest) along dim, in order."""
    x, axis, order = _order("topk", input, dim, largest)
    _check_k("topk", k, 0, x.shape[axis], dim)
    shape = x.shape[:axis] + (k,) + x.shape[axis + 1:]
    return TopkResult(*_pick(x, axis, _first(x, axis, order, 0, k),
                             shape if input.ndim else ()))


@torch_dims
def kthvalue(input, k, dim=-1, keepdim=False):
    """(values, indices) of the k-th smallest element (k from 1) along dim."""
    x, axis, order = _order("kthvalue", input, dim, False)
    _check_k("kthvalue", k, 1, x.shape[axis], dim)
    kept = x.shape[:axis] + (1,) + x.shape[axis + 1:]
    shape = kept if keepdim else x.shape[:axis] + x.shape[axis + 1:]
    return KthvalueResult(*_pick(x, axis, _first(x, axis, order, k - 1, k),
                                 shape if input.ndim else ()))


METHODS = ("gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
           "masked_fill", "masked_select", "take_along_dim", "sort", "argsort", "msort", "topk",
           "kthvalue", "nonzero", "argwhere")
__all__ = list(METHODS)
