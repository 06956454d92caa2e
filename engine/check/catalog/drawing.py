"""What a catalogue case is, and the Drawers and input domains that every family's cases use."""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ... import backend

SIDE = 4  # largest side drawn: the full-Jacobian check grows with the element count


class RandomDrawer:
    """Draws case inputs from a numpy Generator (the Drawer that needs no hypothesis).

    Every Drawer has a `side`: the largest side (and, scaled, batch and channel count) drawn.
    """

    def __init__(self, rng, side=SIDE):
        self.rng, self.side = rng, side

    def integer(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, options):
        return options[self.integer(0, len(options) - 1)]

    def shape(self, min_dims=0, max_dims=3, min_side=1, max_side=None):
        max_side = self.side if max_side is None else min(max_side, self.side)
        return tuple(self.integer(min_side, max(min_side, max_side))
                     for _ in range(self.integer(min_dims, max_dims)))

    def uniform(self, shape, lo=-2.0, hi=2.0):
        return self.rng.uniform(lo, hi, shape)

    def permutation(self, n):
        return tuple(int(i) for i in self.rng.permutation(n))

    def subset(self, n):
        """A non-empty sorted subset of range(n)."""
        return tuple(sorted(self.rng.choice(n, self.integer(1, n), replace=False).tolist()))

    def booleans(self, shape):
        return self.rng.random(shape) < 0.5

    def distinct_integers(self, count, lo, hi):
        return self.rng.choice(np.arange(lo, hi + 1), count, replace=False)


# --- domains built on any Drawer -----------------------------------------------------------------
def away_from_zero(d, shape, lo=0.1, hi=2.0):
    """|v| in [lo, hi]: no kink of relu, abs or leaky_relu lies within a finite-difference step."""
    return np.where(d.booleans(shape), 1, -1) * d.uniform(shape, lo, hi)


def distinct(d, shape):
    """Distinct values at least 0.004 apart (far more than a finite-difference step): a max
    has a single winner along any axes."""
    size = int(np.prod(shape, dtype=np.int64))
    return np.asarray(d.distinct_integers(size, -1000, 1000), np.float64).reshape(shape) / 250


def broadcast_pair(d, max_dims=3):
    """Two shapes that broadcast: a common shape, each side dropping leading dims or using 1s."""
    full = d.shape(0, max_dims)

    def side():
        kept = full[d.integer(0, len(full)):]
        return tuple(1 if d.integer(0, 2) == 0 else n for n in kept)
    return side(), side()


def axes(d, ndim):
    if ndim == 0:
        return None
    kind = d.choice(["none", "int", "tuple"])
    if kind == "none":
        return None
    return d.integer(-ndim, ndim - 1) if kind == "int" else d.subset(ndim)


@dataclass
class Case:
    """fn(*tensors, **params) must equal reference(*arrays, **params); every input is checked."""
    name: str
    fn: Callable
    reference: Callable
    draw: Callable  # Drawer -> (list of arrays, dict of params)
    # float32 forward tolerance: normalization amplifies rounding by up to 1/sqrt(eps)
    float32_tol: float = 1e-5
    variant: tuple = None  # (op, variant name) when the case pins a kernel variant
    # examples per test on the simulated cuda device, where each kernel launch costs ~0.1 ms a
    # thread: 1 for ops composed of many checked ops (the cpu still draws the full count)
    simulator_examples: int = None

    def runs_on(self, device):
        """Whether the device's kernel table has this case's variant (always, without one)."""
        return self.variant is None or backend.runs_on(*self.variant, device)


def unary(name, fn, reference, lo=-2.0, hi=2.0, kink_free=False):
    def draw(d):
        shape = d.shape()
        return [away_from_zero(d, shape) if kink_free else d.uniform(shape, lo, hi)], {}
    return Case(name, fn, reference, draw)


def binary(name, fn, reference, b_lo=-2.0, b_hi=2.0, a_lo=-2.0, a_hi=2.0, b_kink_free=False):
    def draw(d):
        sa, sb = broadcast_pair(d)
        b = away_from_zero(d, sb, b_lo, b_hi) if b_kink_free else d.uniform(sb, b_lo, b_hi)
        return [d.uniform(sa, a_lo, a_hi), b], {}
    return Case(name, fn, reference, draw)


def reduction(name, fn, reference, values=None):
    def draw(d):
        shape = d.shape(1, 3)
        x = values(d, shape) if values else d.uniform(shape)
        return [x], {"axis": axes(d, len(shape)), "keepdims": d.choice([False, True])}
    return Case(name, fn, reference, draw)
