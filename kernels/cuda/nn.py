"""Fused, numerically stable softmax, log-softmax and cross-entropy, which override the
composites of kernels/composite.py as the variant "fused"; dropout masks.

The softmax axis is made the last axis of a contiguous (rows, n) matrix (a view when it already
is, a copy otherwise). Each row is handled by a group of `group` threads of a block, a power of
two up to the block: adjacent lanes read adjacent elements (coalesced), and the group reduces
the row's maximum and sum in shared memory. A short row gets a small group, so that one block
handles several rows at a time; a long one gets the whole block, each lane looping over the row.
The forward kernels read a row twice: once for its maximum and sum of exps together (an online
softmax), once for the results. The kernels compute in the arrays' dtype (a float32 row stays
float32 on the GPU): they are made per dtype, with their constants cast to it.
"""
import functools
import math

import numpy as np
from numba import cuda, from_dtype

from ..random_bits import MASK, lowbias32
from .device import THREADS, contiguous, grid, launch, xp

__all__ = ["dropout_mask"]


@cuda.jit(device=True)
def _group_sum(shared, value, t, lane, group):
    """The sum of `value` over the `group` lanes of thread t's row. Every thread of the block
    calls it (it synchronizes the block), in the same iteration."""
    shared[t] = value
    cuda.syncthreads()
    step = group // 2
    while step > 0:
        if lane < step:
            shared[t] += shared[t + step]
        cuda.syncthreads()
        step //= 2
    total = shared[t - lane]
    cuda.syncthreads()  # all have read it before shared is written again
    return total


@cuda.jit(device=True)
def _group_max(shared, value, t, lane, group):
    """The maximum of `value` over the `group` lanes of thread t's row (see _group_sum). A nan
    is lost here, but not in the row's results: it reaches them through the sum of exps."""
    shared[t] = value
    cuda.syncthreads()
    step = group // 2
    while step > 0:
        if lane < step and shared[t + step] > shared[t]:
            shared[t] = shared[t + step]
        cuda.syncthreads()
        step //= 2
    top = shared[t - lane]
    cuda.syncthreads()
    return top


@functools.lru_cache(maxsize=None)
def _kernels(dtype):
    """The row kernels for float arrays of `dtype`, computing in it."""
    element = from_dtype(dtype)  # a global of the kernels: a GPU compile cannot call from_dtype

    @cuda.jit(device=True)
    def shift(shared, x, row, rows, t, lane, group):
        """(the maximum of thread t's row, the sum of exp(x - maximum) over it), reading the row
        once: each lane keeps the sum relative to the largest element it has seen so far (an
        online softmax), then rescales it to the row's maximum before the row's sum."""
        lowest = element(-math.inf)
        top, total = lowest, element(0)
        if row < rows:
            for j in range(lane, x.shape[1], group):
                value = x[row, j]
                if value > top:
                    total = total * math.exp(top - value) + element(1)
                    top = value
                elif value != lowest:  # -inf adds nothing (and -inf - -inf would be nan)
                    total += math.exp(value - top)  # a nan makes the sum nan, as it should
        row_top = _group_max(shared, top, t, lane, group)
        if row < rows:  # a row of -inf alone gives -inf - -inf: nan, as the composite's
            total *= math.exp(top - row_top)
        return row_top, _group_sum(shared, total, t, lane, group)

    @cuda.jit
    def forward(x, out, group, log):
        """out = softmax(x) or log_softmax(x) along each row of x."""
        shared = cuda.shared.array(THREADS, dtype=element)
        t = cuda.threadIdx.x
        lane, per_block = t % group, cuda.blockDim.x // group
        first = cuda.blockIdx.x * per_block  # the block's first row (the same for all its threads)
        while first < x.shape[0]:
            row = first + t // group
            top, total = shift(shared, x, row, x.shape[0], t, lane, group)
            if row < x.shape[0]:
                if log:
                    lse = math.log(total)
                    for j in range(lane, x.shape[1], group):
                        out[row, j] = (x[row, j] - top) - lse
                else:
                    for j in range(lane, x.shape[1], group):
                        out[row, j] = math.exp(x[row, j] - top) / total
            first += cuda.gridDim.x * per_block

    @cuda.jit
    def backward(y, gy, out, group, log):
        """softmax: y (gy - sum(gy y)); log-softmax: gy - exp(y) sum(gy), along each row."""
        shared = cuda.shared.array(THREADS, dtype=element)
        t = cuda.threadIdx.x
        lane, per_block = t % group, cuda.blockDim.x // group
        first = cuda.blockIdx.x * per_block
        while first < y.shape[0]:
            row = first + t // group
            total = element(0)
            if row < y.shape[0]:
                for j in range(lane, y.shape[1], group):
                    total += gy[row, j] if log else gy[row, j] * y[row, j]
            total = _group_sum(shared, total, t, lane, group)
            if row < y.shape[0]:
                for j in range(lane, y.shape[1], group):
                    if log:
                        out[row, j] = gy[row, j] - math.exp(y[row, j]) * total
                    else:
                        out[row, j] = y[row, j] * (gy[row, j] - total)
            first += cuda.gridDim.x * per_block

    @cuda.jit
    def cross_entropy(x, target, logp, loss, group):
        """logp = log_softmax(x) along each row, and loss[row] = -logp[row, target[row]]."""
        shared = cuda.shared.array(THREADS, dtype=element)
        t = cuda.threadIdx.x
        lane, per_block = t % group, cuda.blockDim.x // group
        first = cuda.blockIdx.x * per_block
        while first < x.shape[0]:
            row = first + t // group
            top, total = shift(shared, x, row, x.shape[0], t, lane, group)
            if row < x.shape[0]:
                lse = math.log(total)
                for j in range(lane, x.shape[1], group):
                    logp[row, j] = (x[row, j] - top) - lse
                if lane == 0:  # from x: logp's element may be another lane's, not yet written
                    loss[row] = lse - (x[row, target[row]] - top)
            first += cuda.gridDim.x * per_block

    @cuda.jit
    def cross_entropy_grad(logp, target, gy, out, group):
        """out[row] = (exp(logp[row]) - onehot(target[row])) gy[row]: no reduction, but the
        rows' layout of the others (no division of a flat index by the row length)."""
        t = cuda.threadIdx.x
        lane, per_block = t % group, cuda.blockDim.x // group
        row = cuda.blockIdx.x * per_block + t // group
        while row < logp.shape[0]:
            label, scale = target[row], gy[row]
            for j in range(lane, logp.shape[1], group):
                p = math.exp(logp[row, j])
                if j == label:
                    p -= element(1)
                out[row, j] = p * scale
            row += cuda.gridDim.x * per_block

    return forward, backward, cross_entropy, cross_entropy_grad


# made at import, so that the compile check finds them (others on demand)
for _dtype in (np.float32, np.float64):
    _kernels(np.dtype(_dtype))


def _geometry(rows, n):
    """(blocks, threads) and the group of lanes per row: the power of two that covers the row,
    up to a block."""
    group = min(THREADS, 1 << max(0, n - 1).bit_length())
    return grid(rows * group), group


def _last(x, axis):
    """x with `axis` moved last, as a contiguous (rows, n) matrix (a view when `axis` is already
    last and x contiguous), and how to move a result back."""
    moved = contiguous(xp.moveaxis(x, axis, -1))
    shape = moved.shape

    def back(matrix):
        return contiguous(xp.moveaxis(matrix.reshape(shape), -1, axis))
    return moved.reshape(int(np.prod(shape[:-1], dtype=np.int64)), shape[-1]), back


def _forward(x, axis, log):
    rows, back = _last(x, axis)
    out = xp.empty_like(rows)
    if rows.size:
        config, group = _geometry(*rows.shape)
        launch(_kernels(rows.dtype)[0], config, rows, out, group, log)
    return back(out)


def log_softmax(x, axis):
    return _forward(x, axis, True)


def softmax(x, axis):
    return _forward(x, axis, False)


def _backward(y, gy, axis, log):
    rows, back = _last(y, axis)
    grads, _ = _last(gy.astype(y.dtype, copy=False), axis)
    out = xp.empty_like(rows)
    if rows.size:
        config, group = _geometry(*rows.shape)
        launch(_kernels(rows.dtype)[1], config, rows, grads, out, group, log)
    return back(out)


def softmax_backward(y, gy, axis):
    return _backward(y, gy, axis, False)


def log_softmax_backward(y, gy, axis):
    return _backward(y, gy, axis, True)


def cross_entropy(logits, target):
    """Per-sample -log softmax(logits)[target] over axis 1, and the log-probabilities: logits
    (N, C, ...), target (N, ...) of class indices in range."""
    rows, back = _last(logits, 1)
    logp = xp.empty_like(rows)
    loss = xp.empty(rows.shape[0], logits.dtype)
    if rows.size:
        config, group = _geometry(*rows.shape)
        launch(_kernels(rows.dtype)[2], config, rows, contiguous(target).reshape(-1), logp, loss,
               group)
    return loss.reshape(target.shape), back(logp)


def cross_entropy_backward(logp, target, gy):
    """(softmax - onehot(target)) gy, gy (N, ...) broadcast over the class axis 1."""
    rows, back = _last(logp, 1)
    out = xp.empty_like(rows)
    if rows.size:
        config, group = _geometry(*rows.shape)
        launch(_kernels(rows.dtype)[3], config, rows, contiguous(target).reshape(-1),
               contiguous(gy.astype(logp.dtype, copy=False)).reshape(-1), out, group)
    return back(out)


_lowbias32 = cuda.jit(device=True)(lowbias32)  # the very hash the cpu backend runs in numpy


@cuda.jit
def _dropout_mask(out, threshold, offset, scale):
    """In integers: hash / 2^32 >= p is hash >= threshold = ceil(p 2^32), exactly."""
    i = cuda.grid(1)
    while i < out.size:
        if _lowbias32((i + offset) & MASK) >= threshold:
            out[i] = scale
        else:
            out[i] = 0
        i += cuda.gridsize(1)


def dropout_mask(shape, p, seed, dtype):
    """1/(1-p) where the element's counter-based uniform number is >= p (see random_bits)."""
    out = xp.empty(shape, dtype)
    if out.size:
        # p 2^32 is exact in float64 (a power-of-two scaling), and so is its ceiling
        launch(_dropout_mask, grid(out.size), out.reshape(-1), math.ceil(p * 2.0 ** 32),
               lowbias32(seed), out.dtype.type(1.0 / (1 - p)))
    return out
