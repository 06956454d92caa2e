"""Losses. Cross-entropy and BCE-with-logits are fused kernels, stable for any logits."""
from ..autograd import Function
from ..errors import ArgumentError, DTypeError, ShapeError
from ._checks import require_float

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


def _reduce(op, loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ArgumentError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _same_shape(op, a, b):
    if a.shape != b.shape:
        raise ShapeError(f"{op}: input has shape {a.shape} but target has shape {b.shape}; "
                         "expected equal shapes")


def mse_loss(input, target, reduction="mean"):
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce("mse_loss", diff * diff, reduction)


def cross_entropy(logits, target, reduction="mean"):
    """logits (N, C) or (N, C, d1, ...); target integer class indices (N,) or (N, d1, ...)."""
    op = "cross_entropy"
    require_float(op, logits.dtype)
    if target.dtype.kind not in "iu":
        raise DTypeError(f"{op}: target must hold integer class indices, got dtype {target.dtype}")
    if logits.ndim < 2 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ShapeError(f"{op}: logits of shape {logits.shape} and target of shape {target.shape}; "
                         "expected logits (N, C, ...) and target (N, ...)")
    classes = logits.shape[1]
    host = target.numpy()
    if host.size and (host.min() < 0 or host.max() >= classes):
        raise ShapeError(f"{op}: target values must lie in [0, {classes}), "
                         f"got values in [{host.min()}, {host.max()}]")
    return _reduce(op, CrossEntropy.apply(logits, target), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean"):
    op = "binary_cross_entropy_with_logits"
    require_float(op, input.dtype)
    _same_shape(op, input, target)
    loss = BCEWithLogits.apply(input, target)
    return _reduce(op, loss if weight is None else loss * weight, reduction)


__all__ = []  # torch.<name>: none of these (they are torch.nn.functional's)
METHODS = ()
FUNCTIONAL = ()  # F.<name>
