"""Shape ops: views and copies, triangles and diagonals, einsum, PyTorch's indexing, cat,
stack, where, and moving between devices.

Few of them are Functions: most are made of Reshape, Permute, BroadcastTo, GetItem, IndexAdd,
Cat, Where and the products and sums, so their gradients (to any order) come free.
"""
import numbers

import numpy as np

from .. import backend

from ..autograd import Function
from ..errors import ArgumentError, DTypeError, IndexOutOfRangeError, ShapeError
from ..tensor import Tensor
from . import linalg, reduce
from ._checks import broadcast_shapes, normalize_axis, shape_of, torch_dims


class Reshape(Function):
    def forward(self, x, shape):
        self.x_shape = tuple(x.shape)
        return self.kernels.reshape(x, _resolve_shape(self.x_shape, shape))

    def backward(self, gy):
        return self.kernels.reshape(gy, self.x_shape), None


def _resolve_shape(old, new, op="reshape"):
    """`new` with its one -1 filled in, or ShapeError when the sizes differ."""
    size = int(np.prod(old, dtype=np.int64))
    if sum(n == -1 for n in new) > 1 or any(n < -1 for n in new):
        raise ShapeError(f"{op}: shape {new} may hold one -1 and no other negative size")
    if -1 in new:
        known = int(np.prod([n for n in new if n != -1], dtype=np.int64))
        if known and size % known == 0:
            new = tuple(size // known if n == -1 else n for n in new)
    if -1 in new or int(np.prod(new, dtype=np.int64)) != size:
        raise ShapeError(f"{op}: cannot reshape a tensor of shape {old} ({size} elements) "
                         f"into {new}")
    return new


class Permute(Function):
    def forward(self, x, axes):
        self.axes = axes
        return self.kernels.transpose(x, axes)

    def backward(self, gy):
        return self.kernels.transpose(gy, tuple(np.argsort(self.axes))), None


class GetItem(Function):
    name = "getitem"

    def forward(self, x, index):
        self.index, self.x_shape = index, tuple(x.shape)
        return self.kernels.getitem(x, index)

    def backward(self, gy):
        return self.kernels.getitem_backward(gy, self.index, self.x_shape), None


class BroadcastTo(Function):
    name = "broadcast_to"

    def forward(self, x, shape):
        self.x_shape = tuple(x.shape)
        return self.kernels.broadcast_to(x, shape)

    def backward(self, gy):
        return self.kernels.sum_to_shape(gy, self.x_shape), None


class IndexAdd(Function):
    """zeros(shape) with gy added at [index]: getitem's backward, as an op of its own so that
    the backward of getitem can be differentiated again (its own backward is getitem)."""
    name = "index_add"

    def forward(self, gy, index, shape):
        self.index = index
        return self.kernels.getitem_backward(gy, index, shape)

    def backward(self, gg):
        return self.kernels.getitem(gg, self.index), None, None


class Clone(Function):
    def forward(self, x):
        return self.kernels.copy(x)

    def backward(self, gy):
        return gy


class Cat(Function):
    def forward(self, *xs, axis):
        self.axis, self.sizes = axis, [x.shape[axis] for x in xs]
        return self.kernels.concatenate(xs, axis)

    def backward(self, gy):
        return tuple(self.kernels.split(gy, self.sizes, self.axis))


class Stack(Function):
    def forward(self, *xs, axis):
        self.axis = axis
        return self.kernels.stack(xs, axis)

    def backward(self, gy):
        k = self.kernels
        pieces = k.split(gy, [1] * gy.shape[self.axis], self.axis)
        shape = tuple(n for i, n in enumerate(gy.shape) if i != self.axis)
        return tuple(k.reshape(p, shape) for p in pieces)


class Where(Function):
    def forward(self, condition, a, b):
        broadcast_shapes(self.op_name(), *map(shape_of, (condition, a, b)))
        self.condition = condition
        return self.kernels.where(condition, a, b)

    def backward(self, gy):
        k, c = self.kernels, self.condition
        _, need_a, need_b = self.needs_input_grad
        return (None, k.where(c, gy, 0) if need_a else None, k.where(c, 0, gy) if need_b else None)


class Pad(Function):
    def forward(self, x, widths):
        self.widths = widths
        return self.kernels.pad(x, widths)

    def backward(self, gy):
        inner = tuple(slice(before, n - after) for (before, after), n in zip(self.widths, gy.shape))
        return self.kernels.getitem(gy, inner), None


class ToDevice(Function):
    name = "to"

    def forward(self, x, source, device):
        self.source, self.output_device = source, device
        return backend.move(x, source, device)

    def backward(self, gy):
        if self.kernels.differentiable:  # recording: the move back is an op of the graph
            return gy.to(self.source), None, None
        return backend.move(gy, self.output_device, self.source), None, None


# --- arguments ------------------------------------------------------------------------------------
def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _ints(op, what, values):
    """Sizes or dims given as varargs (f(x, 2, 3)) or as one sequence (f(x, (2, 3))) as a tuple of
    ints; a single int is a 1-tuple."""
    if len(values) == 1 and not _is_int(values[0]):
        values = values[0]
    values = (values,) if _is_int(values) else values
    if not isinstance(values, (tuple, list)) or not all(map(_is_int, values)):
        raise DTypeError(f"{op}: {what} must be ints or a sequence of ints, got {values!r}")
    return tuple(int(v) for v in values)


def _dims(op, dims, ndim):
    """An int or a sequence of dims as a tuple of distinct non-negative dims."""
    dims = tuple(normalize_axis(op, d, ndim) for d in _ints(op, "dims", (dims,)))
    if len(set(dims)) != len(dims):
        raise ShapeError(f"{op}: dims {dims} repeat a dimension")
    return dims


def _constant(value, dtype, device):
    """A 0-d tensor that the graph treats as fixed."""
    return Tensor(np.asarray(value, dtype), device=device)


def _along(axis, part):
    """An index that applies `part` to axis and takes everything of the axes before it."""
    return (slice(None),) * axis + (part,)


# --- reshaping ------------------------------------------------------------------------------------
def reshape(x, *shape):
    return Reshape.apply(x, _ints("reshape", "shape", shape))


def reshape_as(input, other):
    return reshape(input, other.shape)


view_as = reshape_as


def ravel(input):
    return reshape(input, -1)


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    start = normalize_axis("flatten", start_dim, x.ndim)
    end = normalize_axis("flatten", end_dim, x.ndim)
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, *x.shape[:start], -1, *x.shape[end + 1:])


@torch_dims
def unflatten(input, dim, sizes):
    """Dimension dim split into `sizes` (one of them may be -1)."""
    axis = normalize_axis("unflatten", dim, input.ndim)
    sizes = _resolve_shape((input.shape[axis],), _ints("unflatten", "sizes", (sizes,)),
                           "unflatten")
    return reshape(input, input.shape[:axis] + sizes + input.shape[axis + 1:])


@torch_dims
def squeeze(input, dim=None):
    """input without its dimensions of size 1 (only those among dim, when given)."""
    dims = range(input.ndim) if dim is None else _dims("squeeze", dim, input.ndim)
    return reshape(input, tuple(n for i, n in enumerate(input.shape)
                                if not (n == 1 and i in dims)))


@torch_dims
def unsqueeze(input, dim):
    axis = normalize_axis("unsqueeze", dim, input.ndim + 1)
    return reshape(input, input.shape[:axis] + (1,) + input.shape[axis:])


def contiguous(input):
    """input itself when its memory is in row-major order, else a row-major copy."""
    return input if input.data.flags.c_contiguous else Clone.apply(input)


def clone(input):
    """A copy that owns its memory; gradients flow through it."""
    return Clone.apply(input)


# --- broadcasting and repeating -------------------------------------------------------------------
def expand(input, *sizes):
    """input broadcast to sizes (new dimensions in front; -1 keeps a size), as a view."""
    sizes = _ints("expand", "sizes", sizes)
    lead = len(sizes) - input.ndim
    old = (None,) * max(lead, 0) + input.shape
    shape = tuple(o if n == -1 and o is not None else n for n, o in zip(sizes, old))
    if lead < 0 or any(n < 0 or o not in (None, 1, n) for n, o in zip(shape, old)):
        raise ShapeError(f"expand: cannot expand a tensor of shape {input.shape} to {sizes}; "
                         "expected sizes that keep each dimension or grow one of size 1 "
                         "(new dimensions in front)")
    return BroadcastTo.apply(input, shape)


def expand_as(input, other):
    return expand(input, other.shape)


def repeat(input, *sizes):
    """input tiled sizes[i] times along each dimension (new dimensions in front)."""
    sizes = _ints("repeat", "sizes", sizes)
    if len(sizes) < input.ndim or any(r < 0 for r in sizes):
        raise ShapeError(f"repeat: got repeats {sizes} for a tensor of shape {input.shape}; "
                         f"expected at least {input.ndim} non-negative counts")
    shape = (1,) * (len(sizes) - input.ndim) + input.shape
    # each dimension n becomes (r, n), broadcast, then merged into r * n
    x = reshape(input, tuple(m for n in shape for m in (1, n)))
    x = BroadcastTo.apply(x, tuple(m for r, n in zip(sizes, shape) for m in (r, n)))
    return reshape(x, tuple(r * n for r, n in zip(sizes, shape)))


def tile(input, *dims):
    """repeat, with missing leading counts taken as 1."""
    dims = _ints("tile", "dims", dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element (each slice along dim; dim None: of the flattened input) repeated `repeats`
    times (an int, or one count per element). With repeats alone, torch.repeat_interleave(t)
    gives each index i repeated t[i] times."""
    if repeats is None:
        counts = _counts(input, None)
        return Tensor(np.repeat(np.arange(len(counts)), counts), device=input.device)
    axis = 0 if dim is None else normalize_axis("repeat_interleave", dim, input.ndim)
    x = flatten(input) if dim is None or input.ndim == 0 else input
    n = x.shape[axis]
    counts = _counts(repeats, n)
    if output_size is not None and output_size != counts.sum():
        raise ShapeError(f"repeat_interleave: output_size is {output_size} but the repeats "
                         f"{counts.tolist()} give {counts.sum()}")
    return GetItem.apply(x, _along(axis, np.repeat(np.arange(n), counts)))


def _counts(repeats, n):
    """The repeats as n non-negative counts on the host (n None: as many as given)."""
    counts = repeats.numpy() if isinstance(repeats, Tensor) else np.asarray(repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise DTypeError(f"repeat_interleave: repeats must be an int or a 1-D tensor of ints, "
                         f"got {counts.dtype} of shape {counts.shape}")
    counts = counts.reshape(-1)
    if n is not None and counts.size == 1:
        counts = np.repeat(counts, n)
    if (n is not None and counts.size != n) or (counts < 0).any():
        raise ShapeError(f"repeat_interleave: got repeats {counts.tolist()}; expected one "
                         f"non-negative count or {n} of them")
    return counts


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids of 1-D tensors: the i-th varies along dimension i ("ij", matrix) or
    with the first two dimensions swapped ("xy", Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ArgumentError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if not tensors or any(t.ndim > 1 for t in tensors):
        raise ShapeError(f"meshgrid: expected 0-d or 1-D tensors, got shapes "
                         f"{[t.shape for t in tensors]}")
    if len({t.dtype for t in tensors}) > 1:
        raise DTypeError(f"meshgrid: expected tensors of one dtype, got "
                         f"{[str(t.dtype) for t in tensors]}")
    places = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) > 1:
        places[0], places[1] = 1, 0
    shape = [0] * len(tensors)
    for t, place in zip(tensors, places):
        shape[place] = t.numel()
    return tuple(expand(reshape(t, tuple(n if i == place else 1 for i, n in enumerate(shape))),
                        shape) for t, place in zip(tensors, places))


# --- reordering dimensions and elements -----------------------------------------------------------
def permute(x, *dims):
    dims = _ints("permute", "dims", dims)
    axes = tuple(normalize_axis("permute", d, x.ndim) for d in dims)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"permute: dims {dims} are not a permutation of the {x.ndim} "
                         f"dimensions of a tensor of shape {x.shape}")
    return Permute.apply(x, axes)


def transpose(input, dim0, dim1):
    axes = list(range(input.ndim))
    a, b = (normalize_axis("transpose", d, input.ndim) for d in (dim0, dim1))
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(input, tuple(axes))


def swapaxes(input, axis0, axis1):
    return transpose(input, axis0, axis1)


swapdims = transpose


def t(input):
    """The transpose of a matrix; a 0-d or 1-D tensor as it is."""
    if input.ndim > 2:
        raise ShapeError(f"t: expected a tensor of at most 2 dimensions, got shape {input.shape}")
    return Permute.apply(input, tuple(reversed(range(input.ndim))))


def movedim(input, source, destination):
    """input with its dimensions `source` moved to the places `destination`, the others
    keeping their order."""
    source = _dims("movedim", source, input.ndim)
    destination = _dims("movedim", destination, input.ndim)
    if len(source) != len(destination):
        raise ShapeError(f"movedim: source {source} and destination {destination} must have "
                         "the same length")
    axes = [None] * input.ndim
    for s, d in zip(source, destination):
        axes[d] = s
    rest = iter(a for a in range(input.ndim) if a not in source)
    return Permute.apply(input, tuple(next(rest) if a is None else a for a in axes))


moveaxis = movedim


def flip(input, dims, *more):
    """input reversed along dims (flip(x, 0, 1) and flip(x, (0, 1)) alike)."""
    index = [slice(None)] * input.ndim
    for d in _dims("flip", (dims,) + more if more else dims, input.ndim):
        index[d] = slice(None, None, -1)
    return GetItem.apply(input, tuple(index))


def fliplr(input):
    if input.ndim < 2:
        raise ShapeError(f"fliplr: expected at least 2 dimensions, got shape {input.shape}")
    return flip(input, 1)


def flipud(input):
    if input.ndim < 1:
        raise ShapeError("flipud: expected at least 1 dimension, got a 0-d tensor")
    return flip(input, 0)


def roll(input, shifts, dims=None):
    """input shifted cyclically by shifts[i] along dims[i] (dims None: of the flattened input,
    the shape kept)."""
    shifts = _ints("roll", "shifts", (shifts,))
    if dims is None:
        if len(shifts) != 1:
            raise ShapeError(f"roll: without dims, shifts must be one int, got {shifts}")
        return reshape(roll(flatten(input), shifts, 0), input.shape)
    dims = _ints("roll", "dims", (dims,))
    if len(shifts) != len(dims):
        raise ShapeError(f"roll: got {len(shifts)} shifts for {len(dims)} dims")
    x = input
    for shift, dim in zip(shifts, dims):
        axis = normalize_axis("roll", dim, x.ndim)
        n = x.shape[axis]
        shift = shift % n if n else 0
        if shift:
            x = cat([narrow(x, axis, n - shift, shift), narrow(x, axis, 0, n - shift)], axis)
    return x


# --- slicing into pieces --------------------------------------------------------------------------
@torch_dims
def narrow(input, dim, start, length):
    """The `length` elements of dim from `start` on (start may be negative)."""
    axis = normalize_axis("narrow", dim, input.ndim)
    n, start = input.shape[axis], int(start)
    begin = start + n if start < 0 else start
    if not 0 <= begin <= n or length < 0 or begin + length > n:
        raise ShapeError(f"narrow: start {start} and length {length} do not fit dimension "
                         f"{dim} of size {n}")
    return GetItem.apply(input, _along(axis, slice(begin, begin + length)))


@torch_dims
def select(input, dim, index):
    """input at index along dim, that dimension removed."""
    axis = normalize_axis("select", dim, input.ndim)
    return GetItem.apply(input, _along(axis, _checked_int(int(index), axis, input.shape,
                                                          "select")))


@torch_dims
def split(tensor, split_size_or_sections, dim=0):
    """Pieces of split_size along dim (the last one shorter), or of the given sizes."""
    axis = normalize_axis("split", dim, tensor.ndim)
    n = tensor.shape[axis]
    if _is_int(split_size_or_sections):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n):
            raise ShapeError(f"split: split_size must be positive (0 only for an empty "
                             f"dimension), got {size} for dimension {dim} of size {n}")
        sizes = [min(size, n - start) for start in range(0, n, size)] if n else [0]
    else:
        sizes = list(_ints("split", "sections", (split_size_or_sections,)))
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(f"split: sections {sizes} must be non-negative and add up to "
                             f"{n}, the size of dimension {dim}")
    starts = np.cumsum([0] + sizes[:-1])
    return tuple(narrow(tensor, axis, int(start), size) for start, size in zip(starts, sizes))


@torch_dims
def chunk(input, chunks, dim=0):
    """At most `chunks` pieces of equal size along dim (the last one smaller)."""
    if not _is_int(chunks) or chunks < 1:
        raise ShapeError(f"chunk: chunks must be a positive int, got {chunks!r}")
    axis = normalize_axis("chunk", dim, input.ndim)
    n = input.shape[axis]
    return split(input, [0] * chunks if n == 0 else -(-n // chunks), axis)


@torch_dims
def unbind(input, dim=0):
    """The slices of input along dim, that dimension removed."""
    axis = normalize_axis("unbind", dim, input.ndim)
    if input.ndim == 0:
        raise ShapeError("unbind: expected a tensor of at least 1 dimension, got a 0-d tensor")
    return tuple(GetItem.apply(input, _along(axis, i)) for i in range(input.shape[axis]))


# --- triangles and diagonals ----------------------------------------------------------------------
def _triangle(op, input, diagonal, lower):
    if input.ndim < 2:
        raise ShapeError(f"{op}: expected a tensor of at least 2 dimensions, got shape "
                         f"{input.shape}")
    rows, cols = input.shape[-2:]
    above = np.arange(cols)[None, :] - np.arange(rows)[:, None]  # column - row
    keep = above <= diagonal if lower else above >= diagonal
    return where(Tensor(keep, device=input.device), input, _constant(0, input.dtype, input.device))


def tril(input, diagonal=0):
    """input with the elements above its diagonal-th diagonal zeroed (last two dimensions)."""
    return _triangle("tril", input, diagonal, lower=True)


def triu(input, diagonal=0):
    """input with the elements below its diagonal-th diagonal zeroed (last two dimensions)."""
    return _triangle("triu", input, diagonal, lower=False)


def _diagonal_index(length, offset):
    """(rows, columns) of the first `length` elements of the offset-th diagonal."""
    steps = np.arange(length)
    return steps + max(-offset, 0), steps + max(offset, 0)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The offset-th diagonal of the matrices in dims dim1, dim2, as the last dimension."""
    d1, d2 = (normalize_axis("diagonal", d, input.ndim) for d in (dim1, dim2))
    if input.ndim < 2 or d1 == d2:
        raise ShapeError(f"diagonal: dim1 {dim1} and dim2 {dim2} must be two distinct "
                         f"dimensions of a tensor of shape {input.shape}")
    x = movedim(input, (d1, d2), (-2, -1))
    rows, cols = x.shape[-2:]
    length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    return GetItem.apply(x, (Ellipsis,) + _diagonal_index(length, offset))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices (in dims dim1, dim2 of the result) with input's last dimension on their
    offset-th diagonal and zeros elsewhere."""
    ndim = input.ndim + 1
    d1, d2 = (normalize_axis("diag_embed", d, ndim) for d in (dim1, dim2))
    if input.ndim < 1 or d1 == d2:
        raise ShapeError(f"diag_embed: dim1 {dim1} and dim2 {dim2} must be two distinct "
                         f"dimensions of the result, for input of shape {input.shape}")
    length = input.shape[-1]
    n = length + abs(offset)
    y = IndexAdd.apply(input, (Ellipsis,) + _diagonal_index(length, offset),
                       input.shape[:-1] + (n, n))
    return movedim(y, (ndim - 2, ndim - 1), (d1, d2))


def diag(input, diagonal=0):
    """A 1-D tensor as the diagonal-th diagonal of a square matrix; a matrix's diagonal-th
    diagonal as a 1-D tensor."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal)
    raise ShapeError(f"diag: expected a 1-D or 2-D tensor, got shape {input.shape}")


def trace(input):
    """The sum of a matrix's diagonal."""
    if input.ndim != 2:
        raise ShapeError(f"trace: expected a matrix, got shape {input.shape}")
    return reduce.sum(diagonal(input))


# --- einsum ---------------------------------------------------------------------------------------
def einsum(equation, *operands):
    """Einstein summation: "ij,jk->ik" (explicit output), "ij,jk" (implicit: the labels seen
    once, sorted), repeated labels in an operand for its diagonal, "..." for broadcast dims.
    Made of diagonals, sums and batched matrix products, left to right."""
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = tuple(operands[0])
    terms, output = _parse_einsum(equation, operands)
    _check_sizes(equation, terms, operands)
    pending = []
    for i, (x, labels) in enumerate(zip(operands, terms)):
        x, labels = _distinct_labels(x, labels)
        elsewhere = set(output).union(*(terms[:i] + terms[i + 1:]))
        pending.append(_sum_labels(x, labels, [la for la in labels if la not in elsewhere]))
    x, labels = pending[0]
    for i, (y, y_labels) in enumerate(pending[1:], 2):
        needed = set(output).union(*terms[i:])
        x, labels = _contract(x, labels, y, y_labels, needed)
    x, labels = _sum_labels(x, labels, [la for la in labels if la not in output])
    return Permute.apply(x, tuple(labels.index(la) for la in output))


def _parse_einsum(equation, operands):
    """Each operand's labels (letters; ints 0, 1, ... for the dims of "...", aligned on the
    right) and the output's."""
    if not isinstance(equation, str):
        raise DTypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands) or not operands:
        raise ShapeError(f"einsum: {equation!r} names {len(inputs)} operands, got "
                         f"{len(operands)}")
    named = [_letters(equation, term) for term in inputs]
    dots = [t.ndim - len(letters) for t, letters in zip(operands, named)]
    for term, t, letters, extra in zip(inputs, operands, named, dots):
        if extra < 0 or (extra and "..." not in term):
            raise ShapeError(f"einsum: subscript {term!r} does not fit an operand of shape "
                             f"{t.shape}")
    width = max(dots)
    terms = []
    for term, letters, extra in zip(inputs, named, dots):
        at = term.find("...")
        at = len(letters) if at < 0 else len(_letters(equation, term[:at]))
        terms.append(letters[:at] + list(range(width - extra, width)) + letters[at:])
    if arrow:
        output = _letters(equation, rhs)
        at = rhs.find("...")
        if at >= 0:
            at = len(_letters(equation, rhs[:at]))
            output = output[:at] + list(range(width)) + output[at:]
        seen = set().union(*terms)
        if len(set(output)) != len(output) or not set(output) <= seen:
            raise ShapeError(f"einsum: output {rhs!r} of {equation!r} repeats a label or names "
                             "one no operand has")
    else:
        letters = [la for term in named for la in term]
        output = list(range(width)) + sorted(la for la in set(letters) if letters.count(la) == 1)
    return terms, output


def _letters(equation, term):
    """The letters of a subscript, "..." at most once and nothing else."""
    letters = term.replace("...", "", 1)
    if not all(c.isascii() and c.isalpha() for c in letters):
        raise ShapeError(f"einsum: subscript {term!r} of {equation!r} may hold only letters "
                         "and one '...'")
    return list(letters)


def _check_sizes(equation, terms, operands):
    """A label's sizes must agree, or be 1 (broadcast)."""
    sizes = {}
    for labels, t in zip(terms, operands):
        for label, n in zip(labels, t.shape):
            if sizes.setdefault(label, n) != n and 1 not in (sizes[label], n):
                raise ShapeError(f"einsum: {equation!r} gives label {label!r} the sizes "
                                 f"{sizes[label]} and {n}")


def _distinct_labels(x, labels):
    """x with each repeated label replaced by its diagonal (as the last dimension)."""
    labels = list(labels)
    for label in dict.fromkeys(labels):
        while labels.count(label) > 1:
            first = labels.index(label)
            second = labels.index(label, first + 1)
            if x.shape[first] != x.shape[second]:
                raise ShapeError(f"einsum: label {label!r} repeats over dimensions of sizes "
                                 f"{x.shape[first]} and {x.shape[second]}")
            x = diagonal(x, 0, first, second)
            labels = [la for i, la in enumerate(labels) if i not in (first, second)] + [label]
    return x, labels


def _sum_labels(x, labels, gone):
    if not gone:
        return x, labels
    x = reduce.Sum.apply(x, tuple(labels.index(la) for la in gone), False)
    return x, [la for la in labels if la not in gone]


def _contract(a, a_labels, b, b_labels, needed):
    """a and b multiplied, with the labels they share and no later term needs summed: one
    batched matrix product (batch, left, shared) @ (batch, shared, right)."""
    a, a_labels = _sum_labels(a, a_labels, [la for la in a_labels
                                            if la not in b_labels and la not in needed])
    both = [la for la in a_labels if la in b_labels]
    batch = [la for la in both if la in needed]
    shared = [la for la in both if la not in needed]
    left = [la for la in a_labels if la not in b_labels]
    right = [la for la in b_labels if la not in a_labels]
    common = {la: max(a.shape[a_labels.index(la)], b.shape[b_labels.index(la)]) for la in both}

    def arranged(x, labels, groups):
        order = [la for group in groups for la in group]
        x = Permute.apply(x, tuple(labels.index(la) for la in order))
        full = tuple(common.get(la, n) for la, n in zip(order, x.shape))
        x = x if x.shape == full else BroadcastTo.apply(x, full)
        cuts = np.cumsum([0] + [len(group) for group in groups])
        return x, [full[i:j] for i, j in zip(cuts[:-1], cuts[1:])]

    a, (nb, nl, ns) = arranged(a, a_labels, (batch, left, shared))
    b, (_, _, nr) = arranged(b, b_labels, (batch, shared, right))
    size = [int(np.prod(n, dtype=np.int64)) for n in (nb, nl, ns, nr)]
    out = linalg.matmul(reshape(a, size[0], size[1], size[2]),
                        reshape(b, size[0], size[2], size[3]))
    return reshape(out, nb + nl + nr), batch + left + right


# --- indexing, as PyTorch -------------------------------------------------------------------------
def getitem(x, index):
    """x[index] with PyTorch's rules: ints, slices, None, Ellipsis, and int or bool tensors,
    arrays or lists. An int among advanced indices is a basic index (x[0, :, [1, 2]] of an
    (A, B, C) tensor is (B, 2), where numpy gives (2, B)): it is applied first. Every index is
    checked against its dimension, as a device would not."""
    parts = [_host_index(p) for p in (index if isinstance(index, tuple) else (index,))]
    parts = _checked_index(parts, x.shape)
    has_int = any(_is_int(p) for p in parts)
    if has_int and any(isinstance(p, np.ndarray) and p.ndim for p in parts):
        first = []
        for p in parts:
            first += [p] if _is_int(p) or p is Ellipsis else [slice(None)] * _dims_indexed(p)
        x = GetItem.apply(x, tuple(first))
        parts = [p for p in parts if not _is_int(p)]
    return GetItem.apply(x, tuple(parts))


def _host_index(part):
    """One part of an index as numpy takes it: tensors and lists as host arrays (a 0-d integer
    one as an int), Python bools as 0-d bool arrays, slice bounds as ints."""
    if isinstance(part, Tensor):
        part = part.numpy()
    if isinstance(part, list):
        part = np.asarray(part) if part else np.zeros(0, np.int64)
    if isinstance(part, (bool, np.bool_)):
        part = np.asarray(part)
    if isinstance(part, np.ndarray):
        if part.dtype.kind not in "iub":
            raise DTypeError(f"getitem: index arrays must hold integers or bools, got {part.dtype}")
        return int(part) if part.ndim == 0 and part.dtype.kind != "b" else part
    if isinstance(part, slice):
        return slice(*(int(v) if isinstance(v, Tensor) else v
                       for v in (part.start, part.stop, part.step)))
    if _is_int(part):
        return int(part)
    if part is None or part is Ellipsis:
        return part
    raise DTypeError(f"getitem: cannot index with {type(part).__name__} {part!r}; expected "
                     "ints, slices, None, Ellipsis, or int or bool tensors, arrays or lists")


def _dims_indexed(part):
    """How many dimensions of the tensor an index part uses."""
    if part is None or (isinstance(part, np.ndarray) and part.dtype == np.bool_):
        return 0 if part is None else part.ndim
    return 1


def _checked_index(parts, shape):
    """The parts, each checked against the dimensions it indexes: ints and int arrays in range
    (negative ones wrapped), bool arrays of the dimensions' shape."""
    if sum(p is Ellipsis for p in parts) > 1:
        raise ShapeError("getitem: an index can have only one Ellipsis (...)")
    used = sum(_dims_indexed(p) for p in parts if p is not Ellipsis)
    if used > len(shape):
        raise IndexOutOfRangeError(f"getitem: too many indices for a tensor of shape {shape}: "
                                   f"the index uses {used} dimensions")
    checked, dim = [], 0
    for p in parts:
        if p is Ellipsis:
            dim += len(shape) - used
        elif _is_int(p):
            p = _checked_int(p, dim, shape, "getitem")
        elif isinstance(p, np.ndarray) and p.dtype == np.bool_ and p.ndim:
            if p.shape != shape[dim:dim + p.ndim]:
                raise IndexOutOfRangeError(
                    f"getitem: a bool index of shape {p.shape} does not fit dimensions {dim} to "
                    f"{dim + p.ndim - 1} of a tensor of shape {shape}")
        elif isinstance(p, np.ndarray) and p.dtype != np.bool_:
            n = shape[dim]
            if p.size and not (-n <= p.min() and p.max() < n):
                bad = p[(p < -n) | (p >= n)].flat[0]
                raise IndexOutOfRangeError(f"getitem: index {bad} is out of range for dimension "
                                           f"{dim} of size {n} (tensor of shape {shape})")
            p = np.where(p < 0, p + n, p).astype(np.int64)
        checked.append(p)
        dim += _dims_indexed(p) if p is not Ellipsis else 0
    return checked


def _checked_int(i, dim, shape, op):
    n = shape[dim]
    if not -n <= i < n:
        raise IndexOutOfRangeError(f"{op}: index {i} is out of range for dimension {dim} of "
                                   f"size {n} (tensor of shape {shape})")
    return i


# --- joining --------------------------------------------------------------------------------------
def _check_same_rank(op, tensors, axis, stacking):
    if not tensors:
        raise ShapeError(f"{op}: expected a non-empty sequence of tensors")
    first = tensors[0].shape
    for t in tensors[1:]:
        same = t.shape == first if stacking else (
            len(t.shape) == len(first) and all(n == m for i, (n, m) in enumerate(zip(t.shape, first))
                                                 if i != axis))
        if not same:
            want = "equal shapes" if stacking else f"equal shapes except along axis {axis}"
            raise ShapeError(f"{op}: got shapes {[t.shape for t in tensors]}; expected {want}")


@torch_dims
def cat(tensors, dim=0):
    tensors = list(tensors)
    axis = normalize_axis("cat", dim, tensors[0].ndim) if tensors else dim
    _check_same_rank("cat", tensors, axis, stacking=False)
    return Cat.apply(*tensors, axis=axis)


concat = concatenate = cat


@torch_dims
def stack(tensors, dim=0):
    tensors = list(tensors)
    axis = normalize_axis("stack", dim, tensors[0].ndim + 1) if tensors else dim
    _check_same_rank("stack", tensors, axis, stacking=True)
    return Stack.apply(*tensors, axis=axis)


def _at_least(ndim, shape_of_rank):
    """atleast_<ndim>d: each tensor of fewer dimensions reshaped as shape_of_rank says."""
    def at_least(*tensors):
        if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
            tensors = tuple(tensors[0])
        out = tuple(t if t.ndim >= ndim else reshape(t, shape_of_rank[t.ndim](t.shape))
                    for t in tensors)
        return out[0] if len(out) == 1 else out
    at_least.__name__ = f"atleast_{ndim}d"
    return at_least


atleast_1d = _at_least(1, {0: lambda s: (1,)})
atleast_2d = _at_least(2, {0: lambda s: (1, 1), 1: lambda s: (1,) + s})
atleast_3d = _at_least(3, {0: lambda s: (1, 1, 1), 1: lambda s: (1,) + s + (1,),
                           2: lambda s: s + (1,)})


def hstack(tensors):
    """Joined along dim 1 (along dim 0 for 1-D tensors)."""
    tensors = atleast_1d(*tensors) if len(tensors) > 1 else (atleast_1d(*tensors),)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Joined along dim 0, 1-D tensors as rows."""
    return cat(atleast_2d(*tensors) if len(tensors) > 1 else (atleast_2d(*tensors),), 0)


def dstack(tensors):
    """Joined along dim 2, after atleast_3d."""
    return cat(atleast_3d(*tensors) if len(tensors) > 1 else (atleast_3d(*tensors),), 2)


# --- where ----------------------------------------------------------------------------------------
def where(condition, input=None, other=None):
    """Elements of input where condition holds, else of other (tensors or numbers, the result's
    dtype as torch's); differentiable in both. where(condition) alone is
    nonzero(condition, as_tuple=True)."""
    if input is None and other is None:
        from .index import nonzero
        return nonzero(condition, as_tuple=True)
    a, b = input, other
    if not isinstance(condition, Tensor):
        device = next((v.device for v in (a, b) if isinstance(v, Tensor)), backend.HOST)
        condition = Tensor(condition, device=device)
    if condition.dtype != np.bool_:
        raise DTypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    for v in (a, b):
        if not isinstance(v, (Tensor, numbers.Number)):
            raise DTypeError(f"where: a and b must be tensors or numbers, got {type(v).__name__}")
    from .elementwise import result_type
    dtype = result_type(a, b)
    a, b = (v.astype(dtype) if isinstance(v, Tensor) else _constant(v, dtype, condition.device)
            for v in (a, b))
    return Where.apply(condition, a, b)


# eg.<name>, as torch.<name>
__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "where",
           "reshape", "permute", "transpose", "flatten", "unflatten", "ravel", "squeeze",
           "unsqueeze", "clone", "tile", "repeat_interleave", "meshgrid", "swapaxes", "swapdims",
           "t", "movedim", "moveaxis", "flip", "fliplr", "flipud", "roll", "narrow", "select",
           "split", "chunk", "unbind", "tril", "triu", "diagonal", "diag_embed", "diag", "trace",
           "einsum", "atleast_1d", "atleast_2d", "atleast_3d"]
# x.<name>(...), the tensor first
METHODS = ("reshape", "reshape_as", "view_as", "permute", "transpose", "flatten", "unflatten",
           "ravel", "squeeze", "unsqueeze", "contiguous", "clone", "expand", "expand_as",
           "repeat", "tile", "repeat_interleave", "swapaxes", "swapdims", "t", "movedim",
           "moveaxis", "flip", "fliplr", "flipud", "roll", "narrow", "select", "split", "chunk",
           "unbind", "tril", "triu", "diagonal", "diag_embed", "diag", "trace")
