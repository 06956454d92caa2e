"""The catalogue's Drawer interface on top of hypothesis, so that failures shrink."""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from engine import backend
from engine.check.catalog import SIDE


def for_examples(case, device, check, default):
    """check(data) on `default` hypothesis draws, or on the case's simulator_examples where the
    device is the simulator (the settings differ per case, so the test is built here)."""
    examples = case.simulator_examples if backend.simulated(device) else None
    settings(max_examples=examples or default)(given(data=st.data())(check))()


class HypothesisDrawer:
    def __init__(self, data, side=SIDE):
        self.draw, self.side = data.draw, side

    def integer(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def choice(self, options):
        return self.draw(st.sampled_from(options))

    def shape(self, min_dims=0, max_dims=3, min_side=1, max_side=None):
        max_side = self.side if max_side is None else min(max_side, self.side)
        return self.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims,
                                          min_side=min_side, max_side=max(min_side, max_side)))

    def uniform(self, shape, lo=-2.0, hi=2.0):
        return self.draw(hnp.arrays(np.float64, shape,
                                    elements=st.floats(lo, hi, allow_subnormal=False)))

    def permutation(self, n):
        return tuple(self.draw(st.permutations(range(n))))

    def subset(self, n):
        return tuple(sorted(self.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n,
                                               unique=True))))

    def booleans(self, shape):
        return self.draw(hnp.arrays(np.bool_, shape))

    def distinct_integers(self, count, lo, hi):
        return self.draw(st.lists(st.integers(lo, hi), min_size=count, max_size=count, unique=True))
