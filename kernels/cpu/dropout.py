"""Dropout masks from the counter-based random numbers that every backend shares."""
import numpy as np

from ..random_bits import MASK, lowbias32

__all__ = ["dropout_mask"]


def dropout_mask(shape, p, seed, dtype):
    """1/(1-p) where the element's counter-based uniform number is >= p, else 0."""
    counters = np.arange(int(np.prod(shape)), dtype=np.int64)
    uniform = lowbias32((counters + lowbias32(seed)) & MASK) / 2.0 ** 32
    return ((uniform >= p) / (1 - p)).astype(dtype).reshape(shape)
