"""Scans along one axis: cumulative sums, products, extrema and log-sum-exps."""
import numpy as np

__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


def cumsum(x, axis):
    return np.cumsum(x, axis=axis)


def cumprod(x, axis):
    return np.cumprod(x, axis=axis)


def _cumulative_extremum(ufunc, x, axis):
    values = ufunc.accumulate(x, axis=axis)
    # a position holds the running extremum from where it set it (x equal to the running value,
    # nan included, which torch treats as the extremum) to the next one: the last index wins ties
    positions = np.arange(x.shape[axis]).reshape((-1,) + (1,) * (x.ndim - 1 - axis))
    setters = np.where((x == values) | (x != x), positions, 0)
    return values, np.maximum.accumulate(setters, axis=axis).astype(np.int64, copy=False)


def cummax(x, axis):
    return _cumulative_extremum(np.maximum, x, axis)


def cummin(x, axis):
    return _cumulative_extremum(np.minimum, x, axis)


def logcumsumexp(x, axis):
    return np.logaddexp.accumulate(x, axis=axis)
