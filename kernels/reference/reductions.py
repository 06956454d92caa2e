"""The references of the reductions family: folds over axes and scans along one axis, by loops
in float64."""
import math

import numpy as np

from .core import fold, sum


def _axes(x, dim):
    """dim (None, an int or a tuple; negative allowed) as a tuple of axes of x."""
    return tuple(range(x.ndim)) if dim is None else tuple(a % x.ndim for a in np.atleast_1d(dim))


def amin(x, dim=None, keepdim=False):
    return fold(x, dim, keepdim, math.inf, lambda acc, v: v if v < acc else acc)


def prod(x, dim=None, keepdim=False):
    return fold(x, dim, keepdim, 1.0, lambda acc, v: acc * v)


def var(x, dim=None, keepdim=False, correction=1):
    x = np.asarray(x, np.float64)
    count = math.prod(x.shape[a] for a in _axes(x, dim))
    mean = sum(x, dim, True) / count
    return sum((x - mean) ** 2, dim, keepdim) / max(0, count - correction)


def std(x, dim=None, keepdim=False, correction=1):
    return np.sqrt(var(x, dim, keepdim, correction))


def logsumexp(x, dim, keepdim=False):
    # the exponentials shifted by the maximum: no overflow
    x = np.asarray(x, np.float64)
    shift = fold(x, dim, True, -math.inf, max)
    total = sum(np.exp(x - shift), dim, True)
    out = np.log(total) + shift
    return out if keepdim else out.reshape([n for i, n in enumerate(x.shape)
                                            if i not in _axes(x, dim)])


def norm(x, p="fro", dim=None, keepdim=False):
    if p == math.inf:
        return fold(np.abs(x), dim, keepdim, 0.0, max)
    if p == -math.inf:
        return amin(np.abs(x), dim, keepdim)
    p = 2 if p == "fro" else p
    return sum(np.abs(np.asarray(x, np.float64)) ** p, dim, keepdim) ** (1 / p)


def _scan(x, dim, step):
    """out[..., i, ...] = step(out[..., i - 1, ...], x[..., i, ...]) along dim, row by row."""
    x = np.moveaxis(np.asarray(x, np.float64), dim, -1)
    out = np.empty(x.shape)
    for row in np.ndindex(x.shape[:-1]):
        for i in range(x.shape[-1]):
            out[row + (i,)] = x[row + (i,)] if i == 0 else step(out[row + (i - 1,)], x[row + (i,)])
    return np.moveaxis(out, -1, dim)


def cumsum(x, dim):
    return _scan(x, dim, lambda acc, v: acc + v)


def cumprod(x, dim):
    return _scan(x, dim, lambda acc, v: acc * v)


def cummax(x, dim):
    return _scan(x, dim, max)


def cummin(x, dim):
    return _scan(x, dim, min)


def logcumsumexp(x, dim):
    def log_add_exp(a, b):
        big, small = max(a, b), min(a, b)
        return big if small == -math.inf else big + math.log1p(math.exp(small - big))
    return _scan(x, dim, log_add_exp)
