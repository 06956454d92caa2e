"""The counter-based random numbers behind dropout, the same on every backend.

uniform(i) = lowbias32((i + lowbias32(seed)) mod 2^32) / 2^32 for element i: no state to carry
between calls or devices, every element computable on its own (by any GPU thread), and the
same mask on the cpu and cuda devices for the same seed. All arithmetic stays below 2^63, so
int64 arithmetic in numpy and in Numba kernels gives the same bits.
"""
MASK = 0xFFFFFFFF


def lowbias32(x):
    """A 32-bit integer hash (Chris Wellons' lowbias32), on Python ints or int64 arrays."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & MASK
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & MASK
    return x ^ (x >> 16)
