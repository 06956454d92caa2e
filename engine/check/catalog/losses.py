"""The catalogue cases of the losses family (mse_loss, the plain cross_entropy and
binary_cross_entropy_with_logits are in core.py). Inputs stay away from the kinks: the
differences of l1, smooth-l1 and Huber losses from 0 and from their threshold, the margin of
the ranking loss from 0, vectors from the zero norm."""
import numpy as np

import kernels.reference as ref

from ... import nn
from ...ops import cosine_similarity
from ...tensor import Tensor
from .drawing import Case, away_from_zero

F = nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def _with_tensors(fn, *names):
    """fn with its named params (arrays: class targets, weights) made tensors on the input's
    device, floats in its dtype: not differentiated, as torch's."""
    def call(x, *rest, **params):
        for name in names:
            value = params.get(name)
            if value is not None:
                value = value.astype(x.dtype) if value.dtype.kind == "f" else value
                params[name] = Tensor(value, device=x.device)
        return fn(x, *rest, **params)
    return call


def _classes(d, smallest=2):
    """(N, C) with up to one spatial dim, or an unbatched (C,)."""
    n, c = d.integer(1, d.side), d.integer(smallest, d.side + 1)
    return d.choice([(n, c), (n, c, d.integer(1, 3)), (c,)])


def _class_target(d, shape, ignore_index):
    """Class indices for an input of shape, about a quarter of them ignore_index."""
    batch = shape[:1] + shape[2:] if len(shape) > 1 else ()
    classes = shape[1] if len(shape) > 1 else shape[0]
    picks = [d.integer(0, classes - 1) if d.integer(0, 3) else ignore_index
             for _ in range(int(np.prod(batch, dtype=np.int64)))]
    picks[0] = d.integer(int(ignore_index == 0), classes - 1)  # all ignored: a mean of 0 / 0
    return np.array(picks, np.int64).reshape(batch)


def _class_weight(d, shape):
    return d.choice([None, d.uniform((shape[1] if len(shape) > 1 else shape[0],), 0.5, 2)])


def _draw_nll_loss(d):
    shape = _classes(d, smallest=1)
    return [d.uniform(shape, -3, 0)], {
        "target": _class_target(d, shape, -100), "weight": _class_weight(d, shape),
        "reduction": d.choice(REDUCTIONS)}


def _draw_cross_entropy_weighted(d):
    shape = _classes(d)
    ignore_index = d.choice([-100, 0])
    return [d.uniform(shape, -3, 3)], {
        "target": _class_target(d, shape, ignore_index), "weight": _class_weight(d, shape),
        "ignore_index": ignore_index, "label_smoothing": d.choice([0.0, 0.25]),
        "reduction": d.choice(REDUCTIONS)}


def _draw_cross_entropy_probabilities(d):
    shape = _classes(d)
    return [d.uniform(shape, -3, 3), d.uniform(shape, 0, 1)], {
        "weight": _class_weight(d, shape), "label_smoothing": d.choice([0.0, 0.25]),
        "reduction": d.choice(REDUCTIONS)}


def _draw_binary_cross_entropy(d):
    shape = d.shape(0, 3)
    return [d.uniform(shape, 0.05, 0.95), d.uniform(shape, 0, 1)], {"reduction": d.choice(REDUCTIONS)}


def _draw_pos_weight(d):
    shape = d.shape(1, 3)
    return [d.uniform(shape, -3, 3), d.uniform(shape, 0, 1), d.uniform(shape[-1:], 0.5, 2)], {
        "reduction": d.choice(REDUCTIONS)}


def _draw_differences(threshold):
    """A pair whose differences keep 0.1 away from 0 and from +-threshold."""
    def draw(d):
        shape = d.shape(0, 3)
        target = d.uniform(shape)
        near = d.uniform(shape, 0.1, threshold - 0.1)
        far = d.uniform(shape, threshold + 0.1, threshold + 2)
        size = np.where(d.booleans(shape), near, far)
        return [target + np.where(d.booleans(shape), 1, -1) * size, target], {
            "reduction": d.choice(REDUCTIONS)}
    return draw


def _draw_kl_div(d):
    shape = d.shape(1, 3)
    log_target = d.choice([False, True])
    target = d.uniform(shape, -3, 0) if log_target else d.uniform(shape, 0.05, 1)
    return [d.uniform(shape, -3, 0), target], {
        "log_target": log_target, "reduction": d.choice(REDUCTIONS + ["batchmean"])}


def _draw_cosine_similarity(d):
    shape = d.shape(1, 2)
    other = shape[d.integer(0, len(shape) - 1):]  # broadcast from the right
    return [away_from_zero(d, shape), away_from_zero(d, other)], {
        "dim": d.integer(-len(other), len(other) - 1)}


def _draw_normalize(d):
    shape = d.shape(1, 3)
    return [away_from_zero(d, shape)], {"p": d.choice([1.0, 2.0, 3.0]),
                                        "dim": d.integer(-len(shape), len(shape) - 1)}


def _draw_margin_ranking_loss(d):
    shape = d.shape(0, 2)
    x2, margin = d.uniform(shape), d.choice([0.0, 0.5])
    sign = np.where(d.booleans(shape), 1.0, -1.0)
    # -sign (x1 - x2) + margin = +-gap with |gap| >= 0.1: x1 = x2 + sign (margin -+ gap)
    gap = away_from_zero(d, shape)
    return [x2 + sign * (margin - gap), x2, sign], {"margin": margin,
                                                     "reduction": d.choice(REDUCTIONS)}


def _draw_cosine_embedding_loss(d):
    shape = d.shape(1, 2, min_side=2)
    x1, x2, margin = away_from_zero(d, shape), away_from_zero(d, shape), d.choice([0.0, 0.3])
    cos = (x1 * x2).sum(-1) / np.sqrt((x1 * x1).sum(-1) * (x2 * x2).sum(-1))
    # dissimilar pairs (-1) only where cos - margin is away from the kink at 0
    target = np.where(d.booleans(cos.shape) & (np.abs(cos - margin) > 0.05), -1, 1)
    return [x1, x2], {"target": target, "margin": margin, "reduction": d.choice(REDUCTIONS)}


def _draw_gaussian_nll_loss(d):
    shape = d.shape(1, 3)
    var_shape = d.choice([shape, shape[:-1], shape[:-1] + (1,)])
    return [d.uniform(shape), d.uniform(shape), d.uniform(var_shape, 0.1, 2)], {
        "full": d.choice([False, True]), "reduction": d.choice(REDUCTIONS)}


def _draw_poisson_nll_loss(d):
    shape = d.shape(0, 3)
    log_input = d.choice([True, False])
    x = d.uniform(shape, -2, 1) if log_input else d.uniform(shape, 0.1, 3)
    # full adds Stirling's term where target > 1: a step there
    target = np.where(d.booleans(shape), d.uniform(shape, 0, 0.9), d.uniform(shape, 1.1, 4))
    return [x, target], {"log_input": log_input, "full": d.choice([False, True]),
                                         "reduction": d.choice(REDUCTIONS)}


CASES = [
    Case("nll_loss", _with_tensors(F.nll_loss, "target", "weight"), ref.nll_loss, _draw_nll_loss),
    Case("cross_entropy_weighted", _with_tensors(F.cross_entropy, "target", "weight"),
         ref.cross_entropy, _draw_cross_entropy_weighted),
    Case("cross_entropy_probabilities", _with_tensors(F.cross_entropy, "weight"),
         ref.cross_entropy, _draw_cross_entropy_probabilities),
    Case("binary_cross_entropy", F.binary_cross_entropy, ref.binary_cross_entropy,
         _draw_binary_cross_entropy),
    Case("binary_cross_entropy_with_logits_pos_weight",
         lambda x, t, w, **p: F.binary_cross_entropy_with_logits(x, t, pos_weight=w, **p),
         lambda x, t, w, **p: ref.binary_cross_entropy_with_logits(x, t, pos_weight=w, **p),
         _draw_pos_weight),
    Case("l1_loss", F.l1_loss, ref.l1_loss, _draw_differences(2.0)),
    Case("smooth_l1_loss", lambda x, t, **p: F.smooth_l1_loss(x, t, beta=0.5, **p),
         lambda x, t, **p: ref.smooth_l1_loss(x, t, beta=0.5, **p), _draw_differences(0.5)),
    Case("huber_loss", F.huber_loss, ref.huber_loss, _draw_differences(1.0)),
    Case("kl_div", F.kl_div, ref.kl_div, _draw_kl_div),
    Case("cosine_similarity", cosine_similarity, ref.cosine_similarity, _draw_cosine_similarity,
         simulator_examples=1),
    Case("normalize", F.normalize, ref.normalize, _draw_normalize),
    Case("margin_ranking_loss", F.margin_ranking_loss, ref.margin_ranking_loss,
         _draw_margin_ranking_loss),
    Case("cosine_embedding_loss", _with_tensors(F.cosine_embedding_loss, "target"),
         ref.cosine_embedding_loss, _draw_cosine_embedding_loss, simulator_examples=1),
    Case("gaussian_nll_loss", F.gaussian_nll_loss, ref.gaussian_nll_loss, _draw_gaussian_nll_loss),
    Case("poisson_nll_loss", F.poisson_nll_loss, ref.poisson_nll_loss, _draw_poisson_nll_loss),
]
