"""The catalogue cases of the normalization family (batch_norm's are in core.py). Every group
of values normalized together holds at least two values drawn uniformly, so its variance stays
well above zero; float32 results carry the 1/std amplification of rounding, as batch_norm's."""
import numpy as np

import kernels.reference as ref

from ...nn import functional as F
from ...tensor import Tensor
from .drawing import Case

NORM_TOL = 1e-4  # float32: normalization amplifies rounding by 1/std


def _spread(d, shape):
    """Values alternating about -1 and +1 in memory order: every contiguous block of two or
    more (each group normalized here is one) has a std of about 1, so 1/std stays small."""
    size = int(np.prod(shape, dtype=np.int64))
    return (np.where(np.arange(size) % 2, 1.0, -1.0) + d.uniform(size, -0.5, 0.5)).reshape(shape)


def _draw_trailing(d, affine):
    """x of 1 to 3 dims and normalized_shape, its last one or two sides (at least 2 values)."""
    shape = d.shape(1, 3, min_side=2, max_side=3)
    normalized = shape[len(shape) - d.integer(1, len(shape) if len(shape) < 3 else 2):]
    extra = [d.uniform(normalized, 0.5, 2)] + ([d.uniform(normalized)] if affine else [])
    return [_spread(d, shape)] + extra, {"normalized_shape": normalized}


def _draw_group_norm(d):
    groups, per_group = d.integer(1, 2), d.integer(1, 2)
    shape = (d.integer(1, 2), groups * per_group) + d.shape(0, 2, max_side=2)
    if per_group * int(np.prod(shape[2:], dtype=np.int64)) < 2:
        shape += (2,)
    c = shape[1]
    return [_spread(d, shape), d.uniform((c,), 0.5, 2), d.uniform((c,))], {"num_groups": groups}


def _draw_instance(d):
    shape = (d.integer(1, 2), d.integer(1, 3), d.integer(2, 3)) + d.shape(0, 1, max_side=2)
    c = shape[1]
    return [_spread(d, shape), d.uniform((c,), 0.5, 2), d.uniform((c,))], {}


def _draw_instance_eval(d):
    inputs, _ = _draw_instance(d)
    c = inputs[0].shape[1]
    return inputs, {"running_mean": d.uniform((c,)), "running_var": d.uniform((c,), 0.2, 2)}


def _eval_instance_norm(x, w, b, running_mean, running_var):
    stats = [Tensor(a, dtype=x.dtype, device=x.device) for a in (running_mean, running_var)]
    return F.instance_norm(x, *stats, w, b, use_input_stats=False)


def _draw_local_response_norm(d):
    shape = (d.integer(1, 2), d.integer(1, 4)) + d.shape(1, 2, max_side=2)
    return [d.uniform(shape)], {"size": d.integer(1, 4), "alpha": d.choice([1e-4, 0.3]),
                                "beta": d.choice([0.75, 1.5]), "k": d.choice([1.0, 2.0])}


CASES = [
    Case("layer_norm", lambda x, w, b, normalized_shape: F.layer_norm(x, normalized_shape, w, b),
         lambda x, w, b, normalized_shape: ref.layer_norm(x, normalized_shape, w, b),
         lambda d: _draw_trailing(d, True), NORM_TOL, simulator_examples=1),
    Case("rms_norm", lambda x, w, normalized_shape: F.rms_norm(x, normalized_shape, w, 1e-6),
         lambda x, w, normalized_shape: ref.rms_norm(x, normalized_shape, w, 1e-6),
         lambda d: _draw_trailing(d, False), NORM_TOL),
    Case("group_norm", lambda x, w, b, num_groups: F.group_norm(x, num_groups, w, b),
         lambda x, w, b, num_groups: ref.group_norm(x, num_groups, w, b), _draw_group_norm, NORM_TOL,
         simulator_examples=1),
    Case("instance_norm", lambda x, w, b: F.instance_norm(x, None, None, w, b),
         lambda x, w, b: ref.instance_norm(x, None, None, w, b), _draw_instance, NORM_TOL,
         simulator_examples=1),
    Case("instance_norm_eval", _eval_instance_norm,
         lambda x, w, b, running_mean, running_var: ref.instance_norm(
             x, running_mean, running_var, w, b, use_input_stats=False), _draw_instance_eval, NORM_TOL),
    Case("local_response_norm", F.local_response_norm, ref.local_response_norm,
         _draw_local_response_norm),
]
