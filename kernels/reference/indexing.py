"""The references of the indexing family: gathering, scattering, selecting and sorting, element
by element (index arrays are int64, masks bool)."""
import math

import numpy as np


def _with(position, dim, value):
    """position with its coordinate along dim replaced."""
    return position[:dim] + (int(value),) + position[dim + 1:]


def gather(x, dim, index):
    dim %= x.ndim
    out = np.empty(index.shape)
    for position in np.ndindex(index.shape):
        out[position] = x[_with(position, dim, index[position])]
    return out


_REDUCE = {None: lambda values: values[-1], "sum": math.fsum, "prod": math.prod,
           "mean": lambda values: math.fsum(values) / len(values), "amax": max, "amin": min}


def scatter_reduce(x, dim, index, src, reduce, include_self=True):
    """Each place index points at combines its values (x's own first, with include_self), in
    index order; reduce None keeps the last."""
    dim %= x.ndim
    out = np.array(x, np.float64)
    arrivals = {}
    for position in np.ndindex(index.shape):
        place = _with(position, dim, index[position])
        arrivals.setdefault(place, []).append(float(src[position]))
    for place, values in arrivals.items():
        out[place] = _REDUCE[reduce](([float(x[place])] if include_self else []) + values)
    return out


def scatter(x, dim, index, src):
    return scatter_reduce(x, dim, index, src, None)


def scatter_value(x, dim, index, value):
    return scatter_reduce(x, dim, index, np.full(index.shape, value), None)


def scatter_add(x, dim, index, src):
    return scatter_reduce(x, dim, index, src, "sum")


def index_select(x, dim, index):
    dim %= x.ndim
    shape = x.shape[:dim] + (len(index),) + x.shape[dim + 1:]
    out = np.empty(shape)
    for position in np.ndindex(shape):
        out[position] = x[_with(position, dim, index[position[dim]])]
    return out


def index_add(x, dim, index, source, alpha=1):
    dim %= x.ndim
    out = np.array(x, np.float64)
    for position in np.ndindex(source.shape):
        out[_with(position, dim, index[position[dim]])] += alpha * source[position]
    return out


def masked_fill(x, mask, value):
    mask = np.broadcast_to(mask, x.shape)
    out = np.array(x, np.float64)
    for position in np.ndindex(x.shape):
        if mask[position]:
            out[position] = value
    return out


def masked_select(x, mask):
    x, mask = np.broadcast_arrays(x, mask)
    return np.array([float(x[p]) for p in np.ndindex(x.shape) if mask[p]])


def take_along_dim(x, indices, dim=None):
    if dim is None:
        return gather(np.reshape(x, -1), 0, np.reshape(indices, -1))
    dim %= x.ndim
    others = np.broadcast_shapes(*(s[:dim] + (1,) + s[dim + 1:] for s in (x.shape, indices.shape)))
    x = np.broadcast_to(x, others[:dim] + (x.shape[dim],) + others[dim + 1:])
    return gather(x, dim, np.broadcast_to(indices, others[:dim] + (indices.shape[dim],)
                                          + others[dim + 1:]))


def _per_line(x, dim, f):
    """f applied to every line of x along dim (a list of floats to a list), as an array with
    the lines' new length along dim."""
    moved = np.moveaxis(np.asarray(x, np.float64), dim, -1)
    lines = [f([float(v) for v in moved[p]]) for p in np.ndindex(moved.shape[:-1])]
    length = len(lines[0]) if lines else 0
    return np.moveaxis(np.array(lines).reshape(moved.shape[:-1] + (length,)), -1, dim)


def sort(x, dim=-1, descending=False):
    return _per_line(x, dim, lambda line: sorted(line, reverse=descending))


def msort(x):
    return sort(x, 0)


def topk(x, k, dim=-1, largest=True):
    return _per_line(x, dim, lambda line: sorted(line, reverse=largest)[:k])


def kthvalue(x, k, dim=-1, keepdim=False):
    out = _per_line(x, dim, lambda line: [sorted(line)[k - 1]])
    return out if keepdim else np.squeeze(out, dim)
