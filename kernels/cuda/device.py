"""The array library and launch geometry of the cuda backend.

On a GPU the arrays are CuPy arrays and Numba launches kernels on them through
__cuda_array_interface__; under NUMBA_ENABLE_CUDASIM=1 the same kernels run in Numba's
simulator on numpy arrays. `xp` is that array library: it does memory and layout work only
(allocation, views, copies, indexing); every arithmetic kernel is ours, in Numba.
"""
import math
import os
import threading

import numpy as np

if not hasattr(np, "row_stack"):
    # numba-cuda (0.30) registers an overload of np.row_stack when it first compiles a kernel,
    # and numpy 2.5 removed that alias of np.vstack: every compile on a GPU would fail.
    np.row_stack = np.vstack

from numba import cuda  # noqa: E402

# Numba reads the same variable when it loads: its simulator runs kernels on numpy arrays.
SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"

if SIMULATED:
    xp = np
    # A simulated thread is a Python thread: a launch of 1 x 4 threads costs 0.4 ms, of 2 x 32
    # threads 11 ms. Grid-stride loops make the results the same whatever the geometry.
    THREADS, MAX_BLOCKS = 4, 1
else:
    try:
        import cupy as xp  # noqa: F401
    except ImportError:  # the compile check (compile_check.py) needs the kernels, not arrays
        xp = np
    THREADS, MAX_BLOCKS = 256, 4096


def grid(count, threads=THREADS):
    """(blocks, threads) for a grid-stride loop over `count` items."""
    return max(1, min(MAX_BLOCKS, math.ceil(count / threads))), threads


class Counts(threading.local):
    """What this thread has asked of the GPU: kernel launches of ours and host-to-device copies
    (each a synchronizing transfer). The profiler shows them per op; tests pin them."""
    launches = 0
    copies = 0


counts = Counts()


def launch(kernel, config, *args):
    """kernel[config](*args), counted: config is (blocks, threads), as grid() gives."""
    counts.launches += 1
    kernel[config](*args)


def counted(f, *args):
    """f(*args), and the (launches, copies) it made on this thread."""
    before = counts.launches, counts.copies
    out = f(*args)
    return out, (counts.launches - before[0], counts.copies - before[1])


def to_device(a):
    """A host array copied to the device, counted."""
    counts.copies += 1
    return xp.asarray(a)


def contiguous(a):
    """a as a C-contiguous array that kernels may take (a copy only when needed). The simulator
    writes every argument back after a launch, so read-only views (broadcasts) are copied."""
    a = xp.ascontiguousarray(a)
    if not getattr(a.flags, "writeable", True):
        a = a.copy()
    return a


def flat(a):
    """a as a contiguous 1-D array (see contiguous)."""
    return contiguous(a).reshape(-1)
