"""Max and average pooling over (N, C, D, H, W) volumes: one thread per output in the forward,
reading only the taps of its window that fall inside the input, and a gather in the backward
(one thread per input element, summing the windows that cover it: no atomics). kernel, stride,
padding and dilation arrive as (d, h, w) tuples. The kernels are made per dtype and compute in
it; their indices are flat and unsigned where they index (see linalg._gemm)."""
import functools
import math

import numpy as np
from numba import cuda, from_dtype, uint64 as u

from .device import flat, grid, launch, xp

__all__ = ["max_pool3d_forward", "max_pool3d_backward", "avg_pool3d_forward", "avg_pool3d_backward"]


@cuda.jit(device=True, inline=True)
def _split(i, d, h, w):
    """(plane, z, y, x) of flat index i into a C-contiguous (planes, d, h, w) array."""
    return i // (w * h * d), i // (w * h) % d, i // w % h, i % w


@cuda.jit(device=True, inline=True)
def _div(a, b):
    """a // b, without the division when b is 1 (the usual dilation, and often the stride)."""
    return a if b == 1 else a // b


@cuda.jit(device=True, inline=True)
def _taps(o, size, k, s, p, d):
    """Window o's first position and the taps [j0, j1) of it that fall inside the input."""
    start = o * s - p
    j0 = _div(-start + d - 1, d) if start < 0 else 0
    return start, j0, max(j0, min(k, _div(size - start + d - 1, d)))


@cuda.jit(device=True, inline=True)
def _covering(i, k, s, p, d, out):
    """The outputs [lo, hi) whose windows span input position i."""
    first = i + p - (k - 1) * d
    lo = 0 if first <= 0 else _div(first + s - 1, s)
    hi = min(out, _div(i + p, s) + 1)
    return min(lo, hi), hi


def _lowest(dtype):
    """Where a max starts: -inf, or the least integer."""
    return -math.inf if dtype.kind == "f" else int(np.iinfo(dtype).min)


@functools.lru_cache(maxsize=None)
def _max_forward(dtype):
    element, lowest = from_dtype(dtype), _lowest(dtype)  # globals of the kernel (see reduce.py)

    @cuda.jit
    def kernel(x, y, argmax, size, out, kernel, stride, padding, dilation):
        d, h, w = size
        od, oh, ow = out
        i = cuda.grid(1)
        while i < y.size:
            plane, oz, oy, ox = _split(i, od, oh, ow)
            zd, d0, d1 = _taps(oz, d, kernel[0], stride[0], padding[0], dilation[0])
            zh, h0, h1 = _taps(oy, h, kernel[1], stride[1], padding[1], dilation[1])
            zw, w0, w1 = _taps(ox, w, kernel[2], stride[2], padding[2], dilation[2])
            best, where, found_nan = element(lowest), -1, False
            for jd in range(d0, d1):
                iz = zd + jd * dilation[0]
                for jh in range(h0, h1):
                    iy = zh + jh * dilation[1]
                    for jw in range(w0, w1):
                        ix = zw + jw * dilation[2]
                        here = (iz * h + iy) * w + ix
                        v = x[u(plane * (d * h * w) + here)]
                        # the first of tied maxima wins, and NaN wins, as in torch
                        if not found_nan and (where < 0 or v > best or math.isnan(v)):
                            best, where, found_nan = v, here, math.isnan(v)
            y[u(i)] = best
            argmax[u(i)] = where
            i += cuda.gridsize(1)
    return kernel


@functools.lru_cache(maxsize=None)
def _max_backward(dtype):
    element = from_dtype(dtype)

    @cuda.jit
    def kernel(gy, argmax, gx, size, out, kernel, stride, padding, dilation):
        d, h, w = size
        od, oh, ow = out
        i = cuda.grid(1)
        while i < gx.size:
            plane, iz, iy, ix = _split(i, d, h, w)
            d0, d1 = _covering(iz, kernel[0], stride[0], padding[0], dilation[0], od)
            h0, h1 = _covering(iy, kernel[1], stride[1], padding[1], dilation[1], oh)
            w0, w1 = _covering(ix, kernel[2], stride[2], padding[2], dilation[2], ow)
            here = (iz * h + iy) * w + ix
            total = element(0)
            for oz in range(d0, d1):
                for oy in range(h0, h1):
                    for ox in range(w0, w1):
                        at = u(((plane * od + oz) * oh + oy) * ow + ox)
                        if argmax[at] == here:
                            total += gy[at]
            gx[u(i)] = total
            i += cuda.gridsize(1)
    return kernel


@cuda.jit(device=True, inline=True)
def _share(o, size, k, s, p, include_pad):
    """torch's divisor along one axis: the window clipped to the padded input, or to it."""
    start = o * s - p
    if include_pad:
        return min(k, size + p - start)
    return min(k, size - start) - max(-start, 0)


@cuda.jit(device=True, inline=True)
def _divisor(oz, oy, ox, d, h, w, kernel, stride, padding, include_pad, override):
    if override != 0:
        return override
    return (_share(oz, d, kernel[0], stride[0], padding[0], include_pad)
            * _share(oy, h, kernel[1], stride[1], padding[1], include_pad)
            * _share(ox, w, kernel[2], stride[2], padding[2], include_pad))


@functools.lru_cache(maxsize=None)
def _avg_forward(dtype):
    element = from_dtype(dtype)

    @cuda.jit
    def kernel(x, y, size, out, kernel, stride, padding, include_pad, override):
        d, h, w = size
        od, oh, ow = out
        i = cuda.grid(1)
        while i < y.size:
            plane, oz, oy, ox = _split(i, od, oh, ow)
            zd, d0, d1 = _taps(oz, d, kernel[0], stride[0], padding[0], 1)
            zh, h0, h1 = _taps(oy, h, kernel[1], stride[1], padding[1], 1)
            zw, w0, w1 = _taps(ox, w, kernel[2], stride[2], padding[2], 1)
            total = element(0)
            for jd in range(d0, d1):
                for jh in range(h0, h1):
                    row = ((plane * d + zd + jd) * h + zh + jh) * w + zw
                    for jw in range(w0, w1):
                        total += x[u(row + jw)]
            # the divisor in the dtype: an int would make the division float64
            y[u(i)] = total / element(_divisor(oz, oy, ox, d, h, w, kernel, stride, padding,
                                                include_pad, override))
            i += cuda.gridsize(1)
    return kernel


@functools.lru_cache(maxsize=None)
def _avg_backward(dtype):
    element = from_dtype(dtype)

    @cuda.jit
    def kernel(gy, gx, size, out, kernel, stride, padding, include_pad, override):
        d, h, w = size
        od, oh, ow = out
        i = cuda.grid(1)
        while i < gx.size:
            plane, iz, iy, ix = _split(i, d, h, w)
            d0, d1 = _covering(iz, kernel[0], stride[0], padding[0], 1, od)
            h0, h1 = _covering(iy, kernel[1], stride[1], padding[1], 1, oh)
            w0, w1 = _covering(ix, kernel[2], stride[2], padding[2], 1, ow)
            total = element(0)
            for oz in range(d0, d1):
                for oy in range(h0, h1):
                    for ox in range(w0, w1):
                        total += gy[u(((plane * od + oz) * oh + oy) * ow + ox)] / element(
                            _divisor(oz, oy, ox, d, h, w, kernel, stride, padding, include_pad,
                                     override))
            gx[u(i)] = total
            i += cuda.gridsize(1)
    return kernel


# made at import for the float dtypes, so that the compile check finds them (others on demand)
for _dtype in (np.float32, np.float64):
    for _factory in (_max_forward, _max_backward, _avg_forward, _avg_backward):
        _factory(np.dtype(_dtype))


def _ints(t):
    return tuple(int(v) for v in t)


def _shapes(x_shape, y_shape):
    """The (D, H, W) of the input and of the output: the kernels take flat arrays."""
    return _ints(x_shape[2:]), _ints(y_shape[2:])


def max_pool3d_forward(x, kernel, stride, padding, dilation, out_size):
    shape = tuple(x.shape[:2]) + _ints(out_size)
    y, argmax = xp.empty(shape, x.dtype), xp.empty(shape, np.int64)
    launch(_max_forward(x.dtype), grid(y.size), flat(x), y.reshape(-1), argmax.reshape(-1),
           *_shapes(x.shape, shape), *map(_ints, (kernel, stride, padding, dilation)))
    return y, argmax


def max_pool3d_backward(gy, argmax, x_shape, kernel, stride, padding, dilation):
    gx = xp.empty(x_shape, gy.dtype)
    launch(_max_backward(gy.dtype), grid(gx.size), flat(gy), flat(argmax), gx.reshape(-1),
           *_shapes(x_shape, gy.shape), *map(_ints, (kernel, stride, padding, dilation)))
    return gx


def avg_pool3d_forward(x, kernel, stride, padding, out_size, count_include_pad, divisor_override):
    y = xp.empty(tuple(x.shape[:2]) + _ints(out_size), x.dtype)
    launch(_avg_forward(x.dtype), grid(y.size), flat(x), y.reshape(-1), *_shapes(x.shape, y.shape),
           *map(_ints, (kernel, stride, padding)), bool(count_include_pad),
           int(divisor_override or 0))
    return y


def avg_pool3d_backward(gy, x_shape, kernel, stride, padding, count_include_pad, divisor_override):
    gx = xp.empty(x_shape, gy.dtype)
    launch(_avg_backward(gy.dtype), grid(gx.size), flat(gy), gx.reshape(-1),
           *_shapes(x_shape, gy.shape), *map(_ints, (kernel, stride, padding)),
           bool(count_include_pad), int(divisor_override or 0))
    return gx
