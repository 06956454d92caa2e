"""Matrix products: a shared-memory tiled GEMM of ours, and cuBLAS through CuPy on a GPU.

Batch dimensions broadcast as in numpy.matmul; 1-D operands are a row (left) or a column
(right) vector. The tiled kernel is a named variant that tests and benchmarks compare with
cuBLAS; under the simulator it is the only one.
"""
import numpy as np
from numba import cuda

from .device import SIMULATED, contiguous, launch, xp

__all__ = ["matmul"]

TILE = 4 if SIMULATED else 16  # the simulator runs TILE^2 Python threads a block


@cuda.jit
def _tiled_gemm(a, b, c):
    """c[z] = a[z] @ b[z] for a (Z, n, k), b (Z, k, m): one TILE x TILE output tile a block."""
    tile_a = cuda.shared.array((TILE, TILE), dtype=np.float64)
    tile_b = cuda.shared.array((TILE, TILE), dtype=np.float64)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    z = cuda.blockIdx.z
    row = cuda.blockIdx.y * TILE + ty
    col = cuda.blockIdx.x * TILE + tx
    n, k, m = a.shape[1], a.shape[2], b.shape[2]
    acc = 0.0
    for t in range((k + TILE - 1) // TILE):
        kk = t * TILE
        tile_a[ty, tx] = a[z, row, kk + tx] if row < n and kk + tx < k else 0.0
        tile_b[ty, tx] = b[z, kk + ty, col] if kk + ty < k and col < m else 0.0
        cuda.syncthreads()
        for j in range(TILE):
            acc += tile_a[ty, j] * tile_b[j, tx]
        cuda.syncthreads()
    if row < n and col < m:
        c[z, row, col] = acc


def _batched(a, b):
    """a (..., n, k) and b (..., k, m) as contiguous (Z, n, k) and (Z, k, m), and the batch."""
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    z = int(np.prod(batch, dtype=np.int64))  # not -1: an empty operand has no size to infer from
    a3 = contiguous(xp.broadcast_to(a, batch + a.shape[-2:])).reshape((z,) + a.shape[-2:])
    b3 = contiguous(xp.broadcast_to(b, batch + b.shape[-2:])).reshape((z,) + b.shape[-2:])
    return a3, b3, batch


def tiled_matmul(a, b):
    a3, b3, batch = _batched(a, b)
    n, m = a3.shape[1], b3.shape[2]
    # zeros, not empty: a product over an inner dimension of 0 is all zeros
    c = xp.zeros((a3.shape[0], n, m), np.result_type(a.dtype, b.dtype))
    blocks = ((m + TILE - 1) // TILE, (n + TILE - 1) // TILE, a3.shape[0])
    if c.size:
        launch(_tiled_gemm, (blocks, (TILE, TILE)), a3, b3, c)
    return c.reshape(batch + (n, m))


def tiled(a, b):
    """numpy.matmul semantics on our tiled GEMM."""
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    c = tiled_matmul(a2, b2)
    if a.ndim == 1:
        c = c.reshape(c.shape[:-2] + c.shape[-1:])
    if b.ndim == 1:
        c = c.reshape(c.shape[:-1])
    return c


def cublas(a, b):
    return xp.matmul(a, b)


# cuBLAS through CuPy on a GPU; the simulator has only our tiled GEMM
MATMUL_VARIANTS = {"tiled": tiled} if SIMULATED else {"cublas": cublas, "tiled": tiled}


def matmul(a, b):
    """numpy.matmul semantics on the default GEMM."""
    return next(iter(MATMUL_VARIANTS.values()))(a, b)
