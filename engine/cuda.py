"""The "cuda" device: whether it can be used, and why not.

On a machine with an NVIDIA GPU, CuPy holds the arrays and Numba compiles the kernels. With
NUMBA_ENABLE_CUDASIM=1 the very same Numba kernels run in Numba's CUDA simulator on numpy
arrays, on any machine: that is how the test suite checks every CUDA kernel without a GPU.
Neither package is imported until the cuda device is used.
"""
import functools
import os

from .errors import DeviceError


def simulated():
    """True when Numba's CUDA simulator stands in for a GPU."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


@functools.lru_cache(maxsize=None)
def _why_unavailable():
    """None when the cuda device can be used, else the reason it cannot."""
    try:
        from numba import cuda
    except ImportError:
        return "Numba's CUDA target is not installed (pip install -e '.[cuda]')"
    if simulated():
        return None
    try:
        import cupy  # noqa: F401
    except ImportError:
        return ("CuPy is not installed (pip install -e '.[cuda]'); or set NUMBA_ENABLE_CUDASIM=1 "
                "to run the CUDA kernels in Numba's simulator")
    try:
        if not cuda.is_available():
            return "no CUDA driver or GPU was found"
    except Exception as e:  # noqa: BLE001  (a broken driver says so in many ways)
        return f"the CUDA driver failed: {e}"
    return None


def is_available():
    """True when tensors can be moved to the "cuda" device (a GPU, or the simulator)."""
    return _why_unavailable() is None


def require():
    """Raise DeviceError, saying why, unless the cuda device can be used."""
    why = _why_unavailable()
    if why is not None:
        raise DeviceError(f"cuda device unavailable: {why}")
