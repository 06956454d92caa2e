"""Reductions over axes, read in place with strides (no transposed copy).

The axes are first merged: size-1 axes are dropped and adjacent axes that are both reduced or
both kept become one. What remains is a list of kept dims, which number the outputs, and of
reduced dims, whose innermost one runs for `inner` elements at a fixed stride. Two kernels
cover every layout, each with strides and shapes as tuple arguments (no host copies):

- rows, when the innermost merged dim is reduced (sum(-1), a full sum, NCHW over (0, 2, 3)): a
  group of threads (a block, or a power of two below it for short rows) owns each output and
  strides through its elements, which lie in runs of `inner` contiguous ones: coalesced reads,
  then a shared-memory tree.
- columns, when the innermost merged dim is kept (sum(0) of a matrix, bias gradients): a thread
  owns each output, so neighbouring threads read neighbouring columns (coalesced), and walks
  down the reduced elements on its own.

When there are too few outputs to fill the GPU, each output's elements are split into
`splits` contiguous ranges, each reduced by its own group or thread into a partial, and a
second launch, of the rows kernel, reduces each output's partials: deterministic, no atomics
(a third only when a second would have a great many partials to read alone). Values
accumulate in the input's dtype (float32 stays float32, int64 exact), except that bools are
counted in int64; each thread keeps four reads in flight where its run allows. argmax and
argmin take the same two layouts over (value, index) pairs. Inputs that are not C-contiguous
(views) are copied first, as by every kernel of this backend.
"""
import builtins  # this module defines sum, max and min
import functools
import math

import numpy as np
from numba import cuda, from_dtype, int64

from .device import MAX_BLOCKS, THREADS, contiguous, launch, xp

__all__ = ["sum", "max", "min", "prod", "argmax", "argmin"]

_BLOCK = THREADS  # threads per block of the rows kernels, a power of two
# Threads that keep a GPU busy: about 1024 blocks of 256 on a GPU; in the simulator 2 blocks of
# 4, so that its tests take the split paths too.
_FILL = builtins.max(2, MAX_BLOCKS // 4) * THREADS
_PER_THREAD = 16  # the fewest elements a thread reads in a split: fewer and a split costs more

_COMBINE = {"sum": lambda a, b: a + b,  # one a line: kernels are named by their lines
            "prod": lambda a, b: a * b,
            # a nan (a != a) wins, as in torch
            "max": lambda a, b: a if a >= b or a != a else b,
            "min": lambda a, b: a if a <= b or a != a else b}


@cuda.jit(device=True)
def _offset(i, shape, strides):
    """The offset of flat index i over dims (shape, strides) in C order: no division for one dim
    (the first dim takes whatever remains)."""
    offset = 0
    for d in range(len(shape) - 1, 0, -1):
        offset += (i % shape[d]) * strides[d]
        i //= shape[d]
    return offset + i * strides[0]


@functools.lru_cache(maxsize=None)
def _rows(op, dtype):
    """The rows kernel of `op` (see the module's docstring) accumulating in `dtype`, the dtype
    of out and of identity, the start of each output (cast on the host: float32 adds up in
    float32, int64 exactly; x may be narrower, as bools viewed as uint8 counted in int64).
    out holds outputs x splits partials, a split's last."""
    combine = cuda.jit(device=True)(_COMBINE[op])
    element = from_dtype(dtype)  # a global of the kernel: a GPU compile cannot call from_dtype

    @cuda.jit
    def kernel(x, out, identity, kept_shape, kept_strides, outer_shape, outer_strides, inner,
               count, splits, group):
        shared = cuda.shared.array(_BLOCK, dtype=element)
        t = cuda.threadIdx.x
        lane = t % group
        per_block = cuda.blockDim.x // group
        per_split = (count + splits - 1) // splits
        first = cuda.blockIdx.x * per_block
        while first < out.size:  # the same trips for every thread of the block: it syncs
            task = first + t // group
            acc = identity
            if task < out.size:
                o = task // splits
                r = (task - o * splits) * per_split
                stop = r + per_split
                if stop > count:
                    stop = count
                base = _offset(o, kept_shape, kept_strides)
                r += lane
                q = r // inner  # the element's run, and j its place in the run
                j = r - q * inner
                start = base + _offset(q, outer_shape, outer_strides)
                while r < stop:
                    if j + 3 * group < inner and r + 3 * group < stop:
                        # four independent reads in flight (the same order of combining)
                        a = x[start + j]
                        b = x[start + j + group]
                        c = x[start + j + 2 * group]
                        d = x[start + j + 3 * group]
                        acc = combine(combine(combine(combine(acc, a), b), c), d)
                        r += 4 * group
                        j += 4 * group
                    else:
                        acc = combine(acc, x[start + j])
                        r += group
                        j += group
                    if j >= inner:  # the next run: a division only when a run is crossed
                        q += j // inner
                        j %= inner
                        start = base + _offset(q, outer_shape, outer_strides)
            shared[t] = acc
            cuda.syncthreads()
            step = group // 2
            while step > 0:
                if lane < step:
                    shared[t] = combine(shared[t], shared[t + step])
                cuda.syncthreads()
                step //= 2
            if lane == 0 and task < out.size:
                out[task] = shared[t]
            first += cuda.gridDim.x * per_block
    return kernel


@functools.lru_cache(maxsize=None)
def _columns(op, dtype):
    """The columns kernel of `op` accumulating in `dtype` (as _rows): out holds outputs x
    splits partials, a split's last, as _rows' (whose kernel reduces them, each output's
    partials side by side: a few scattered writes buy a second pass that reads in rows)."""
    combine = cuda.jit(device=True)(_COMBINE[op])
    accumulator = from_dtype(dtype)  # names the kernel by its dtype too (see compile_check)

    @cuda.jit
    def kernel(x, out, identity, kept_shape, kept_strides, outer_shape, outer_strides, inner,
               inner_stride, count, splits):
        outputs = out.size // splits
        per_split = (count + splits - 1) // splits
        i = cuda.grid(1)
        while i < out.size:
            s = i // outputs  # neighbouring threads take neighbouring outputs: coalesced reads
            o = i - s * outputs
            r = s * per_split
            stop = r + per_split
            if stop > count:
                stop = count
            base = _offset(o, kept_shape, kept_strides)
            q = r // inner
            j = r - q * inner
            start = base + _offset(q, outer_shape, outer_strides)
            acc = accumulator(identity)
            while r < stop:
                at = start + j * inner_stride
                if j + 3 < inner and r + 3 < stop:  # four reads in flight, as in _rows
                    a = x[at]
                    b = x[at + inner_stride]
                    c = x[at + 2 * inner_stride]
                    d = x[at + 3 * inner_stride]
                    acc = combine(combine(combine(combine(acc, a), b), c), d)
                    r += 4
                    j += 4
                else:
                    acc = combine(acc, x[at])
                    r += 1
                    j += 1
                if j == inner:
                    q += 1
                    j = 0
                    start = base + _offset(q, outer_shape, outer_strides)
            out[o * splits + s] = acc
            i += cuda.gridsize(1)
    return kernel


_DTYPES = (np.float32, np.float64, np.int32, np.int64, np.uint8)  # uint8: bools
# made at import for the common dtypes, so that the compile check finds them (others on demand;
# bools, viewed as uint8, count in int64: no uint8 sums or products)
for _op in _COMBINE:
    for _dtype in _DTYPES[:-1] if _op in ("sum", "prod") else _DTYPES:
        _rows(_op, np.dtype(_dtype))
        _columns(_op, np.dtype(_dtype))


def _identity(op, dtype):
    """The start of `op`'s accumulator, as a scalar of `dtype` (a typed kernel argument)."""
    if op in ("sum", "prod"):
        return dtype.type(0 if op == "sum" else 1)
    if dtype.kind == "f":
        return dtype.type(-np.inf if op == "max" else np.inf)
    return dtype.type(np.iinfo(dtype).min if op == "max" else np.iinfo(dtype).max)


def _padded(dims):
    """(shape, strides) tuples of dims, one dim at least (of 1 element): a kernel's tuples."""
    dims = dims or [(1, 0)]
    return tuple(int(n) for n, _ in dims), tuple(int(s) for _, s in dims)


class _Plan:
    """A reduction of a C-contiguous array of `shape` over `axes`, merged (see the module's
    docstring): the arguments its kernels share, and which kernel it takes."""

    def __init__(self, shape, axes):
        dims, stride = [], 1  # [size, stride, reduced], innermost first
        for a in reversed(range(len(shape))):
            if shape[a] != 1:
                reduced = a in axes
                if dims and dims[-1][2] == reduced:
                    dims[-1][0] *= shape[a]  # contiguous: the merged dim keeps the inner stride
                else:
                    dims.append([shape[a], stride, reduced])
            stride *= shape[a]
        dims.reverse()
        kept = [(n, s) for n, s, reduced in dims if not reduced]
        reduced = [(n, s) for n, s, r in dims if r] or [(1, 0)]
        self.rows = not dims or dims[-1][2]
        self.outputs = math.prod(n for n, _ in kept)
        self.count = math.prod(n for n, _ in reduced)
        self.inner, self.inner_stride = (int(v) for v in reduced[-1])
        self.shapes = _padded(kept) + _padded(reduced[:-1])

    def rows_geometry(self):
        """(group, splits, blocks) of the rows kernel: a group of threads per output (fewer than
        a block for short rows), and splits of each output to fill the GPU."""
        group = (THREADS if self.count >= THREADS
                 else 1 << (builtins.max(self.count, 1) - 1).bit_length())
        splits = builtins.max(1, builtins.min(-(-_FILL // (self.outputs * group)),
                                              self.count // (group * _PER_THREAD)))
        blocks = builtins.min(MAX_BLOCKS, -(-self.outputs * splits * group // _BLOCK))
        return group, splits, blocks

    def columns_geometry(self):
        """(splits, blocks) of the columns kernel: a thread per output, and splits to fill."""
        splits = builtins.max(1, builtins.min(-(-_FILL // self.outputs),
                                              self.count // _PER_THREAD))
        return splits, builtins.min(MAX_BLOCKS, -(-self.outputs * splits // THREADS))


def _reduce_flat(op, x, plan, identity):
    """The outputs of the plan over flat x, a 1-D array in the accumulator's dtype."""
    out_dtype = identity.dtype
    if plan.rows:
        group, splits, blocks = plan.rows_geometry()
        out = xp.empty(plan.outputs * splits, out_dtype)
        launch(_rows(op, out_dtype), (blocks, _BLOCK), x, out, identity, *plan.shapes,
               plan.inner, plan.count, splits, group)
    else:
        splits, blocks = plan.columns_geometry()
        out = xp.empty(plan.outputs * splits, out_dtype)
        launch(_columns(op, out_dtype), (blocks, THREADS), x, out, identity, *plan.shapes,
               plan.inner, plan.inner_stride, plan.count, splits)
    if splits == 1:
        return out
    # the (outputs, splits) partials, reduced as rows
    return _reduce_flat(op, out, _Plan((plan.outputs, splits), (1,)), identity)


def _reduce(op, x, axes, keepdims):
    axes = tuple(range(x.ndim)) if axes is None else tuple(a % builtins.max(x.ndim, 1)
                                                             for a in axes)
    kept_shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    shape = (tuple(1 if i in axes else n for i, n in enumerate(x.shape)) if keepdims
             else kept_shape)
    boolean = x.dtype.kind == "b"
    if boolean:  # max and min of bools stay bools; sums and products count, in int64
        x = x.view(np.uint8)
    accumulator = np.dtype(np.int64) if boolean and op in ("sum", "prod") else x.dtype
    plan = _Plan(x.shape, axes)
    if plan.outputs == 0 or plan.count == 0:  # nothing to read: no launch
        out = xp.full(plan.outputs, _identity(op, accumulator), accumulator)
    else:
        out = _reduce_flat(op, contiguous(x).reshape(-1), plan, _identity(op, accumulator))
    if boolean and op in ("max", "min"):
        out = out.view(np.bool_)
    return out.reshape(shape)


def sum(x, axis, keepdims):
    return _reduce("sum", x, axis, keepdims)


def max(x, axis, keepdims):
    return _reduce("max", x, axis, keepdims)


def min(x, axis, keepdims):
    return _reduce("min", x, axis, keepdims)


def prod(x, axis, keepdims):
    return _reduce("prod", x, axis, keepdims)


# --- argmax and argmin: the same two layouts over (value, index) pairs ---------------------------
@cuda.jit(device=True)
def _wins_max(v, i, best, where):
    """Whether (v, i) beats (best, where) in an argmax: a nan beats all but an earlier nan (as
    in torch and numpy), a bigger value beats, an equal one if earlier. where < 0 is no
    candidate yet (a thread with no elements); i < 0 is none either."""
    if i < 0:
        return False
    if where < 0:
        return True
    if v != v:
        return best == best or i < where
    return best == best and (v > best or (v == best and i < where))


@cuda.jit(device=True)
def _wins_min(v, i, best, where):
    """As _wins_max for an argmin."""
    if i < 0:
        return False
    if where < 0:
        return True
    if v != v:
        return best == best or i < where
    return best == best and (v < best or (v == best and i < where))


@cuda.jit(device=True)
def _own_index(given, at, r):
    """A first pass: an element's index is its place r among the output's elements."""
    return r


@cuda.jit(device=True)
def _given_index(given, at, r):
    """A second pass over partials: an element's index is the one its first pass found."""
    return given[at]


_WINS = {"argmax": _wins_max, "argmin": _wins_min}


@functools.lru_cache(maxsize=None)
def _arg_rows(kind, dtype, index):
    """The rows kernel of an argmax or argmin (`kind`) for arrays of `dtype`: values and
    indices hold the winning (value, index) pair of each of the outputs x splits tasks. A
    second pass (index _given_index) reduces such pairs, x the values and given the indices; a
    first pass (_own_index) ignores given."""
    wins = _WINS[kind]
    element = from_dtype(dtype)
    position = _given_index if index == "given" else _own_index

    @cuda.jit
    def kernel(x, given, values, indices, kept_shape, kept_strides, outer_shape, outer_strides,
               inner, count, splits, group):
        shared_best = cuda.shared.array(_BLOCK, dtype=element)
        shared_where = cuda.shared.array(_BLOCK, dtype=int64)
        t = cuda.threadIdx.x
        lane = t % group
        per_block = cuda.blockDim.x // group
        per_split = (count + splits - 1) // splits
        first = cuda.blockIdx.x * per_block
        while first < values.size:
            task = first + t // group
            best, where = element(0), -1
            if task < values.size:
                o = task // splits
                r = (task - o * splits) * per_split
                stop = r + per_split
                if stop > count:
                    stop = count
                base = _offset(o, kept_shape, kept_strides)
                r += lane
                q = r // inner
                j = r - q * inner
                start = base + _offset(q, outer_shape, outer_strides)
                while r < stop:
                    v, i = x[start + j], position(given, start + j, r)
                    if wins(v, i, best, where):
                        best, where = v, i
                    r += group
                    j += group
                    if j >= inner:
                        q += j // inner
                        j %= inner
                        start = base + _offset(q, outer_shape, outer_strides)
            shared_best[t] = best
            shared_where[t] = where
            cuda.syncthreads()
            step = group // 2
            while step > 0:
                if lane < step and wins(shared_best[t + step], shared_where[t + step],
                                        shared_best[t], shared_where[t]):
                    shared_best[t] = shared_best[t + step]
                    shared_where[t] = shared_where[t + step]
                cuda.syncthreads()
                step //= 2
            if lane == 0 and task < values.size:
                values[task] = shared_best[t]
                indices[task] = shared_where[t]
            first += cuda.gridDim.x * per_block
    return kernel


@functools.lru_cache(maxsize=None)
def _arg_columns(kind, dtype):
    """The columns kernel of an argmax or argmin: a thread per (output, split), its pair written
    at output x splits + split, so that the second pass is _arg_rows(..., "given")."""
    wins = _WINS[kind]
    element = from_dtype(dtype)

    @cuda.jit
    def kernel(x, values, indices, kept_shape, kept_strides, outer_shape, outer_strides, inner,
               inner_stride, count, splits):
        outputs = values.size // splits
        per_split = (count + splits - 1) // splits
        i = cuda.grid(1)
        while i < values.size:
            s = i // outputs
            o = i - s * outputs
            r = s * per_split
            stop = r + per_split
            if stop > count:
                stop = count
            base = _offset(o, kept_shape, kept_strides)
            q = r // inner
            j = r - q * inner
            start = base + _offset(q, outer_shape, outer_strides)
            best, where = element(0), -1
            while r < stop:
                v = x[start + j * inner_stride]
                if wins(v, r, best, where):
                    best, where = v, r
                r += 1
                j += 1
                if j == inner:
                    q += 1
                    j = 0
                    start = base + _offset(q, outer_shape, outer_strides)
            values[o * splits + s] = best
            indices[o * splits + s] = where
            i += cuda.gridsize(1)
    return kernel


for _kind in _WINS:
    for _dtype in _DTYPES:
        _arg_rows(_kind, np.dtype(_dtype), "own")
        _arg_rows(_kind, np.dtype(_dtype), "given")
        _arg_columns(_kind, np.dtype(_dtype))


def _arg(kind, x, axis):
    """Index of the first extremum (or of the first nan), over all elements (axis None, a flat
    index) or along one axis."""
    if x.dtype.kind == "b":
        x = x.view(np.uint8)
    axes = tuple(range(x.ndim)) if axis is None else (axis % builtins.max(x.ndim, 1),)
    kept_shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    plan = _Plan(x.shape, axes)
    if plan.outputs == 0:
        return xp.empty(kept_shape, np.int64)
    x = contiguous(x).reshape(-1)
    if plan.rows:
        group, splits, blocks = plan.rows_geometry()
        values = xp.empty(plan.outputs * splits, x.dtype)
        indices = xp.empty(plan.outputs * splits, np.int64)
        launch(_arg_rows(kind, x.dtype, "own"), (blocks, _BLOCK), x, x, values, indices,
               *plan.shapes, plan.inner, plan.count, splits, group)
    else:
        splits, blocks = plan.columns_geometry()
        values = xp.empty(plan.outputs * splits, x.dtype)
        indices = xp.empty(plan.outputs * splits, np.int64)
        launch(_arg_columns(kind, x.dtype), (blocks, THREADS), x, values, indices, *plan.shapes,
               plan.inner, plan.inner_stride, plan.count, splits)
    while splits > 1:  # the (outputs, splits) partial pairs, reduced as rows of pairs
        plan = _Plan((plan.outputs, splits), (1,))
        group, splits, blocks = plan.rows_geometry()
        partial_values, partial_indices = values, indices
        values = xp.empty(plan.outputs * splits, x.dtype)
        indices = xp.empty(plan.outputs * splits, np.int64)
        launch(_arg_rows(kind, x.dtype, "given"), (blocks, _BLOCK), partial_values,
               partial_indices, values, indices, *plan.shapes, plan.inner, plan.count, splits,
               group)
    return indices.reshape(kept_shape)


def argmax(x, axis):
    return _arg("argmax", x, axis)


def argmin(x, axis):
    return _arg("argmin", x, axis)


def rows(x, axes):
    """x as a contiguous (kept, reduced) matrix with `axes` last, and the kept shape (a copy
    when the axes are not last already: for the sorts of index.py, not for the reductions)."""
    axes = tuple(range(x.ndim)) if axes is None else tuple(axes)
    kept = tuple(a for a in range(x.ndim) if a not in axes)
    moved = contiguous(xp.transpose(x, kept + axes))
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    kept_shape = tuple(x.shape[a] for a in kept)
    return moved.reshape(int(np.prod(kept_shape, dtype=np.int64)), count), kept_shape
