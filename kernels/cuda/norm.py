"""Fused batch normalization over every axis but the channel axis (1), which overrides the
composites of kernels/composite.py as the variant "fused": three launches each way, no copies.

x (N, C, *spatial) is seen as (N, C, S): the N*S items of a channel are split into chunks of
_CHUNK consecutive items (consecutive items are consecutive in memory within a sample, so a
block's reads are coalesced), one block per (channel, chunk). The forward pass computes each
chunk's mean and M2 (sum of squared deviations) with Welford's update per thread and Chan's
formula across threads, merges the chunks of each channel with Chan's formula again (numerically
safe in float32, unlike a sum of squares), then normalizes in one elementwise kernel. The
backward pass sums gy and gy * xhat per chunk, then per channel, then computes the input
gradient in one elementwise kernel. All the arithmetic is in the arrays' dtype: the reductions,
which need typed constants, are made per dtype (see _kernels), the elementwise kernels have no
constant, and the scalars (eps, 1/M) are cast on the host.
"""
import functools
import importlib
import math

import numpy as np
from numba import cuda, from_dtype, int64

from .. import composite
from .device import MAX_BLOCKS, THREADS, contiguous, grid, launch, xp

_BLOCK = THREADS  # threads per block, a power of two (the trees below halve it)
_CHUNK = THREADS * 8  # items of one channel per block of the reduction pass (8 a thread)


@cuda.jit(device=True)
def _merge(fa, mean_a, m2a, fb, mean_b, m2b):
    """Chan et al.'s mean and M2 of two groups of fa and fb > 0 items (float counts, in the
    dtype of the means: no literal here, so the arithmetic stays in that dtype)."""
    delta = mean_b - mean_a
    share = fb / (fa + fb)
    return mean_a + delta * share, m2a + m2b + delta * delta * fa * share


@cuda.jit
def _normalize(x, mean, scale, shift, spatial, y):
    """y = (x - mean) * scale + shift, per channel, over flat (N, C, S) arrays."""
    i = cuda.grid(1)
    while i < x.size:
        c = (i // spatial) % mean.size
        y[i] = (x[i] - mean[c]) * scale[c] + shift[c]
        i += cuda.gridsize(1)


@cuda.jit
def _input_grad(x, gy, mean, invstd, weight, has_weight, gbias, gweight, per_item, spatial,
                gx):
    """gx = w invstd (gy - gbias / M - xhat gweight / M), per_item = 1 / M, over flat
    (N, C, S) arrays: d/dx of w (x - mean) / std with the batch's mean and std."""
    i = cuda.grid(1)
    while i < x.size:
        c = (i // spatial) % mean.size
        scale = invstd[c] * weight[c] if has_weight else invstd[c]
        xhat = (x[i] - mean[c]) * invstd[c]
        gx[i] = scale * (gy[i] - gbias[c] * per_item - xhat * (gweight[c] * per_item))
        i += cuda.gridsize(1)


@functools.lru_cache(maxsize=None)
def _kernels(dtype):
    """The reductions of batch norm for arrays of `dtype`: the forward's (moments, statistics)
    and the backward's (sums, channel_sums). (The elementwise kernels have no constant to type
    and serve every dtype.)"""
    element = from_dtype(dtype)  # a global of the kernels: a GPU compile cannot call from_dtype

    @cuda.jit(device=True)
    def merge_tree(count, mean, m2):
        """Merge the block's groups (count[t], mean[t], m2[t]) into thread 0's."""
        t = cuda.threadIdx.x
        step = cuda.blockDim.x // 2
        while step > 0:
            cuda.syncthreads()
            if t < step and count[t + step] > 0:
                mean_t, m2_t = _merge(element(count[t]), mean[t], m2[t],
                                      element(count[t + step]), mean[t + step], m2[t + step])
                mean[t] = mean_t
                m2[t] = m2_t
                count[t] += count[t + step]
            step //= 2
        cuda.syncthreads()

    @cuda.jit(device=True)
    def sum_tree(total):
        """Add the block's total[t] into total[0]."""
        t = cuda.threadIdx.x
        step = cuda.blockDim.x // 2
        while step > 0:
            cuda.syncthreads()
            if t < step:
                total[t] += total[t + step]
            step //= 2
        cuda.syncthreads()

    @cuda.jit
    def moments(x, means, m2s):
        """means[c, k], m2s[c, k]: mean and M2 of the chunk k of channel c of x (N, C, S)."""
        count = cuda.shared.array(_BLOCK, dtype=int64)
        mean = cuda.shared.array(_BLOCK, dtype=element)
        m2 = cuda.shared.array(_BLOCK, dtype=element)
        t = cuda.threadIdx.x
        spatial = x.shape[2]
        items = x.shape[0] * spatial
        chunks = means.shape[1]
        work = cuda.blockIdx.x
        while work < means.shape[0] * chunks:  # the same for every thread of the block
            c = work // chunks
            k = work % chunks
            m = k * _CHUNK + t
            stop = min((k + 1) * _CHUNK, items)
            n = m // spatial
            s = m % spatial
            seen = 0
            mu = element(0)
            q = element(0)
            while m < stop:  # Welford's update
                v = x[n, c, s]
                seen += 1
                delta = v - mu
                mu += delta / element(seen)
                q += delta * (v - mu)
                m += cuda.blockDim.x
                s += cuda.blockDim.x
                if s >= spatial:  # a division only where the stride crosses a sample
                    n += s // spatial
                    s %= spatial
            count[t] = seen
            mean[t] = mu
            m2[t] = q
            merge_tree(count, mean, m2)
            if t == 0:
                means[c, k] = mean[0]
                m2s[c, k] = m2[0]
            work += cuda.gridDim.x

    @cuda.jit
    def statistics(means, m2s, items, weight, bias, has_weight, has_bias, eps,
                   mean_out, var_out, invstd_out, scale_out, shift_out):
        """The chunks of each channel merged: its mean, biased variance, 1/std, and the scale
        and shift of the normalization, one block per channel."""
        count = cuda.shared.array(_BLOCK, dtype=int64)
        mean = cuda.shared.array(_BLOCK, dtype=element)
        m2 = cuda.shared.array(_BLOCK, dtype=element)
        t = cuda.threadIdx.x
        c = cuda.blockIdx.x
        while c < means.shape[0]:
            seen = 0
            mu = element(0)
            q = element(0)
            k = t
            while k < means.shape[1]:
                size = min(_CHUNK, items - k * _CHUNK)
                if seen == 0:
                    mu = means[c, k]
                    q = m2s[c, k]
                else:
                    mu, q = _merge(element(seen), mu, q, element(size), means[c, k], m2s[c, k])
                seen += size
                k += cuda.blockDim.x
            count[t] = seen
            mean[t] = mu
            m2[t] = q
            merge_tree(count, mean, m2)
            if t == 0:
                var = m2[0] / element(items)
                invstd = element(1) / math.sqrt(var + eps)
                mean_out[c] = mean[0]
                var_out[c] = var
                invstd_out[c] = invstd
                scale_out[c] = invstd * weight[c] if has_weight else invstd
                shift_out[c] = bias[c] if has_bias else element(0)
            c += cuda.gridDim.x

    @cuda.jit
    def sums(x, gy, mean, invstd, gsum, gxsum):
        """gsum[c, k], gxsum[c, k]: the sums of gy and gy * xhat over the chunk k of channel c
        of x and gy (N, C, S)."""
        total = cuda.shared.array(_BLOCK, dtype=element)
        weighted = cuda.shared.array(_BLOCK, dtype=element)
        t = cuda.threadIdx.x
        spatial = x.shape[2]
        items = x.shape[0] * spatial
        chunks = gsum.shape[1]
        work = cuda.blockIdx.x
        while work < gsum.shape[0] * chunks:
            c = work // chunks
            k = work % chunks
            m = k * _CHUNK + t
            stop = min((k + 1) * _CHUNK, items)
            n = m // spatial
            s = m % spatial
            center = mean[c]
            g_sum = element(0)
            gx_sum = element(0)
            while m < stop:
                g = gy[n, c, s]
                g_sum += g
                gx_sum += g * (x[n, c, s] - center)
                m += cuda.blockDim.x
                s += cuda.blockDim.x
                if s >= spatial:
                    n += s // spatial
                    s %= spatial
            total[t] = g_sum
            weighted[t] = gx_sum * invstd[c]
            sum_tree(total)
            sum_tree(weighted)
            if t == 0:
                gsum[c, k] = total[0]
                gxsum[c, k] = weighted[0]
            work += cuda.gridDim.x

    @cuda.jit
    def channel_sums(gsum, gxsum, gbias, gweight):
        """gbias[c], gweight[c]: the chunks of each channel added, one block per channel."""
        total = cuda.shared.array(_BLOCK, dtype=element)
        weighted = cuda.shared.array(_BLOCK, dtype=element)
        t = cuda.threadIdx.x
        c = cuda.blockIdx.x
        while c < gsum.shape[0]:
            g_sum = element(0)
            gx_sum = element(0)
            k = t
            while k < gsum.shape[1]:
                g_sum += gsum[c, k]
                gx_sum += gxsum[c, k]
                k += cuda.blockDim.x
            total[t] = g_sum
            weighted[t] = gx_sum
            sum_tree(total)
            sum_tree(weighted)
            if t == 0:
                gbias[c] = total[0]
                gweight[c] = weighted[0]
            c += cuda.gridDim.x

    return moments, statistics, sums, channel_sums


# made at import, so that the compile check finds them
for _dtype in (np.float32, np.float64):
    _kernels(np.dtype(_dtype))


def _applies(*arrays):
    """The common float32 or float64 dtype of the arrays, or None where the composite runs
    instead (other dtypes, fewer than 2 dims, nothing to normalize)."""
    x = arrays[0]
    dtype = np.result_type(*(a.dtype for a in arrays))
    if dtype not in (np.float32, np.float64) or x.ndim < 2 or x.size == 0:
        return None
    return dtype


def _channels(a, dtype):
    """a (N, C, *) as a contiguous (N, C, S) array of dtype."""
    a = contiguous(a.astype(dtype, copy=False))
    return a.reshape(a.shape[0], a.shape[1], -1)


def _vector(v, dtype, like):
    """A per-channel array of dtype and whether it was given: `like` stands in for None (the
    kernels read it only where it was given)."""
    return (like, False) if v is None else (contiguous(v.astype(dtype, copy=False)), True)


def _partials(x3, dtype):
    """Two (C, chunks) arrays for the per-chunk results of the reduction pass, and its grid."""
    channels, items = x3.shape[1], x3.shape[0] * x3.shape[2]
    chunks = math.ceil(items / _CHUNK)
    blocks = min(MAX_BLOCKS, channels * chunks)
    return (xp.empty((channels, chunks), dtype), xp.empty((channels, chunks), dtype),
            (blocks, _BLOCK))


def _table():
    """This backend's package, whose primitives the composites run on."""
    return importlib.import_module(__package__)


def batch_norm_forward(x, weight, bias, eps):
    dtype = _applies(x)
    if dtype is None:
        return composite.batch_norm_forward(_table(), x, weight, bias, eps)
    moments, statistics = _kernels(dtype)[:2]
    x3 = _channels(x, dtype)
    channels, spatial = x3.shape[1], x3.shape[2]
    means, m2s, reduction = _partials(x3, dtype)
    launch(moments, reduction, x3, means, m2s)
    mean, var, invstd, scale, shift = (xp.empty(channels, dtype) for _ in range(5))
    weight, has_weight = _vector(weight, dtype, mean)
    bias, has_bias = _vector(bias, dtype, mean)
    launch(statistics, (min(MAX_BLOCKS, channels), _BLOCK), means, m2s,
           x3.shape[0] * spatial, weight, bias, has_weight, has_bias, dtype.type(eps),
           mean, var, invstd, scale, shift)
    y = xp.empty_like(x3)
    launch(_normalize, grid(x3.size), x3.reshape(-1), mean, scale, shift, spatial, y.reshape(-1))
    return y.reshape(x.shape), mean, var, invstd


def batch_norm_backward(x, gy, mean, invstd, weight):
    dtype = _applies(x, gy)
    if dtype is None:
        return composite.batch_norm_backward(_table(), x, gy, mean, invstd, weight)
    sums, channel_sums = _kernels(dtype)[2:]
    x3, gy3 = _channels(x, dtype), _channels(gy, dtype)
    channels, items = x3.shape[1], x3.shape[0] * x3.shape[2]
    mean, invstd = (contiguous(v.astype(dtype, copy=False)) for v in (mean, invstd))
    gsum, gxsum, reduction = _partials(x3, dtype)
    launch(sums, reduction, x3, gy3, mean, invstd, gsum, gxsum)
    gbias, gweight = xp.empty(channels, dtype), xp.empty(channels, dtype)
    launch(channel_sums, (min(MAX_BLOCKS, channels), _BLOCK), gsum, gxsum, gbias, gweight)
    weight, has_weight = _vector(weight, dtype, mean)
    gx = xp.empty_like(x3)
    launch(_input_grad, grid(x3.size), x3.reshape(-1), gy3.reshape(-1), mean, invstd, weight,
           has_weight, gbias, gweight, dtype.type(1.0 / items), x3.shape[2], gx.reshape(-1))
    return gx.reshape(x.shape), gweight, gbias
