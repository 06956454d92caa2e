"""The references of the resampling family: interpolate in every mode and adaptive average
pooling, one output element at a time from torch's scalar formulas (its upsample kernels)."""
import itertools
import math

import numpy as np

__all__ = ["interpolate", "adaptive_avg_pool", "affine_grid", "grid_sample"]


def _cubic(t, a):
    t = abs(t)
    if t < 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return 0.0


def _taps(o, n, m, mode, align_corners, factor, antialias):
    """[(input index, weight)] of output position o on an axis from n to m positions."""
    scale = 1 / factor if factor else n / m
    if mode in ("nearest", "nearest-exact"):
        if n == m:
            return [(o, 1.0)]
        shift = 0.5 if mode == "nearest-exact" else 0.0
        source = math.floor(np.float32(o + shift) * np.float32(scale))  # float32, as torch
        return [(min(source, n - 1), 1.0)]
    if mode == "area":
        start, end = math.floor(o * n / m), math.ceil((o + 1) * n / m)
        return [(i, 1 / (end - start)) for i in range(start, end)]
    if align_corners:
        scale = (n - 1) / (m - 1) if m > 1 else 0.0
    if antialias:
        size = 4 if mode == "bicubic" else 2
        support = size / 2 * max(scale, 1.0)
        center = scale * (o + 0.5)
        lo, hi = max(int(center - support + 0.5), 0), min(int(center + support + 0.5), n)
        ws = []
        for i in range(lo, hi):
            d = (i - center + 0.5) / max(scale, 1.0)
            ws.append(max(0.0, 1 - abs(d)) if size == 2 else _cubic(d, -0.5))
        total = math.fsum(ws)
        return [(i, w / total) for i, w in zip(range(lo, hi), ws)] if total else []
    source = scale * o if align_corners else scale * (o + 0.5) - 0.5
    if mode == "bicubic":
        first = math.floor(source)
        t = source - first
        return [(min(max(first + k, 0), n - 1), _cubic(t - k, -0.75)) for k in range(-1, 3)]
    source = max(source, 0.0)
    low = min(math.floor(source), n - 1)
    t = source - low
    return [(low, 1 - t), (min(low + 1, n - 1), t)]


def _resample(x, sizes, mode, align_corners=False, factors=None, antialias=False):
    """x with its last len(sizes) axes resampled, a sum over the product of each axis' taps."""
    x = np.asarray(x, np.float64)
    k = len(sizes)
    lead, spatial = x.shape[:-k], x.shape[-k:]
    factors = factors or (None,) * k
    y = np.zeros(lead + tuple(sizes))
    for out in itertools.product(*(range(m) for m in sizes)):
        taps = [_taps(o, n, m, mode, align_corners, f, antialias)
                for o, n, m, f in zip(out, spatial, sizes, factors)]
        for combo in itertools.product(*taps):
            weight = math.prod(w for _, w in combo)
            y[(...,) + out] += weight * x[(...,) + tuple(i for i, _ in combo)]
    return y


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    x = np.asarray(x, np.float64)
    spatial = x.shape[2:]
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * len(spatial)
        factors = None
    else:
        factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else \
            (scale_factor,) * len(spatial)
        sizes = tuple(math.floor(n * f) for n, f in zip(spatial, factors))
        factors = None if recompute_scale_factor else factors
    return _resample(x, sizes, mode, bool(align_corners), factors, bool(antialias))


def adaptive_avg_pool(x, output_size):
    """Adaptive average pooling of the last len(output_size) axes (None keeps an extent)."""
    x = np.asarray(x, np.float64)
    k = len(output_size)
    sizes = tuple(n if m is None else m for n, m in zip(x.shape[-k:], output_size))
    return _resample(x, sizes, "area")


def affine_grid(theta, size, align_corners=False):
    """grid[n, ..., :] = theta[n] @ (x, y, (z), 1) at each output pixel's normalized centre."""
    theta = np.asarray(theta, np.float64)
    spatial = tuple(size[2:])

    def normalized(i, n):
        if align_corners:
            return -1.0 + 2.0 * i / (n - 1) if n > 1 else 0.0
        return (2 * i + 1) / n - 1

    grid = np.zeros((size[0],) + spatial + (len(spatial),))
    for n in range(size[0]):
        for index in np.ndindex(spatial):
            point = [normalized(i, m) for i, m in zip(index, spatial)][::-1] + [1.0]
            grid[(n,) + index] = [math.fsum(a * b for a, b in zip(row, point)) for row in theta[n]]
    return grid


def _grid_coordinate(g, size, padding_mode, align_corners):
    """A normalized coordinate in pixels, moved inside the axis as padding_mode says."""
    x = (g + 1) / 2 * (size - 1) if align_corners else ((g + 1) * size - 1) / 2
    if padding_mode == "reflection":
        low, high = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
        span = high - low
        if span == 0:
            x = 0.0
        else:  # mirror at both ends until inside
            while x < low or x > high:
                x = 2 * low - x if x < low else 2 * high - x
    if padding_mode != "zeros":
        x = min(max(x, 0.0), size - 1.0)
    return x


def grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    x, grid = np.asarray(x, np.float64), np.asarray(grid, np.float64)
    spatial = x.shape[2:]
    sizes = spatial[::-1]  # the grid's x, y, (z) run along the last axis first
    out = np.zeros(x.shape[:2] + grid.shape[1:-1])
    for n in range(x.shape[0]):
        for index in np.ndindex(grid.shape[1:-1]):
            coords = [_grid_coordinate(g, size, padding_mode, bool(align_corners))
                      for g, size in zip(grid[(n,) + index], sizes)]
            if mode == "nearest":
                taps = [[(int(np.rint(c)), 1.0)] for c in coords]  # half to even
            else:
                taps = [[(math.floor(c), 1 - (c - math.floor(c))),
                         (math.floor(c) + 1, c - math.floor(c))] for c in coords]
            for combo in itertools.product(*taps):
                position = [p for p, _ in combo][::-1]  # back to (z), y, x
                if all(0 <= p < m for p, m in zip(position, spatial)):
                    weight = math.prod(w for _, w in combo)
                    out[(n, slice(None)) + index] += weight * x[(n, slice(None)) + tuple(position)]
    return out
