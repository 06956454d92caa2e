"""Losses. Cross-entropy and BCE-with-logits are fused kernels, stable for any logits."""
import math

import numpy as np

from ..autograd import Function
from ..errors import ArgumentError, DTypeError, ShapeError
from ._checks import require_float
from .activation import log_softmax
from .elementwise import logaddexp
from .shape import where

REDUCTIONS = ("mean", "sum", "none")


class CrossEntropy(Function):
    name = "cross_entropy"

    def forward(self, logits, target):
        loss, logp = self.kernel("cross_entropy")(logits, target)
        self.save(logits, logp, target)
        return loss

    def backward(self, gy):
        logits, logp, target = self.saved
        if self.kernels.differentiable:  # recording: logp again, as a function of the logits
            logp = self.kernels.log_softmax(logits, 1)
        return self.kernel("cross_entropy_backward")(logp, target, gy), None


class BCEWithLogits(Function):
    name = "binary_cross_entropy_with_logits"

    def forward(self, x, t):
        self.save(x, t)
        return self.kernels.bce_with_logits(x, t)

    def backward(self, gy):
        x, t = self.saved
        gx, gt = self.kernels.bce_with_logits_backward(x, t, gy)
        return gx, gt


class BinaryCrossEntropy(Function):
    """On probabilities; gradients finite where they are exactly 0 or 1 (see the composite)."""
    name = "binary_cross_entropy"

    def forward(self, x, t):
        self.save(x, t)
        return self.kernels.binary_cross_entropy(x, t)

    def backward(self, gy):
        x, t = self.saved
        return self.kernels.binary_cross_entropy_backward(x, t, gy)


def _reduce(op, loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ArgumentError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_reduction(op, reduction, allowed=REDUCTIONS):
    if reduction not in allowed:
        raise ArgumentError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")


def _same_shape(op, a, b):
    if a.shape != b.shape:
        raise ShapeError(f"{op}: input has shape {a.shape} but target has shape {b.shape}; "
                         "expected equal shapes")


def _classes_along_dim1(weight, ndim):
    """A per-class weight (C,) shaped to broadcast along dim 1 of an (N, C, d1, ...) input."""
    return weight.reshape((-1,) + (1,) * (ndim - 2))


def _check_weight(op, input, weight):
    """A per-class weight: shape (C,) for input (N, C, ...) or (C,), and input's dtype."""
    if weight is None:
        return
    classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    if weight.shape != (classes,):
        raise ShapeError(f"{op}: weight has shape {weight.shape}; expected ({classes},), "
                         "one weight per class")
    if weight.dtype != input.dtype:
        raise DTypeError(f"{op}: weight has dtype {weight.dtype}; expected input's {input.dtype}")


def _check_class_target(op, input, target, weight, ignore_index):
    """The checks of class-index targets: input (N, C, ...) or (C,), target (N, ...) or ().
    Returns whether any target is ignore_index (seen on the host array the checks read)."""
    if target.dtype.kind not in "iu":
        raise DTypeError(f"{op}: target must hold integer class indices, got dtype {target.dtype}")
    batched = input.shape[:1] + input.shape[2:]
    if input.ndim < 1 or target.shape != (batched if input.ndim > 1 else ()):
        raise ShapeError(f"{op}: logits of shape {input.shape} and target of shape {target.shape}; "
                         "expected logits (N, C, ...) and target (N, ...)")
    _check_weight(op, input, weight)
    classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    host = target.numpy()
    kept = host[host != ignore_index]
    if kept.size and (kept.min() < 0 or kept.max() >= classes):
        raise ShapeError(f"{op}: target values must lie in [0, {classes}), "
                         f"got values in [{kept.min()}, {kept.max()}]")
    return kept.size != host.size


def _class_loss(op, logp, target, weight, ignore_index, reduction, smoothing=0.0):
    """torch's nll_loss over log-probabilities (N, C, ...), with cross_entropy's label smoothing:
    each element's loss is weighted by its class's weight, ignored elements count zero, and the
    mean divides by the sum of the weights of the elements not ignored."""
    kept = (target != ignore_index).astype(target.dtype)
    safe = target * kept  # ignored elements read class 0, then count zero
    picked = -logp.gather(1, safe.unsqueeze(1)).squeeze(1)
    w = kept.astype(logp.dtype)
    if weight is not None:
        w = w * weight.gather(0, safe.reshape(-1)).reshape(safe.shape)
    loss = picked * w
    if smoothing:
        classes = logp.shape[1]
        spread = logp if weight is None else logp * _classes_along_dim1(weight, logp.ndim)
        smooth = -spread.sum(1) * kept.astype(logp.dtype)
        loss = (1 - smoothing) * loss + (smoothing / classes) * smooth
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(op, loss, reduction)


def _unbatched(input, target):
    """An unbatched (C,) input and () target as a batch of one, and how to undo it."""
    if input.ndim == 1:
        return input.unsqueeze(0), target.unsqueeze(0), lambda loss: loss.squeeze(0)
    return input, target, lambda loss: loss


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """-input[n, target[n], ...] weighted by weight[target[n]], for log-probabilities
    input (N, C, ...) or (C,) and integer target (N, ...) or ()."""
    op = "nll_loss"
    require_float(op, input.dtype)
    _check_reduction(op, reduction)
    _check_class_target(op, input, target, weight, ignore_index)
    input, target, undo = _unbatched(input, target)
    loss = _class_loss(op, input, target, weight, ignore_index, reduction)
    return undo(loss) if reduction == "none" else loss


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy of logits input (N, C, ...) or (C,) against integer class indices
    (N, ...) or class probabilities of input's shape."""
    op = "cross_entropy"
    require_float(op, input.dtype)
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ArgumentError(f"{op}: label_smoothing must lie in [0, 1], got {label_smoothing}")
    if target.shape == input.shape:  # as torch's: the shape, not the dtype, tells the kind
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    ignored = _check_class_target(op, input, target, weight, ignore_index)
    plain = weight is None and not label_smoothing and not ignored
    if plain and input.ndim > 1:  # the fused kernel
        return _reduce(op, CrossEntropy.apply(input, target), reduction)
    input, target, undo = _unbatched(input, target)
    loss = _class_loss(op, log_softmax(input, 1), target, weight, ignore_index, reduction,
                       label_smoothing)
    return undo(loss) if reduction == "none" else loss


def _cross_entropy_probabilities(input, target, weight, reduction, smoothing):
    op = "cross_entropy"
    if target.dtype.kind != "f":
        raise DTypeError(f"{op}: a target of the logits' shape {input.shape} holds class "
                         f"probabilities and must be floating point, got dtype {target.dtype}")
    if input.ndim < 1:
        raise ShapeError(f"{op}: logits must have a class dimension, got shape {input.shape}")
    class_dim = 1 if input.ndim > 1 else 0
    classes = input.shape[class_dim]
    _check_weight(op, input, weight)
    if smoothing:
        target = target * (1 - smoothing) + smoothing / classes
    terms = log_softmax(input, class_dim) * target
    if weight is not None:
        terms = terms * (_classes_along_dim1(weight, input.ndim) if class_dim else weight)
    loss = -terms.sum(class_dim)
    return _reduce(op, loss, reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)) for probabilities x, each log clamped at -100 as torch's."""
    op = "binary_cross_entropy"
    require_float(op, input.dtype)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    host = input.numpy()
    if host.size and (host.min() < 0 or host.max() > 1):
        raise ArgumentError(f"{op}: input must hold probabilities in [0, 1], "
                            f"got values in [{host.min()}, {host.max()}]")
    loss = BinaryCrossEntropy.apply(input, target)
    return _reduce(op, loss if weight is None else loss * weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(input), target), stable for any logits; pos_weight scales
    the positive term: (1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x))."""
    op = "binary_cross_entropy_with_logits"
    require_float(op, input.dtype)
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    if pos_weight is None:
        loss = BCEWithLogits.apply(input, target)
    else:
        softplus_neg = logaddexp(-input, 0.0)  # log(1 + exp(-x))
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    return _reduce(op, loss if weight is None else loss * weight, reduction)


def mse_loss(input, target, reduction="mean"):
    _check_reduction("mse_loss", reduction)
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce("mse_loss", diff * diff, reduction)


def l1_loss(input, target, reduction="mean"):
    _check_reduction("l1_loss", reduction)
    _same_shape("l1_loss", input, target)
    return _reduce("l1_loss", (input - target).abs(), reduction)


def _piecewise_quadratic(op, input, target, threshold, reduction):
    """0.5 d^2 where |d| < threshold, else threshold (|d| - 0.5 threshold): Huber's loss."""
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    if threshold < 0:
        raise ArgumentError(f"{op}: expected a non-negative threshold, got {threshold}")
    diff = input - target
    size = diff.abs()
    return where(size < threshold, 0.5 * diff * diff, threshold * (size - 0.5 * threshold))


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """Huber's loss divided by beta: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    if beta == 0:
        return l1_loss(input, target, reduction)
    loss = _piecewise_quadratic("smooth_l1_loss", input, target, beta, reduction)
    return _reduce("smooth_l1_loss", loss / beta, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    loss = _piecewise_quadratic("huber_loss", input, target, delta, reduction)
    return _reduce("huber_loss", loss, reduction)


def kl_div(input, target, reduction="mean", log_target=False):
    """Pointwise target (log target - input) for log-probabilities input; "batchmean" divides the
    sum by the batch size (the KL divergence), "mean" by the element count, as torch's."""
    op = "kl_div"
    require_float(op, input.dtype)
    _check_reduction(op, reduction, REDUCTIONS + ("batchmean",))
    _same_shape(op, input, target)
    if log_target:
        loss = target.exp() * (target - input)
    else:  # target log target is 0 where target is 0; log(1) keeps its gradient finite there
        positive = target > 0
        loss = target * (where(positive, target, 1.0).log() - input)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(op, loss, reduction)


def _norm_at_least(x, p, dim, eps):
    """x's p-norm along dim (kept), raised to eps where smaller."""
    return x.norm(p, dim, keepdim=True).clamp(min=eps)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input divided by its p-norm along dim, the norm raised to at least eps."""
    require_float("normalize", input.dtype)
    return input / _norm_at_least(input, p, dim, eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """The cosine of the angle between x1 and x2 (broadcast) along dim, each norm raised to at
    least eps, as torch's."""
    op = "cosine_similarity"
    require_float(op, x1.dtype)
    require_float(op, x2.dtype)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ShapeError(f"{op}: shapes {x1.shape} and {x2.shape} do not broadcast") from None
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    return ((x1 / _norm_at_least(x1, 2, dim, eps)) * (x2 / _norm_at_least(x2, 2, dim, eps))).sum(dim)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """max(0, -target (input1 - input2) + margin), target holding 1 or -1."""
    _check_reduction("margin_ranking_loss", reduction)
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return _reduce("margin_ranking_loss", loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1, for rows
    x1, x2 of (N, D) or (D,) inputs; cos as torch's, each squared norm raised by 1e-12."""
    op = "cosine_embedding_loss"
    _check_reduction(op, reduction)
    for name, t in (("input1", input1), ("input2", input2)):
        require_float(op, t.dtype)
    if input1.shape != input2.shape or input1.ndim not in (1, 2):
        raise ShapeError(f"{op}: expected two (N, D) or (D,) inputs of one shape, got "
                         f"{input1.shape} and {input2.shape}")
    if target.shape != input1.shape[:-1]:
        raise ShapeError(f"{op}: target of shape {target.shape} does not fit inputs of shape "
                         f"{input1.shape}; expected {input1.shape[:-1]}")
    eps = 1e-12
    norms = ((input1 * input1).sum(-1) + eps) * ((input2 * input2).sum(-1) + eps)
    cos = (input1 * input2).sum(-1) / norms.sqrt()
    loss = where(target == 1, 1 - cos, 0.0) + where(target == -1, (cos - margin).clamp(min=0), 0.0)
    return _reduce(op, loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log var + (input - target)^2 / var) (+ 0.5 log 2 pi when full); var is raised to
    eps without changing its gradient, as torch's."""
    op = "gaussian_nll_loss"
    _check_reduction(op, reduction)
    if var.ndim == input.ndim - 1 and var.shape == input.shape[:-1]:
        var = var.unsqueeze(-1)  # one variance per row of a homoscedastic last dimension
    try:
        np.broadcast_shapes(input.shape, var.shape)
    except ValueError:
        raise ShapeError(f"{op}: var of shape {var.shape} does not fit input of shape "
                         f"{input.shape}") from None
    _same_shape(op, input, target)
    if (var.numpy() < 0).any():
        raise ArgumentError(f"{op}: var has negative entries")
    var = var + (var.clamp(min=eps) - var).detach()
    diff = input - target
    loss = 0.5 * (var.log() + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(op, loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """exp(input) - target input (log_input), else input - target log(input + eps); full adds
    Stirling's approximation of log(target!) where target > 1."""
    op = "poisson_nll_loss"
    _check_reduction(op, reduction)
    _same_shape(op, input, target)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        big = target > 1
        safe = where(big, target, 1.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + where(big, stirling, 0.0)
    return _reduce(op, loss, reduction)


__all__ = ["cosine_similarity"]  # torch.<name> (also F.<name>)
METHODS = ()
FUNCTIONAL = ("cosine_similarity", "nll_loss", "cross_entropy", "binary_cross_entropy",  # F.<name>
              "binary_cross_entropy_with_logits", "mse_loss", "l1_loss", "smooth_l1_loss",
              "huber_loss", "kl_div", "normalize", "margin_ranking_loss", "cosine_embedding_loss",
              "gaussian_nll_loss", "poisson_nll_loss")
