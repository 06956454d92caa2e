"""The references of the pooling family: max/avg pooling in 1, 2 and 3 dimensions with their
options, unpooling, adaptive and power-average pooling. Each loops over every output element
and every position of its window, in float64."""
import itertools
import math

import numpy as np

__all__ = [f"{name}{d}d" for name in ("max_pool", "avg_pool", "max_unpool", "adaptive_max_pool",
                                      "lp_pool") for d in (1, 2, 3)]


def _tuple(v, dims):
    return (v,) * dims if np.isscalar(v) else tuple(v)


def _out_size(n, k, s, p, d, ceil_mode):
    """torch's: the windows that fit the padded axis; with ceil_mode one more, partial, window
    when it starts inside the input or the left padding."""
    span = d * (k - 1) + 1
    out = (math.ceil if ceil_mode else math.floor)((n + 2 * p - span) / s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _windows(x, dims, kernel_size, stride, padding, dilation, ceil_mode):
    """For every output position: its index and the list of (input position, in-input flag)
    of its dilated window, in row-major window order."""
    kernel = _tuple(kernel_size, dims)
    no_stride = stride is None or np.size(stride) == 0  # torch's stride=[]
    stride = kernel if no_stride else _tuple(stride, dims)
    padding, dilation = _tuple(padding, dims), _tuple(dilation, dims)
    size = np.shape(x)[-dims:]
    out = tuple(_out_size(*a, ceil_mode) for a in zip(size, kernel, stride, padding, dilation))
    for o in itertools.product(*map(range, out)):
        taps = []
        for j in itertools.product(*map(range, kernel)):
            pos = tuple(oi * s - p + ji * d for oi, ji, s, p, d in zip(o, j, stride, padding,
                                                                        dilation))
            taps.append((pos, all(0 <= q < n for q, n in zip(pos, size))))
        yield out, o, taps


def _max_pool(dims):
    def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 return_indices=False):
        x = np.asarray(x, np.float64)
        lead, size = x.shape[:-dims], x.shape[-dims:]
        y, indices = None, None
        for out, o, taps in _windows(x, dims, kernel_size, stride, padding, dilation, ceil_mode):
            if y is None:
                y, indices = np.zeros(lead + out), np.zeros(lead + out, np.int64)
            for plane in itertools.product(*map(range, lead)):
                best, where = -np.inf, -1
                for pos, inside in taps:
                    if inside and (where < 0 or x[plane + pos] > best):  # the first maximum
                        best, where = x[plane + pos], int(np.ravel_multi_index(pos, size))
                y[plane + o], indices[plane + o] = best, where
        return (y, indices) if return_indices else y
    return max_pool


def _avg_pool(dims):
    def avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        x = np.asarray(x, np.float64)
        lead, size = x.shape[:-dims], x.shape[-dims:]
        pad = _tuple(padding, dims)
        y = None
        for out, o, taps in _windows(x, dims, kernel_size, stride, padding, 1, ceil_mode):
            if y is None:
                y = np.zeros(lead + out)
            # torch's divisors: the window clipped to the padded input, or to the input
            in_padded = sum(all(-p <= q < n + p for q, n, p in zip(pos, size, pad))
                            for pos, _ in taps)
            inside = [pos for pos, real in taps if real]
            divisor = divisor_override or (in_padded if count_include_pad else len(inside))
            for plane in itertools.product(*map(range, lead)):
                y[plane + o] = sum(x[plane + pos] for pos in inside) / divisor
        return y
    return avg_pool


def _max_unpool(dims):
    def max_unpool(x, indices, kernel_size, stride=None, padding=0, output_size=None):
        x = np.asarray(x, np.float64)
        kernel = _tuple(kernel_size, dims)
        stride = kernel if stride is None else _tuple(stride, dims)
        padding = _tuple(padding, dims)
        lead = x.shape[:-dims]
        if output_size is None:
            output_size = tuple((n - 1) * s - 2 * p + k for n, k, s, p in
                                zip(x.shape[-dims:], kernel, stride, padding))
        y = np.zeros(lead + tuple(output_size)[-dims:])
        for i in itertools.product(*map(range, x.shape)):
            y[i[:-dims] + np.unravel_index(indices[i], y.shape[-dims:])] = x[i]
        return y
    return max_unpool


def _adaptive_max_pool(dims):
    def adaptive_max_pool(x, output_size, return_indices=False):
        x = np.asarray(x, np.float64)
        lead, size = x.shape[:-dims], x.shape[-dims:]
        given = _tuple(output_size, dims)
        out = tuple(n if m is None else m for n, m in zip(size, given))
        y, indices = np.zeros(lead + out), np.zeros(lead + out, np.int64)
        for o in itertools.product(*map(range, out)):
            # torch's window: [floor(o n / out), ceil((o + 1) n / out)) along each axis
            ranges = [range(oi * n // m, -(-(oi + 1) * n // m)) for oi, n, m in zip(o, size, out)]
            for plane in itertools.product(*map(range, lead)):
                best, where = -np.inf, -1
                for pos in itertools.product(*ranges):
                    if where < 0 or x[plane + pos] > best:
                        best, where = x[plane + pos], int(np.ravel_multi_index(pos, size))
                y[plane + o], indices[plane + o] = best, where
        return (y, indices) if return_indices else y
    return adaptive_max_pool


def _lp_pool(dims):
    avg_pool = _avg_pool(dims)

    def lp_pool(x, norm_type, kernel_size, stride=None, ceil_mode=False):
        # torch's formula: the mean of x ** p over each window (clipped at a ceil-mode edge)
        # times the whole kernel's size, to the power 1 / p
        mean = avg_pool(np.asarray(x, np.float64) ** norm_type, kernel_size, stride, 0,
                        ceil_mode)
        return (mean * math.prod(_tuple(kernel_size, dims))) ** (1.0 / norm_type)
    return lp_pool


max_pool1d, max_pool2d, max_pool3d = (_max_pool(d) for d in (1, 2, 3))
avg_pool1d, avg_pool2d, avg_pool3d = (_avg_pool(d) for d in (1, 2, 3))
max_unpool1d, max_unpool2d, max_unpool3d = (_max_unpool(d) for d in (1, 2, 3))
adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d = (_adaptive_max_pool(d)
                                                                  for d in (1, 2, 3))
lp_pool1d, lp_pool2d, lp_pool3d = (_lp_pool(d) for d in (1, 2, 3))
