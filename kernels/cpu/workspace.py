"""A small cache of scratch buffers for hot paths, one per thread, bounded in bytes.

glibc hands freed blocks above 128 KB back to the operating system, so a large numpy temporary
is page-faulted in again on every call; reusing a buffer of the same shape and dtype avoids it.
Only scratch space goes here, never an array that is returned to the caller.

Each thread has its own cache: the C++ kernels release the GIL, and two threads writing one
buffer at once would corrupt each other's results. A thread's cache holds at most MAX_BYTES
(least recently used buffers go first; a buffer larger than that is never cached) and goes
away with its thread. clear() empties the calling thread's cache, clear_all() every thread's
(eg.empty_cache()); a buffer still in use stays valid until its user lets it go.
"""
import ctypes
import os
import sys
import threading
import weakref
from collections import OrderedDict

import numpy as np

MAX_BYTES = 64 * 2**20  # per thread; read on every call, so it may be changed at run time

# glibc's mallopt parameters (malloc.h), and the values keep_freed_memory sets
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2**20   # blocks below this come from the heap (glibc's own top value)
TRIM_THRESHOLD = 128 * 2**20  # freed memory the heap keeps at its top before shrinking


def keep_freed_memory():
    """Let the process reuse the memory of freed arrays instead of faulting it in afresh: the
    scratch cache above covers scratch space only, while every op returns new arrays of the
    same few sizes step after step. glibc maps a block above its threshold (128 KB, raised
    as such blocks are freed) with mmap and unmaps it when freed, and gives the heap's free top
    back to the system, so each new array pays a page fault per 4 KB page. With blocks up to
    32 MB taken from the heap, and up to 128 MB of freed heap kept, a DnCNN training step ran
    158 -> 135 ms (2 cores). glibc only; ENGINE_MALLOC=default leaves malloc as it is.
    Returns whether the settings were made."""
    if os.environ.get("ENGINE_MALLOC") == "default" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # another C library (musl) has no such knobs
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


class _Cache:
    """One thread's buffers by (purpose, shape, dtype), least recently used first."""

    def __init__(self):
        self.buffers = OrderedDict()
        self.nbytes = 0
        # Taken by the owner on every call (uncontended, cheap) and by clear_all from others.
        self.lock = threading.Lock()

    def get(self, key, shape, dtype):
        with self.lock:
            buffer = self.buffers.get(key)
            if buffer is not None:
                self.buffers.move_to_end(key)
                return buffer
        buffer = np.empty(shape, dtype)
        limit = MAX_BYTES
        if buffer.nbytes <= limit:
            with self.lock:
                self.buffers[key] = buffer
                self.nbytes += buffer.nbytes
                while self.nbytes > limit:
                    _, evicted = self.buffers.popitem(last=False)
                    self.nbytes -= evicted.nbytes
        return buffer

    def clear(self):
        with self.lock:
            self.buffers.clear()
            self.nbytes = 0


class _Local(threading.local):
    def __init__(self):
        self.cache = _Cache()
        with _registry_lock:
            _registry.add(self.cache)


_registry = weakref.WeakSet()  # every live thread's cache; a thread's goes when the thread ends
_registry_lock = threading.Lock()
_local = _Local()


def _caches():
    with _registry_lock:
        return list(_registry)


def scratch(purpose, shape, dtype):
    """An uninitialized array of `shape` and `dtype`, reused by this thread's later calls with
    the same key; the caller must be done with it before asking for the same key again."""
    dtype = np.dtype(dtype)
    return _local.cache.get((purpose, tuple(shape), dtype), shape, dtype)


def clear():
    """Free the calling thread's cached buffers."""
    _local.cache.clear()


def clear_all():
    """Free every thread's cached buffers."""
    for cache in _caches():
        cache.clear()


def cached_bytes(all_threads=False):
    """The bytes the calling thread's cache holds (or all threads' caches together)."""
    caches = _caches() if all_threads else [_local.cache]
    return sum(cache.nbytes for cache in caches)
