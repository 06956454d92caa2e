"""Gathering, scattering and sorting along one axis."""
import numpy as np

__all__ = ["take_along_axis", "scatter", "sort"]

# numpy's unbuffered in-place combinations, applied in index order (so repeated indices add up)
_COMBINE = {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


def take_along_axis(x, indices, axis):
    # indices may be shorter than x along the other axes: read only that corner of x
    corner = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(indices.shape))
    return np.take_along_axis(x[corner], indices, axis)


def scatter(x, indices, src, axis, reduce):
    out = np.array(x, copy=True, order="C")
    # the full index of every src element: its own coordinates, with `indices` along axis
    where = list(np.indices(indices.shape, sparse=True))
    where[axis] = indices
    if reduce is None:
        out[tuple(where)] = src
    else:
        _COMBINE[reduce].at(out, tuple(where), src)
    return out


def sort(x, axis, descending):
    if not descending:
        indices = np.argsort(x, axis=axis, kind="stable")
    else:
        # a stable ascending sort of the reversed axis, reversed: descending, and equal values
        # keep their order (nan, numpy's largest, comes first)
        n = x.shape[axis]
        indices = n - 1 - np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)
    indices = indices.astype(np.int64, copy=False)
    return np.take_along_axis(x, indices, axis), indices
