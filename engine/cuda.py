"""The "cuda" device: availability checks. Its kernels live in `kernels/cuda/`."""
from .errors import DeviceError


def _why_unavailable():
    """None when the cuda device can be used, else the reason it cannot."""
    return "the CUDA backend (kernels/cuda) is not part of this build yet"


def is_available():
    """True when tensors can be moved to the "cuda" device."""
    return _why_unavailable() is None


def require():
    """Raise DeviceError, saying why, unless the cuda device can be used."""
    why = _why_unavailable()
    if why is not None:
        raise DeviceError(f"cuda device unavailable: {why}")
