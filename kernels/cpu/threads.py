"""The CPU kernels' threads: one OpenMP pool, in the C++ extension, does all the parallel work.

numpy's wheels bring their own OpenBLAS, whose threads spin for about 2^28 cycles after every
product and take the cores from whatever runs next (an im2col, a pooling loop): with 2 cores,
a convolution ran 30-40% slower when numpy was imported before the engine. So the extension
calls numpy's OpenBLAS itself, single-threaded, from its own OpenMP threads (set_blas below
hands it the cblas_?gemm addresses), and OpenBLAS is told to use one thread. That is done at
run time, whatever the import order, and it is numpy's BLAS for the whole process: numpy's
own products run on one core once the engine is imported (as under threadpoolctl's
threadpool_limits(1)); the engine's products run on set_num_threads' threads.
"""
import ctypes
import glob
import os

import numpy as np

from ..errors import ArgumentError
from . import _cpp

# numpy's OpenBLAS, by the names its wheels give it: (library file pattern, symbol prefix and
# suffix, 64-bit integers). ILP64 first: numpy 2's wheels ship scipy-openblas64.
_OPENBLAS = [("libscipy_openblas64_*", "scipy_", "64_", True),
             ("libscipy_openblas*", "scipy_", "", False),
             ("libopenblas64_*", "", "64_", True),
             ("libopenblas*", "", "", False)]


def _numpy_library_folders():
    root = os.path.dirname(np.__file__)
    return [os.path.join(os.path.dirname(root), "numpy.libs"), os.path.join(root, ".dylibs"),
            os.path.join(root, "..", "numpy.libs")]


def _find_openblas():
    """(ctypes library, prefix, suffix, ilp64) of numpy's OpenBLAS, or None (another BLAS)."""
    for pattern, prefix, suffix, ilp64 in _OPENBLAS:
        for folder in _numpy_library_folders():
            for path in sorted(glob.glob(os.path.join(folder, pattern))):
                try:
                    library = ctypes.CDLL(path)
                    getattr(library, f"{prefix}cblas_sgemm{suffix}")
                    getattr(library, f"{prefix}openblas_set_num_threads{suffix}")
                except (OSError, AttributeError):
                    continue
                return library, prefix, suffix, ilp64
    return None


def _install():
    """Give the extension numpy's BLAS and leave that BLAS one thread; False when not found."""
    found = _find_openblas()
    if found is None:
        return False
    library, prefix, suffix, ilp64 = found
    address = lambda name: ctypes.cast(getattr(library, f"{prefix}{name}{suffix}"),  # noqa: E731
                                       ctypes.c_void_p).value
    _cpp.set_blas(address("cblas_sgemm"), address("cblas_dgemm"), ilp64)
    getattr(library, f"{prefix}openblas_set_num_threads{suffix}")(1)
    return True


BLAS_IN_EXTENSION = _install()


def set_num_threads(n):
    """Use n threads for the CPU kernels (the extension's loops and the products they run);
    one setting for the whole process, as torch.set_num_threads."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ArgumentError(f"set_num_threads: n must be a positive int, got {n!r}")
    _cpp.set_num_threads(int(n))


def get_num_threads():
    """The threads the CPU kernels use: set_num_threads's n, else every core (or
    OMP_NUM_THREADS)."""
    return _cpp.get_num_threads()
