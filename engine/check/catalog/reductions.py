"""The catalogue cases of the reductions family: reductions over axes and scans along one."""
import math

import numpy as np

import kernels.reference as ref
from .drawing import Case, away_from_zero, axes, distinct


def _signed_distinct(d, shape):
    """Distinct magnitudes in [0.004, 4] with random signs: |x| has a single max and min."""
    size = int(np.prod(shape, dtype=np.int64))
    magnitudes = np.asarray(d.distinct_integers(size, 1, 1000), np.float64).reshape(shape) / 250
    return np.where(d.booleans(shape), 1, -1) * magnitudes


def _over_axes(values=None, min_side=1, dims=axes):
    """A reduction's draw: x of 1 to 3 dims, dim (None, an int or a tuple) and keepdim."""
    def draw(d):
        shape = d.shape(1, 3, min_side=min_side)
        x = values(d, shape) if values else d.uniform(shape)
        return [x], {"dim": dims(d, len(shape)), "keepdim": d.choice([False, True])}
    return draw


def _some_axes(d, ndim):
    """An int or a tuple of axes (never None: for ops whose dim is required)."""
    return d.integer(-ndim, ndim - 1) if d.choice([True, False]) else d.subset(ndim)


def _one_axis(d, ndim):
    return d.integer(-ndim, ndim - 1)


def _along(values=None):
    """A scan's draw: x of 1 to 3 dims and the one dim it runs along."""
    def draw(d):
        shape = d.shape(1, 3)
        return [values(d, shape) if values else d.uniform(shape)], {
            "dim": _one_axis(d, len(shape))}
    return draw


def _draw_var(d):
    """Sides of at least 2 and a correction below the count: degrees of freedom remain."""
    (x,), params = _over_axes(distinct, min_side=2)(d)
    dim = params["dim"]
    count = x.size if dim is None else math.prod(x.shape[a] for a in np.atleast_1d(dim))
    return [x], dict(params, correction=d.choice([0, 1, 2][:min(3, count)]))


def _draw_norm(d):
    x, params = _over_axes(_signed_distinct)(d)
    return x, dict(params, p=d.choice(["fro", 2, 1, 3, 1.5, math.inf, -math.inf]))


def _near_one(d, shape):
    """|x| in [0.5, 1.5], away from 0: a product stays near 1 in magnitude."""
    return away_from_zero(d, shape, 0.5, 1.5)


CASES = [
    Case("sum", lambda x, **p: x.sum(**p), lambda x, dim, keepdim: ref.sum(x, dim, keepdim),
         _over_axes()),
    Case("mean", lambda x, **p: x.mean(**p), lambda x, dim, keepdim: ref.mean(x, dim, keepdim),
         _over_axes()),
    Case("max", lambda x: x.max(), ref.max, lambda d: ([distinct(d, d.shape(0, 3))], {})),
    Case("min", lambda x: x.min(), ref.amin, lambda d: ([distinct(d, d.shape(0, 3))], {})),
    Case("amax", lambda x, **p: x.amax(**p), lambda x, dim, keepdim: ref.max(x, dim, keepdim),
         _over_axes(distinct, dims=_some_axes)),
    Case("amin", lambda x, **p: x.amin(**p), ref.amin, _over_axes(distinct, dims=_some_axes)),
    Case("max_dim", lambda x, **p: x.max(**p).values,
         lambda x, dim, keepdim: ref.max(x, dim, keepdim), _over_axes(distinct, dims=_one_axis)),
    Case("min_dim", lambda x, **p: x.min(**p).values, ref.amin,
         _over_axes(distinct, dims=_one_axis)),
    Case("prod", lambda x, **p: x.prod(**p), ref.prod,
         _over_axes(_near_one, dims=lambda d, n: d.choice([None, _one_axis(d, n)]))),
    Case("var", lambda x, **p: x.var(**p), ref.var, _draw_var),
    Case("std", lambda x, **p: x.std(**p), ref.std, _draw_var),
    Case("logsumexp", lambda x, **p: x.logsumexp(**p), ref.logsumexp,
         _over_axes(dims=_some_axes)),
    Case("norm", lambda x, **p: x.norm(**p), ref.norm, _draw_norm),
    Case("cumsum", lambda x, dim: x.cumsum(dim), ref.cumsum, _along()),
    Case("cumprod", lambda x, dim: x.cumprod(dim), ref.cumprod, _along(_near_one)),
    Case("cummax", lambda x, dim: x.cummax(dim).values, ref.cummax, _along(distinct)),
    Case("cummin", lambda x, dim: x.cummin(dim).values, ref.cummin, _along(distinct)),
    Case("logcumsumexp", lambda x, dim: x.logcumsumexp(dim), ref.logcumsumexp, _along()),
    Case("nansum", lambda x, **p: x.nansum(**p),
         lambda x, dim, keepdim: ref.sum(x, dim, keepdim), _over_axes()),
]
