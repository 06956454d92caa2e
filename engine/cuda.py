"""eg.cuda: whether the "cuda" device can be used (a GPU, or Numba's simulator); the facts
live in engine.backend."""
from . import backend


def is_available():
    """True when tensors can be moved to the "cuda" device."""
    return backend.is_available("cuda")
