"""conv2d and conv3d on the GPU: our vol2col and col2vol kernels (an image is a volume of depth
1), then a GEMM (cuBLAS, or our tiled one).

vol2col gives each thread one window position of one channel: it decodes the position once,
then copies every tap of the window (a warp writes consecutive columns). col2vol is a gather: each
thread owns one input element and sums the column entries that read it, so no two threads write
the same element and no atomics are needed. Both are made per dtype and compute in it; their
indices are flat and unsigned where they index (see linalg._gemm).
"""
import functools
import math

import numpy as np
from numba import cuda, from_dtype, uint64 as u

from ..contract import Conv2dKernels
from ..geometry import as_volume, volume_args, window_output_size
from .device import flat, grid, launch, xp
from .elementwise import add
from .linalg import matmul, tiled
from .reduce import sum

__all__ = ["im2col", "col2im"]


@cuda.jit(device=True, inline=True)
def _source(t, s, o):
    """The window position o with o * s == t (t: an input position plus the padding, less a
    tap's offset), or -1 when there is none below `o`: one division at most, none for stride
    1."""
    if t < 0:
        return -1
    q = t
    if s != 1:
        q = t // s
        if q * s != t:
            return -1
    return q if q < o else -1


@functools.lru_cache(maxsize=None)
def _vol2col(dtype):
    element = from_dtype(dtype)  # a global of the kernel (see reduce.py)

    @cuda.jit
    def kernel(x, cols, sizes, window, stride, padding, dilation, out):
        """cols[n, (c, kz, ki, kj), (oz, oy, ox)] = padded x[n, c, oz*sd + kz*dd - pd, ...] for
        x (N*C, D, H, W) and cols flat; sizes = (N*C, D, H, W), out = (oD, oH, oW)."""
        planes, d, h, w = sizes
        kd, kh, kw = window
        od, oh, ow = out
        spatial = od * oh * ow
        i = cuda.grid(1)
        while i < planes * spatial:
            ox = i % ow
            oy = i // ow % oh
            oz = i // (ow * oh) % od
            plane = i // spatial  # (n, c)
            z0 = oz * stride[0] - padding[0]
            y0 = oy * stride[1] - padding[1]
            x0 = ox * stride[2] - padding[2]
            at = plane * (kd * kh * kw) * spatial + i % spatial  # cols[n, (c, 0, 0, 0), (oz, ..)]
            for kz in range(kd):
                iz = z0 + kz * dilation[0]
                for ki in range(kh):
                    iy = y0 + ki * dilation[1]
                    for kj in range(kw):
                        ix = x0 + kj * dilation[2]
                        value = element(0)
                        if 0 <= iz < d and 0 <= iy < h and 0 <= ix < w:
                            value = x[u(((plane * d + iz) * h + iy) * w + ix)]
                        cols[u(at)] = value
                        at += spatial
            i += cuda.gridsize(1)
    return kernel


@functools.lru_cache(maxsize=None)
def _col2vol(dtype):
    element = from_dtype(dtype)

    @cuda.jit
    def kernel(cols, x, sizes, window, stride, padding, dilation, out):
        """x[n, c, iz, iy, ix] = the sum of the column entries that vol2col copied from it, for
        x (N*C, D, H, W) and cols flat; sizes = (N*C, D, H, W), out = (oD, oH, oW)."""
        planes, d, h, w = sizes
        kd, kh, kw = window
        od, oh, ow = out
        spatial = od * oh * ow
        i = cuda.grid(1)
        while i < planes * d * h * w:
            ix = i % w
            iy = i // w % h
            iz = i // (w * h) % d
            plane = i // (w * h * d)
            total = element(0)
            for kz in range(kd):
                oz = _source(iz + padding[0] - kz * dilation[0], stride[0], od)
                if oz < 0:
                    continue
                for ki in range(kh):
                    oy = _source(iy + padding[1] - ki * dilation[1], stride[1], oh)
                    if oy < 0:
                        continue
                    for kj in range(kw):
                        ox = _source(ix + padding[2] - kj * dilation[2], stride[2], ow)
                        if ox >= 0:
                            row = ((plane * kd + kz) * kh + ki) * kw + kj
                            total += cols[u(row * spatial + (oz * oh + oy) * ow + ox)]
            x[u(i)] = total
            i += cuda.gridsize(1)
    return kernel


# made at import for the float dtypes, so that the compile check finds them (others on demand)
for _dtype in (np.float32, np.float64):
    _vol2col(np.dtype(_dtype))
    _col2vol(np.dtype(_dtype))


def _out(size, kernel, stride, padding, dilation):
    return tuple(window_output_size(*a) for a in zip(size, kernel, stride, padding, dilation))


def _geometry(x_shape, kernel, stride, padding, dilation):
    """The tuple arguments of vol2col and col2vol."""
    out = _out(x_shape[2:], kernel, stride, padding, dilation)
    args = volume_args(kernel, stride, padding, dilation)
    sizes = (int(x_shape[0]) * int(x_shape[1]),) + as_volume(x_shape[2:])
    return out, tuple(tuple(int(v) for v in t)
                      for t in (sizes, args[:3], args[3:6], args[6:9], args[9:], as_volume(out)))


def im2col(x, kernel, stride, padding, dilation):
    """x (N, C, *size) with 2 or 3 spatial axes -> cols (N, C*prod(kernel), prod(out))."""
    out, args = _geometry(x.shape, kernel, stride, padding, dilation)
    cols = xp.empty((x.shape[0], x.shape[1] * math.prod(kernel), math.prod(out)), x.dtype)
    if cols.size:
        launch(_vol2col(x.dtype), grid(cols.size // math.prod(kernel)), flat(x), cols.reshape(-1),
               *args)
    return cols


def col2im(cols, x_shape, kernel, stride, padding, dilation):
    """The adjoint of im2col: cols -> x (x_shape), summing overlapping windows."""
    _, args = _geometry(x_shape, kernel, stride, padding, dilation)
    x = xp.empty(tuple(x_shape), cols.dtype)
    if x.size:
        launch(_col2vol(cols.dtype), grid(x.size), flat(cols), x.reshape(-1), *args)
    return x


def _im2col_kernels(matmul):
    """A convolution as im2col / col2im and batched products on `matmul`."""
    def conv_forward(x, w, b, stride, padding, dilation, groups):
        n, cout = x.shape[0], w.shape[0]
        cols = im2col(x, w.shape[2:], stride, padding, dilation)
        out = _out(x.shape[2:], w.shape[2:], stride, padding, dilation)
        grouped = cols.reshape(n, groups, -1, cols.shape[2])             # (N, G, Kg, L)
        weights = w.reshape(groups, cout // groups, -1)                  # (G, Og, Kg)
        y = matmul(weights, grouped).reshape((n, cout) + out)            # (N, G, Og, L)
        return y if b is None else add(y, b.reshape((1, -1) + (1,) * len(out)))

    def conv_backward_input(gy, w, x_shape, stride, padding, dilation, groups):
        n, cout = x_shape[0], w.shape[0]
        weights = xp.swapaxes(w.reshape(groups, cout // groups, -1), 1, 2)   # (G, Kg, Og)
        grads = gy.reshape(n, groups, cout // groups, -1)                     # (N, G, Og, L)
        cols = matmul(weights, grads).reshape(n, -1, grads.shape[-1])
        return col2im(cols, x_shape, w.shape[2:], stride, padding, dilation)

    def conv_backward_weight(x, gy, w_shape, stride, padding, dilation, groups):
        n, cout = x.shape[0], w_shape[0]
        cols = im2col(x, w_shape[2:], stride, padding, dilation)
        grouped = xp.swapaxes(cols.reshape(n, groups, -1, cols.shape[2]), 2, 3)   # (N, G, L, Kg)
        grads = gy.reshape(n, groups, cout // groups, -1)                        # (N, G, Og, L)
        per_image = matmul(grads, grouped)                                       # (N, G, Og, Kg)
        return sum(per_image, (0,), False).reshape(w_shape)
    return Conv2dKernels(conv_forward, conv_backward_input, conv_backward_weight)


# "im2col" runs its products on the default GEMM (cuBLAS on a GPU), "im2col_tiled" on ours
CONV2D_VARIANTS = {"im2col": _im2col_kernels(matmul), "im2col_tiled": _im2col_kernels(tiled)}
CONV3D_VARIANTS = CONV2D_VARIANTS  # the same kernels take 2 or 3 spatial axes
