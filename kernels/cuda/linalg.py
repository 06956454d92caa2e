"""Matrix products: a register-tiled GEMM of ours, and cuBLAS through CuPy on a GPU.

Batch dimensions broadcast as in numpy.matmul; 1-D operands are a row (left) or a column
(right) vector. The tiled kernel is a named variant that tests and benchmarks compare with
cuBLAS; under the simulator it is the only one.

The GEMM is the classic register-blocked SGEMM: a block of DIM x DIM threads computes a BM x BM
tile of c, BM = DIM * MICRO, stepping through the inner dimension BK at a time. Each step the
block reads a BM x BK tile of a and a BK x BM tile of b (coalesced) into registers, multiplies
the tiles of the step before, already in shared memory, while those reads are in flight, then
stores what it read into the other of two shared buffers: one barrier a step. Each thread
multiplies into its own MICRO x MICRO sub-tile of c, held in registers: per k, MICRO values of
a and MICRO of b, read from shared memory with vector loads, feed MICRO^2 multiply-adds, in the
result's dtype. The blocks loop over (batch entry, tile) pairs: any batch is one launch.
"""
import functools

import numpy as np
from numba import cuda, from_dtype, uint64 as u

from .device import MAX_BLOCKS, SIMULATED, contiguous, launch, xp

__all__ = ["matmul"]

GROUP = 8  # tiles are visited GROUP tile rows at a time, so that concurrent blocks share L2 lines


def _compute_dtype(dtype):
    """Tiles and accumulators: the result's dtype (float32 in float32, integers exactly, with
    numpy's wraparound), float32 for float16 (as cuBLAS) and int64 for bool (any nonzero is
    True when stored)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.dtype(np.int64)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _shape(dtype):
    """(DIM, MICRO, BK): DIM x DIM threads, MICRO x MICRO outputs each, a BK-deep step. A
    simulated thread is a Python thread: there 16 threads with 2 x 2 (8 x 8 tiles). On a GPU
    256 threads with 8 x 8 (128 x 128 tiles: 64 accumulators a thread), or 4 x 4 for 8-byte
    types, whose accumulators take two registers each (64 x 64 tiles)."""
    if SIMULATED:
        return 4, 2, 4
    return (16, 4, 8) if _compute_dtype(dtype).itemsize > 4 else (16, 8, 8)


@functools.lru_cache(maxsize=None)
def _gemm(dtype):
    """c[z] = a[z] @ b[z] for a (Z, n, k), b (Z, k, m), c (Z, n, m) flattened, with
    sizes = (Z, n, k, m), computed in `dtype` (a _compute_dtype). Indices are made unsigned
    (u) where they index: Numba wraps a signed index around when it is negative, arithmetic
    beside every load."""
    element = from_dtype(dtype)  # a global of the kernel (see reduce.py)
    DIM, MICRO, BK = _shape(dtype)
    BLOCK, BM, HALF = DIM * DIM, DIM * MICRO, MICRO // 2
    LOADS = BM * BK // BLOCK  # elements of a (and of b) that each thread copies a step
    STEP_A, STEP_B = BLOCK // BK, BLOCK // BM  # rows between them
    # a's tile is stored transposed, [k][row], its rows padded by 4 (16-byte alignment stays) so
    # that the transposing stores spread over the banks
    STRIDE = BM + 4
    SIZE_A, SIZE_B = BK * STRIDE, BK * BM
    ALIGN = None if SIMULATED else 16  # the simulator cannot align; vector loads need 16
    assert LOADS * BLOCK == BM * BK and BLOCK % BK == 0 and BLOCK % BM == 0

    @cuda.jit(device=True, inline="always")
    def step(a, b, tile_a, tile_b, last_a, last_b, acc, z, row0, col0, k0, sizes):
        """Copy the tiles at k0 into tile_a and tile_b while multiplying those at k0 - BK, in
        last_a and last_b, into acc. The global reads are issued first, so that their latency
        hides behind the arithmetic. A thread that writes tile_a has passed the barrier that
        ends the step before, so every thread is done multiplying what tile_a held."""
        _, n, k, m = sizes
        zero = element(0)
        t = cuda.threadIdx.x
        next_a = cuda.local.array(LOADS, element)
        next_b = cuda.local.array(LOADS, element)
        # what this thread copies: a[row0 + la + s * STEP_A, k0 + ka] and
        # b[k0 + lb + s * STEP_B, col0 + kb] for s < LOADS (a warp reads runs of a row)
        la, ka = t // BK, t % BK
        lb, kb = t // BM, t % BM
        if k0 < k:
            for s in range(LOADS):
                r, kk = row0 + la + s * STEP_A, k0 + ka
                next_a[s] = a[u((z * n + r) * k + kk)] if r < n and kk < k else zero
                kk, col = k0 + lb + s * STEP_B, col0 + kb
                next_b[s] = b[u((z * k + kk) * m + col)] if kk < k and col < m else zero
        if 0 < k0 < k + BK:
            # This thread's rows of the tile: ty + [0, HALF) and the same BM / 2 further on
            # (likewise its columns from tx): it reads each half of a fragment with one vector
            # load, and a warp's reads of b are consecutive.
            ty, tx = t // DIM * HALF, t % DIM * HALF
            frag_a = cuda.local.array(MICRO, element)
            frag_b = cuda.local.array(MICRO, element)
            for kk in range(BK):
                for i in range(MICRO):
                    frag_b[i] = last_b[u(tx + kk * BM + i // HALF * (BM // 2) + i % HALF)]
                for i in range(MICRO):
                    frag_a[i] = last_a[u(ty + kk * STRIDE + i // HALF * (BM // 2) + i % HALF)]
                for i in range(MICRO):
                    for j in range(MICRO):
                        acc[i, j] += frag_a[i] * frag_b[j]
        if k0 < k:
            for s in range(LOADS):
                tile_a[u(ka * STRIDE + la + s * STEP_A)] = next_a[s]
                tile_b[u((lb + s * STEP_B) * BM + kb)] = next_b[s]
            cuda.syncthreads()

    @cuda.jit
    def kernel(a, b, c, sizes):
        # Two buffers a matrix, so that one barrier a step suffices: a step copies into one
        # while other threads may still multiply the other. Four arrays rather than offsets
        # into two: NVVM then proves every fragment read aligned, and makes it a vector load.
        tile_a0 = cuda.shared.array(SIZE_A, element, alignment=ALIGN)
        tile_b0 = cuda.shared.array(SIZE_B, element, alignment=ALIGN)
        tile_a1 = cuda.shared.array(SIZE_A, element, alignment=ALIGN)
        tile_b1 = cuda.shared.array(SIZE_B, element, alignment=ALIGN)
        acc = cuda.local.array((MICRO, MICRO), element)  # registers: every index is a constant
        batch, n, k, m = sizes
        t = cuda.threadIdx.x
        ty, tx = t // DIM * HALF, t % DIM * HALF
        rows, cols = (n + BM - 1) // BM, (m + BM - 1) // BM
        tiles = rows * cols
        block = cuda.blockIdx.x
        while block < batch * tiles:  # any batch: a loop, not gridDim.z
            z, tile = block // tiles, block % tiles
            # GROUP tile rows at a time, column by column (Triton's grouped order)
            first = tile // (GROUP * cols) * GROUP
            height = min(rows - first, GROUP)
            row0 = (first + tile % (GROUP * cols) % height) * BM
            col0 = tile % (GROUP * cols) // height * BM
            for i in range(MICRO):
                for j in range(MICRO):
                    acc[i, j] = element(0)
            for k0 in range(0, k + BK, 2 * BK):  # two steps a turn: each knows its buffers
                step(a, b, tile_a0, tile_b0, tile_a1, tile_b1, acc, z, row0, col0, k0, sizes)
                step(a, b, tile_a1, tile_b1, tile_a0, tile_b0, acc, z, row0, col0, k0 + BK, sizes)
            for i in range(MICRO):
                r = row0 + ty + i // HALF * (BM // 2) + i % HALF
                for j in range(MICRO):
                    col = col0 + tx + j // HALF * (BM // 2) + j % HALF
                    if r < n and col < m:
                        c[u((z * n + r) * m + col)] = acc[i, j]
            cuda.syncthreads()  # the next tile's first copy overwrites what this one read
            block += cuda.gridDim.x
    return kernel


# made at import for the common dtypes, so that the compile check finds them (others on demand)
for _dtype in (np.float32, np.float64, np.int64, np.int32):  # float16 and bool use float32, int64
    _gemm(np.dtype(_dtype))


def _batched(a, b):
    """a (..., n, k) and b (..., k, m) as contiguous (Z, n, k) and (Z, k, m), and the batch."""
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    z = int(np.prod(batch, dtype=np.int64))  # not -1: an empty operand has no size to infer from
    a3 = contiguous(xp.broadcast_to(a, batch + a.shape[-2:])).reshape((z,) + a.shape[-2:])
    b3 = contiguous(xp.broadcast_to(b, batch + b.shape[-2:])).reshape((z,) + b.shape[-2:])
    return a3, b3, batch


def tiled_matmul(a, b):
    """c (..., n, m) = a (..., n, k) @ b (..., k, m) on our GEMM: one launch, no copy from the
    host (an inner dimension of 0 gives zeros: the kernel writes every element of c)."""
    a3, b3, batch = _batched(a, b)
    n, m = a3.shape[1], b3.shape[2]
    dtype = np.result_type(a.dtype, b.dtype)
    c = xp.empty((a3.shape[0], n, m), dtype)
    dim, micro, _ = _shape(dtype)
    tiles = a3.shape[0] * -(-n // (dim * micro)) * -(-m // (dim * micro))
    if c.size:
        launch(_gemm(_compute_dtype(dtype)), (min(tiles, MAX_BLOCKS), dim * dim),
               a3.reshape(-1), b3.reshape(-1), c.reshape(-1), (a3.shape[0], n, a3.shape[2], m))
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
