"""The catalogue cases of the activations family (relu, leaky_relu, sigmoid, tanh, softmax and
log_softmax are in core.py). Inputs stay at least 0.1 from every kink: the breakpoints of the
piecewise activations and softplus's threshold."""
import numpy as np

import kernels.reference as ref

from ... import nn
from .drawing import Case, unary

F = nn.functional


def _away(values, *kinks, gap=0.1):
    """values with those within gap of a kink moved out to kink +- gap."""
    for kink in kinks:
        near = np.abs(values - kink) < gap
        values = np.where(near, kink + np.where(values < kink, -gap, gap), values)
    return values


def _piecewise(name, fn, reference, kinks, lo=-4.0, hi=4.0, **choices):
    """A unary case whose params are drawn from `choices` (name -> options) and whose inputs
    avoid kinks(params)."""
    def draw(d):
        params = {key: d.choice(options) for key, options in choices.items()}
        return [_away(d.uniform(d.shape(), lo, hi), *kinks(**params))], params
    return Case(name, fn, reference, draw)


def _draw_softmin(d):
    shape = d.shape(1, 3)
    return [d.uniform(shape, -3, 3)], {"dim": d.integer(-len(shape), len(shape) - 1)}


def _draw_prelu(d):
    shape = d.shape(1, 4)
    channels = shape[1] if len(shape) > 1 else 1
    weight = d.uniform((d.choice([1, channels]),), -0.5, 0.5)
    return [_away(d.uniform(shape), 0.0), weight], {}


def _draw_glu(d):
    shape = list(d.shape(1, 3))
    dim = d.integer(-len(shape), len(shape) - 1)
    shape[dim] = 2 * d.integer(1, 2)
    return [d.uniform(tuple(shape), -3, 3)], {"dim": dim}


CASES = [
    _piecewise("gelu", F.gelu, ref.gelu, lambda approximate: (), approximate=["none", "tanh"]),
    unary("silu", F.silu, ref.silu, lo=-6.0, hi=6.0),
    unary("mish", F.mish, ref.mish, lo=-6.0, hi=6.0),
    _piecewise("softplus", F.softplus, ref.softplus, lambda beta, threshold: (threshold / beta,),
               beta=[1.0, 2.0], threshold=[20.0, 3.0]),
    unary("logsigmoid", F.logsigmoid, ref.logsigmoid, lo=-6.0, hi=6.0),
    _piecewise("elu", F.elu, ref.elu, lambda alpha: (0.0,), alpha=[1.0, 0.5]),
    _piecewise("celu", F.celu, ref.celu, lambda alpha: (0.0,), alpha=[1.0, 0.5]),
    _piecewise("selu", F.selu, ref.selu, lambda: (0.0,)),
    unary("softsign", F.softsign, ref.softsign, kink_free=True),
    _piecewise("hardtanh", F.hardtanh, ref.hardtanh, lambda min_val, max_val: (min_val, max_val),
               min_val=[-1.0, -2.0], max_val=[1.0, 0.5]),
    _piecewise("relu6", F.relu6, ref.relu6, lambda: (0.0, 6.0), lo=-2.0, hi=8.0),
    _piecewise("hardsigmoid", F.hardsigmoid, ref.hardsigmoid, lambda: (-3.0, 3.0)),
    _piecewise("hardswish", F.hardswish, ref.hardswish, lambda: (-3.0, 3.0)),
    unary("tanhshrink", F.tanhshrink, ref.tanhshrink),
    _piecewise("softshrink", F.softshrink, ref.softshrink, lambda lambd: (-lambd, lambd),
               lo=-2.0, hi=2.0, lambd=[0.5, 1.0]),
    _piecewise("hardshrink", F.hardshrink, ref.hardshrink, lambda lambd: (-lambd, lambd),
               lo=-2.0, hi=2.0, lambd=[0.5, 1.0]),
    _piecewise("threshold", F.threshold, ref.threshold, lambda threshold, value: (threshold,),
               lo=-2.0, hi=2.0, threshold=[0.0, 0.5], value=[0.0, -1.5]),
    Case("softmin", F.softmin, ref.softmin, _draw_softmin),
    Case("prelu", F.prelu, ref.prelu, _draw_prelu),
    Case("glu", F.glu, ref.glu, _draw_glu),
]
