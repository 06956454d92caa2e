"""The references of the losses family: loops over elements and classes, in float64."""
import math

import numpy as np

from .core import log_softmax, scalar_map


def _reduce(loss, reduction, count=None):
    """The mean divides by count where given (torch's weighted means), else by the size."""
    loss = np.asarray(loss, np.float64)
    if reduction == "none":
        return loss
    total = math.fsum(loss.ravel())
    if reduction == "sum":
        return np.float64(total)
    return np.float64(total / (loss.size if count is None else count))


def nll_loss(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """-weight[t] logp[n, t, ...] for t = target[n, ...] (logp (N, C, ...) or (C,))."""
    logp, target = np.asarray(logp, np.float64), np.asarray(target)
    if logp.ndim == 1:
        loss = nll_loss(logp[None], target[None], weight, ignore_index, reduction)
        return loss[0] if reduction == "none" else loss
    loss, weights = np.zeros(target.shape), np.zeros(target.shape)
    for index in np.ndindex(target.shape):
        t = int(target[index])
        if t != ignore_index:
            weights[index] = 1.0 if weight is None else float(weight[t])
            loss[index] = -weights[index] * logp[(index[0], t) + index[1:]]
    return _reduce(loss, reduction, math.fsum(weights.ravel()))


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """torch's cross_entropy: class indices or probabilities, weights, label smoothing."""
    logits, target = np.asarray(logits, np.float64), np.asarray(target)
    if logits.ndim == 1:
        loss = cross_entropy(logits[None], target[None], weight, ignore_index, reduction,
                             label_smoothing)
        return loss[0] if reduction == "none" else loss
    logp = log_softmax(logits, 1)
    classes = logits.shape[1]
    w = np.ones(classes) if weight is None else np.asarray(weight, np.float64)
    eps = label_smoothing
    if target.dtype.kind == "f":  # probabilities: -sum_c w_c q_c logp_c, q smoothed
        loss = np.zeros(logits.shape[:1] + logits.shape[2:])
        for index in np.ndindex(loss.shape):
            loss[index] = -math.fsum(
                w[c] * ((1 - eps) * target[(index[0], c) + index[1:]] + eps / classes)
                * logp[(index[0], c) + index[1:]] for c in range(classes))
        return _reduce(loss, reduction)
    loss, weights = np.zeros(target.shape), np.zeros(target.shape)
    for index in np.ndindex(target.shape):
        t = int(target[index])
        if t == ignore_index:
            continue
        weights[index] = w[t]
        at = [(index[0], c) + index[1:] for c in range(classes)]
        smooth = -math.fsum(w[c] * logp[at[c]] for c in range(classes))
        loss[index] = (1 - eps) * -w[t] * logp[at[t]] + eps / classes * smooth
    return _reduce(loss, reduction, math.fsum(weights.ravel()))


def _clamped_log(u):
    return max(math.log(u), -100.0) if u > 0 else -100.0


def binary_cross_entropy(x, target, weight=None, reduction="mean"):
    loss = scalar_map(lambda u, t: -(t * _clamped_log(u) + (1 - t) * _clamped_log(1 - u)), x, target)
    return _reduce(loss if weight is None else loss * np.asarray(weight, np.float64), reduction)


def _softplus(u):
    """log(1 + exp(u)) without overflow."""
    return max(u, 0.0) + math.log1p(math.exp(-abs(u)))


def binary_cross_entropy_with_logits(x, target, weight=None, reduction="mean", pos_weight=None):
    """-(p t log s(x) + (1 - t) log(1 - s(x))), p = pos_weight (1 where not given)."""
    p = 1.0 if pos_weight is None else pos_weight
    loss = scalar_map(lambda u, t, q: q * t * _softplus(-u) + (1 - t) * _softplus(u), x, target, p)
    return _reduce(loss if weight is None else loss * np.asarray(weight, np.float64), reduction)


def mse_loss(x, target, reduction="mean"):
    return _reduce(scalar_map(lambda u, v: (u - v) ** 2, x, target), reduction)


def l1_loss(x, target, reduction="mean"):
    return _reduce(scalar_map(lambda u, v: abs(u - v), x, target), reduction)


def huber_loss(x, target, reduction="mean", delta=1.0):
    def huber(u, v):
        d = abs(u - v)
        return 0.5 * d * d if d < delta else delta * (d - 0.5 * delta)
    return _reduce(scalar_map(huber, x, target), reduction)


def smooth_l1_loss(x, target, reduction="mean", beta=1.0):
    if beta == 0:
        return l1_loss(x, target, reduction)
    return _reduce(huber_loss(x, target, "none", beta) / beta, reduction)


def kl_div(x, target, reduction="mean", log_target=False):
    if log_target:
        loss = scalar_map(lambda u, t: math.exp(t) * (t - u), x, target)
    else:
        loss = scalar_map(lambda u, t: t * (math.log(t) - u) if t > 0 else 0.0, x, target)
    if reduction == "batchmean":
        return np.float64(math.fsum(loss.ravel()) / (loss.shape[0] if loss.ndim else 1))
    return _reduce(loss, reduction)


def _vectors(x, dim):
    """x with dim moved last: one vector per index of the other dims."""
    return np.moveaxis(np.asarray(x, np.float64), dim, -1)


def normalize(x, p=2.0, dim=1, eps=1e-12):
    moved = _vectors(x, dim)
    out = np.empty(moved.shape)
    for index in np.ndindex(moved.shape[:-1]):
        row = moved[index]
        norm = math.fsum(abs(v) ** p for v in row) ** (1 / p)
        out[index] = row / max(norm, eps)
    return np.moveaxis(out, -1, dim)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    x1, x2 = np.broadcast_arrays(np.asarray(x1, np.float64), np.asarray(x2, np.float64))
    a, b = _vectors(x1, dim), _vectors(x2, dim)
    out = np.empty(a.shape[:-1])
    for index in np.ndindex(out.shape):
        na = max(math.sqrt(math.fsum(v * v for v in a[index])), eps)
        nb = max(math.sqrt(math.fsum(v * v for v in b[index])), eps)
        out[index] = math.fsum(u * v for u, v in zip(a[index], b[index])) / (na * nb)
    return out


def margin_ranking_loss(x1, x2, target, margin=0.0, reduction="mean"):
    return _reduce(scalar_map(lambda u, v, y: max(0.0, -y * (u - v) + margin), x1, x2, target),
                   reduction)


def cosine_embedding_loss(x1, x2, target, margin=0.0, reduction="mean"):
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    loss = np.empty(x1.shape[:-1])
    for index in np.ndindex(loss.shape):
        a, b = x1[index], x2[index]
        norms = (math.fsum(a * a) + 1e-12) * (math.fsum(b * b) + 1e-12)
        cos = math.fsum(a * b) / math.sqrt(norms)
        y = np.asarray(target)[index]
        loss[index] = 1 - cos if y == 1 else max(0.0, cos - margin) if y == -1 else 0.0
    return _reduce(loss, reduction)


def gaussian_nll_loss(x, target, var, full=False, eps=1e-6, reduction="mean"):
    x, var = np.asarray(x, np.float64), np.asarray(var, np.float64)
    if var.ndim == x.ndim - 1 and var.shape == x.shape[:-1]:
        var = var[..., None]
    constant = 0.5 * math.log(2 * math.pi) if full else 0.0
    loss = scalar_map(lambda u, t, v: 0.5 * (math.log(max(v, eps)) + (u - t) ** 2 / max(v, eps))
                      + constant, x, target, var)
    return _reduce(loss, reduction)


def poisson_nll_loss(x, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    def poisson(u, t):
        loss = math.exp(u) - t * u if log_input else u - t * math.log(u + eps)
        if full and t > 1:  # Stirling's log(t!)
            loss += t * math.log(t) - t + 0.5 * math.log(2 * math.pi * t)
        return loss
    return _reduce(scalar_map(poisson, x, target), reduction)
