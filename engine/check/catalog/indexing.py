"""The catalogue cases of the indexing family. Index arrays are drawn as params and become int64
tensors on the input's device; they repeat wherever the gradient must add up, and never where
one src element would overwrite another (a gradient that numerical differentiation cannot see)."""
import numpy as np

import kernels.reference as ref

from ...tensor import Tensor
from .drawing import Case, broadcast_pair, distinct


def _on(x, array):
    return Tensor(array, device=x.device)


def _dim(d, ndim):
    return d.integer(-ndim, ndim - 1)


def _indices(d, shape, size):
    """An int64 array of `shape` of indices in [0, size), repeats allowed."""
    count = int(np.prod(shape, dtype=np.int64))
    return np.array([d.integer(0, size - 1) for _ in range(count)], np.int64).reshape(shape)


def _index_shape(d, shape, axis, along=None):
    """A shape no larger than `shape` except along axis, where it is `along` (or drawn)."""
    return tuple((d.integer(1, d.side + 1) if along is None else along) if i == axis
                 else d.integer(1, n) for i, n in enumerate(shape))


def _draw_gather(d):
    shape = d.shape(1, 3)
    dim = _dim(d, len(shape))
    axis = dim % len(shape)
    return [d.uniform(shape)], {"dim": dim, "index": _indices(
        d, _index_shape(d, shape, axis), shape[axis])}


def _draw_scatter(d):
    """Distinct indices along each line of index: every src element lands alone."""
    shape = d.shape(1, 3)
    dim = _dim(d, len(shape))
    axis = dim % len(shape)
    index_shape = _index_shape(d, shape, axis, d.integer(1, shape[axis]))
    lines = np.moveaxis(np.empty(index_shape, np.int64), axis, -1)
    for p in np.ndindex(lines.shape[:-1]):
        lines[p] = d.permutation(shape[axis])[:lines.shape[-1]]
    index = np.ascontiguousarray(np.moveaxis(lines, -1, axis))
    return [d.uniform(shape), d.uniform(index_shape)], {"dim": dim, "index": index}


def _draw_scatter_add(d):
    [x], params = _draw_gather(d)
    return [x, d.uniform(params["index"].shape)], params


def _draw_scatter_value(d):
    [x], params = _draw_gather(d)
    return [x], dict(params, value=d.uniform(()).item())


def _signed_distinct(d, shapes):
    """Arrays of the given shapes whose values are all distinct and at least 0.1 from zero:
    no ties for amax and amin, no zero for prod."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    magnitudes = 0.1 + np.asarray(d.distinct_integers(sum(sizes), 1, 1000), np.float64) / 250
    values = np.where(d.booleans(sum(sizes)), 1, -1) * magnitudes
    return [part.reshape(s) for part, s in zip(np.split(values, np.cumsum(sizes)[:-1]), shapes)]


def _draw_scatter_reduce(d):
    [x], params = _draw_gather(d)
    inputs = _signed_distinct(d, [x.shape, params["index"].shape])
    return inputs, dict(params, reduce=d.choice(["sum", "prod", "mean", "amax", "amin"]),
                        include_self=d.choice([True, False]))


def _draw_index_select(d):
    shape = d.shape(1, 3)
    dim = _dim(d, len(shape))
    return [d.uniform(shape)], {"dim": dim, "index": _indices(
        d, (d.integer(1, d.side + 1),), shape[dim % len(shape)])}


def _draw_index_add(d):
    [x], params = _draw_index_select(d)
    axis = params["dim"] % x.ndim
    source = x.shape[:axis] + (len(params["index"]),) + x.shape[axis + 1:]
    return [x, d.uniform(source)], dict(params, alpha=d.choice([1, 2.5]))


def _draw_masked_fill(d):
    shape = d.shape(0, 3)
    mask_shape = tuple(d.choice([1, n]) for n in shape[d.integer(0, len(shape)):])
    return [d.uniform(shape), d.uniform(())], {"mask": d.booleans(mask_shape)}


def _draw_masked_select(d):
    x_shape, mask_shape = broadcast_pair(d)
    return [d.uniform(x_shape)], {"mask": d.booleans(mask_shape)}


def _draw_take_along_dim(d):
    shape = d.shape(1, 3)
    if d.choice([True, False]):
        return [d.uniform(shape)], {"indices": _indices(d, d.shape(0, 2), int(np.prod(shape))),
                                    "dim": None}
    dim = _dim(d, len(shape))
    axis = dim % len(shape)
    # the other dimensions broadcast: either side may have 1 there
    x_shape = tuple(n if i == axis else d.choice([1, n]) for i, n in enumerate(shape))
    index_shape = tuple(d.integer(1, d.side + 1) if i == axis else d.choice([1, n])
                        for i, n in enumerate(shape))
    return [d.uniform(x_shape)], {"indices": _indices(d, index_shape, shape[axis]), "dim": dim}


def _draw_sort(d):
    shape = d.shape(1, 3)
    return [distinct(d, shape)], {"dim": _dim(d, len(shape)),
                                  "descending": d.choice([False, True])}


def _draw_topk(d):
    shape = d.shape(1, 3)
    dim = _dim(d, len(shape))
    return [distinct(d, shape)], {"k": d.integer(1, shape[dim]), "dim": dim,
                                  "largest": d.choice([True, False])}


def _draw_kthvalue(d):
    shape = d.shape(1, 3)
    dim = _dim(d, len(shape))
    return [distinct(d, shape)], {"k": d.integer(1, shape[dim]), "dim": dim,
                                  "keepdim": d.choice([False, True])}


CASES = [
    Case("gather", lambda x, dim, index: x.gather(dim, _on(x, index)), ref.gather, _draw_gather),
    Case("scatter", lambda x, src, dim, index: x.scatter(dim, _on(x, index), src),
         lambda x, src, **p: ref.scatter(x, src=src, **p), _draw_scatter),
    Case("scatter_value", lambda x, dim, index, value: x.scatter(dim, _on(x, index), value=value),
         ref.scatter_value, _draw_scatter_value),
    Case("scatter_add", lambda x, src, dim, index: x.scatter_add(dim, _on(x, index), src),
         lambda x, src, **p: ref.scatter_add(x, src=src, **p), _draw_scatter_add),
    Case("scatter_reduce",
         lambda x, src, dim, index, **p: x.scatter_reduce(dim, _on(x, index), src, **p),
         lambda x, src, **p: ref.scatter_reduce(x, src=src, **p), _draw_scatter_reduce),
    Case("index_select", lambda x, dim, index: x.index_select(dim, _on(x, index)),
         ref.index_select, _draw_index_select),
    Case("index_add",
         lambda x, source, dim, index, alpha: x.index_add(dim, _on(x, index), source, alpha=alpha),
         lambda x, source, **p: ref.index_add(x, source=source, **p), _draw_index_add),
    Case("masked_fill", lambda x, value, mask: x.masked_fill(_on(x, mask), value),
         lambda x, value, mask: ref.masked_fill(x, mask, value), _draw_masked_fill),
    Case("masked_select", lambda x, mask: x.masked_select(_on(x, mask)), ref.masked_select,
         _draw_masked_select),
    Case("take_along_dim", lambda x, indices, dim: x.take_along_dim(_on(x, indices), dim),
         ref.take_along_dim, _draw_take_along_dim),
    Case("sort", lambda x, **p: x.sort(**p).values, ref.sort, _draw_sort),
    Case("msort", lambda x: x.msort(), ref.msort, lambda d: ([distinct(d, d.shape(1, 3))], {})),
    Case("topk", lambda x, **p: x.topk(**p).values, ref.topk, _draw_topk),
    Case("kthvalue", lambda x, **p: x.kthvalue(**p).values, ref.kthvalue, _draw_kthvalue),
]
