"""The engine's one random generator, seeded by manual_seed, used by randn, init and dropout."""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Make every later random draw of the engine repeatable."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator():
    return _generator
