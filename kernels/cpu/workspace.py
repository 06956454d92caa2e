"""A small cache of scratch buffers for hot paths.

glibc hands freed blocks above 128 KB back to the operating system, so a large numpy temporary
is page-faulted in again on every call; reusing a buffer of the same shape and dtype avoids it.
Only scratch space goes here, never an array that is returned to the caller.
"""
from collections import OrderedDict

import numpy as np

_buffers = OrderedDict()
MAX_BUFFERS = 8


def scratch(purpose, shape, dtype):
    """An uninitialized array of `shape` and `dtype` reused across calls with the same key."""
    key = (purpose, tuple(shape), np.dtype(dtype))
    buffer = _buffers.pop(key, None)
    if buffer is None:
        buffer = np.empty(shape, dtype)
    _buffers[key] = buffer
    while len(_buffers) > MAX_BUFFERS:
        _buffers.popitem(last=False)
    return buffer


def clear():
    _buffers.clear()
