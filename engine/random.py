"""The engine's one random generator, seeded by manual_seed: the random creation functions (rand,
randn, randint, randperm and their *_like), init and dropout draw from it, whatever the device."""
import numbers

import numpy as np

from .errors import ArgumentError, DTypeError

_generator = np.random.default_rng()


def manual_seed(seed):
    """Make every later random draw of the engine repeatable. As torch, `seed` is an int in
    [-2**63, 2**64); a negative one counts as 2**64 + seed."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise DTypeError(f"manual_seed: expected an int, got {seed!r}")
    if not -2**63 <= seed < 2**64:
        raise ArgumentError(f"manual_seed: expected a seed in [-2**63, 2**64), got {seed}")
    global _generator
    _generator = np.random.default_rng(int(seed) % 2**64)


def generator():
    return _generator
