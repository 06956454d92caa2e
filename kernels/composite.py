"""Kernels written once, over the primitives of kernels/contract.py, for every backend.

Each takes the backend's kernel table `k` first. A backend may override one with a fused
hand-written kernel by listing it in its VARIANTS; this version then stays available as the
variant "composite", which the tests cross-check against and the benchmarks time.
"""
import numpy as np

from .geometry import channel_reduction_axes, per_channel


def sum_to_shape(k, g, shape):
    """Sum a broadcast gradient back to `shape`: the leading axes, then the axes of size 1."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = k.sum(g, axes, True)
    return k.reshape(g, tuple(shape))


def max_backward(k, x, y, gy, axis):
    """Share gy among the maxima (y and gy with kept axes); ties split it evenly, as torch.amax."""
    mask = k.compare("eq", x, y)
    return k.mul(mask, k.div(gy, k.astype(k.sum(mask, axis, True), gy.dtype)))


# --- activations ------------------------------------------------------------------------------------
def relu_backward(k, x, gy):
    return k.mul(gy, k.compare("gt", x, 0))


def leaky_relu(k, x, slope):
    return k.where(k.compare("gt", x, 0), x, k.mul(x, slope))


def leaky_relu_backward(k, x, gy, slope):
    return k.where(k.compare("gt", x, 0), gy, k.mul(gy, slope))


def sigmoid_backward(k, y, gy):
    return k.mul(gy, k.mul(y, k.sub(1, y)))


def tanh_backward(k, y, gy):
    return k.mul(gy, k.sub(1, k.mul(y, y)))


# --- softmax and losses (the class axis is an argument) ------------------------------------------
def log_softmax(k, x, axis):
    shifted = k.sub(x, k.max(x, (axis,), True))
    return k.sub(shifted, k.log(k.sum(k.exp(shifted), (axis,), True)))


def softmax(k, x, axis):
    e = k.exp(k.sub(x, k.max(x, (axis,), True)))
    return k.div(e, k.sum(e, (axis,), True))


def softmax_backward(k, y, gy, axis):
    """y (gy - sum(gy y)) for y = softmax(x)."""
    return k.mul(y, k.sub(gy, k.sum(k.mul(gy, y), (axis,), True)))


def log_softmax_backward(k, y, gy, axis):
    """gy - exp(y) sum(gy) for y = log_softmax(x)."""
    return k.sub(gy, k.mul(k.exp(y), k.sum(gy, (axis,), True)))


def _one_hot(k, target, classes, dtype):
    """(N, C, ...) with 1 at each target class: target (N, ...) compared with 0..C-1 on axis 1."""
    labels = k.from_host(np.arange(classes).reshape((1, classes) + (1,) * (target.ndim - 1)))
    return k.astype(k.compare("eq", k.reshape(target, target.shape[:1] + (1,) + target.shape[1:]),
                               labels), dtype)


def cross_entropy(k, logits, target):
    """Per-sample -log softmax(logits)[target] over axis 1, and the log-probabilities."""
    logp = log_softmax(k, logits, 1)
    picked = k.sum(k.mul(logp, _one_hot(k, target, logits.shape[1], logp.dtype)), (1,), False)
    return k.neg(picked), logp


def cross_entropy_backward(k, logp, target, gy):
    """d loss / d logits = (softmax - onehot(target)) gy, gy broadcast over the class axis."""
    g = k.sub(k.exp(logp), _one_hot(k, target, logp.shape[1], logp.dtype))
    return k.mul(g, k.reshape(gy, gy.shape[:1] + (1,) + gy.shape[1:]))


def bce_with_logits(k, x, t):
    # max(x, 0) - x t + log(1 + e^-|x|) never overflows
    return k.add(k.sub(k.relu(x), k.mul(x, t)), k.log1p(k.exp(k.neg(k.abs(x)))))


def bce_with_logits_backward(k, x, t, gy):
    """Gradients with respect to the logits and the targets."""
    return k.mul(k.sub(k.sigmoid(x), t), gy), k.mul(k.neg(x), gy)


def _clamped_logs(k, x):
    """log x and log(1 - x), each raised to -100 as torch's (finite at x = 0 and 1)."""
    with np.errstate(divide="ignore"):  # log(0) = -inf is what the clamp is for
        return (k.binary_op("maximum", k.log(x), -100.0),
                k.binary_op("maximum", k.log(k.sub(1, x)), -100.0))


def binary_cross_entropy(k, x, t):
    """-(t log x + (1 - t) log(1 - x)) for probabilities x."""
    log_x, log_rest = _clamped_logs(k, x)
    return k.neg(k.add(k.mul(t, log_x), k.mul(k.sub(1, t), log_rest)))


def binary_cross_entropy_backward(k, x, t, gy):
    """Finite at x = 0 and 1: torch's (x - t) / max(x (1 - x), 1e-12) for the probabilities;
    log(1 - x) - log x for the targets with each log clamped as in the loss (torch's are not
    clamped there and give +-inf)."""
    log_x, log_rest = _clamped_logs(k, x)
    spread = k.binary_op("maximum", k.mul(x, k.sub(1, x)), 1e-12)
    return k.mul(gy, k.div(k.sub(x, t), spread)), k.mul(gy, k.sub(log_rest, log_x))


# --- batch normalization over every axis but the channel axis (1) --------------------------------
def _per_channel_count(x):
    return int(np.prod(x.shape, dtype=np.int64)) // x.shape[1]


def batch_norm_forward(k, x, weight, bias, eps):
    """Normalize with the batch statistics; returns y, the batch mean and biased variance, 1/std."""
    axes, ndim, count = channel_reduction_axes(x.ndim), x.ndim, _per_channel_count(x)
    mean = k.div(k.sum(x, axes, False), count)
    centered = k.sub(x, per_channel(mean, ndim))
    var = k.div(k.sum(k.mul(centered, centered), axes, False), count)
    invstd = k.div(1, k.sqrt(k.add(var, eps)))
    scale = invstd if weight is None else k.mul(invstd, weight)
    y = k.mul(centered, per_channel(scale, ndim))
    if bias is not None:
        y = k.add(y, per_channel(bias, ndim))
    return y, mean, var, invstd


def batch_norm_backward(k, x, gy, mean, invstd, weight):
    """Gradients with respect to x, weight and bias of the training-mode normalization."""
    axes, ndim, count = channel_reduction_axes(x.ndim), x.ndim, _per_channel_count(x)
    xhat = k.mul(k.sub(x, per_channel(mean, ndim)), per_channel(invstd, ndim))
    gbias = k.sum(gy, axes, False)
    gweight = k.sum(k.mul(gy, xhat), axes, False)
    scale = invstd if weight is None else k.mul(invstd, weight)
    # d/dx of w (x - mean) / std with the batch's mean and std depending on x
    inner = k.sub(k.sub(gy, per_channel(k.div(gbias, count), ndim)),
                  k.mul(xhat, per_channel(k.div(gweight, count), ndim)))
    return k.mul(per_channel(scale, ndim), inner), gweight, gbias


# --- optimizer updates, in place on the parameter and the state, as torch.optim ------------------
def sgd_step(k, p, g, buffer, lr, momentum, dampening, weight_decay, nesterov):
    """torch.optim.SGD's update of p in place; returns the momentum buffer (None without)."""
    d = k.astype(g, p.dtype)
    if weight_decay:
        d = k.add(d, k.mul(p, weight_decay))
    if momentum:
        if buffer is None:
            buffer = k.copy(d)
        else:
            k.assign(buffer, k.add(k.mul(buffer, momentum), k.mul(d, 1 - dampening)))
        d = k.add(d, k.mul(buffer, momentum)) if nesterov else buffer
    k.assign(p, k.sub(p, k.mul(d, lr)))
    return buffer if momentum else None


def adam_step(k, p, g, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    """torch.optim.Adam's update of p in place (step counts from 1); returns the two moments."""
    if exp_avg is None:
        exp_avg, exp_avg_sq = k.zeros(p.shape, p.dtype), k.zeros(p.shape, p.dtype)
    d = k.astype(g, p.dtype)
    if weight_decay:
        d = k.add(d, k.mul(p, weight_decay))
    k.assign(exp_avg, k.add(k.mul(exp_avg, beta1), k.mul(d, 1 - beta1)))
    k.assign(exp_avg_sq, k.add(k.mul(exp_avg_sq, beta2), k.mul(k.mul(d, d), 1 - beta2)))
    step_size = lr / (1 - beta1 ** step)
    root_correction = (1 - beta2 ** step) ** 0.5
    denominator = k.add(k.div(k.sqrt(exp_avg_sq), root_correction), eps)
    k.assign(p, k.sub(p, k.mul(k.div(exp_avg, denominator), step_size)))
    return exp_avg, exp_avg_sq


def adamw_step(k, p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
               weight_decay, amsgrad):
    """torch.optim.AdamW's update of p in place: the decay shrinks p itself, apart from the
    moments; amsgrad divides by the largest second moment so far. Returns the three moments
    (the last None without amsgrad)."""
    if exp_avg is None:
        exp_avg, exp_avg_sq = k.zeros(p.shape, p.dtype), k.zeros(p.shape, p.dtype)
        max_exp_avg_sq = k.zeros(p.shape, p.dtype) if amsgrad else None
    d = k.astype(g, p.dtype)
    k.assign(p, k.mul(p, 1 - lr * weight_decay))
    k.assign(exp_avg, k.add(k.mul(exp_avg, beta1), k.mul(d, 1 - beta1)))
    k.assign(exp_avg_sq, k.add(k.mul(exp_avg_sq, beta2), k.mul(k.mul(d, d), 1 - beta2)))
    second = exp_avg_sq
    if amsgrad:
        k.assign(max_exp_avg_sq, k.binary_op("maximum", max_exp_avg_sq, exp_avg_sq))
        second = max_exp_avg_sq
    step_size = lr / (1 - beta1 ** step)
    root_correction = (1 - beta2 ** step) ** 0.5
    denominator = k.add(k.div(k.sqrt(second), root_correction), eps)
    k.assign(p, k.sub(p, k.mul(k.div(exp_avg, denominator), step_size)))
    return exp_avg, exp_avg_sq, max_exp_avg_sq


def rmsprop_step(k, p, g, square_avg, grad_avg, momentum_buffer, lr, alpha, eps, weight_decay,
                 momentum, centered):
    """torch.optim.RMSprop's update of p in place; returns the running mean square, the running
    mean (None unless centered) and the momentum buffer (None without momentum)."""
    if square_avg is None:
        square_avg = k.zeros(p.shape, p.dtype)
        grad_avg = k.zeros(p.shape, p.dtype) if centered else None
        momentum_buffer = k.zeros(p.shape, p.dtype) if momentum else None
    d = k.astype(g, p.dtype)
    if weight_decay:
        d = k.add(d, k.mul(p, weight_decay))
    k.assign(square_avg, k.add(k.mul(square_avg, alpha), k.mul(k.mul(d, d), 1 - alpha)))
    variance = square_avg
    if centered:  # the variance about the running mean rather than the raw mean square
        k.assign(grad_avg, k.add(k.mul(grad_avg, alpha), k.mul(d, 1 - alpha)))
        variance = k.sub(square_avg, k.mul(grad_avg, grad_avg))
    d = k.div(d, k.add(k.sqrt(variance), eps))
    if momentum:
        k.assign(momentum_buffer, k.add(k.mul(momentum_buffer, momentum), d))
        d = momentum_buffer
    k.assign(p, k.sub(p, k.mul(d, lr)))
    return square_avg, grad_avg, momentum_buffer


COMPOSITES = ("sum_to_shape", "max_backward", "relu_backward", "leaky_relu", "leaky_relu_backward",
              "sigmoid_backward", "tanh_backward", "log_softmax", "softmax", "softmax_backward",
              "log_softmax_backward", "cross_entropy", "cross_entropy_backward", "bce_with_logits",
              "bce_with_logits_backward", "binary_cross_entropy", "binary_cross_entropy_backward", "batch_norm_forward", "batch_norm_backward", "sgd_step",
              "adam_step", "adamw_step", "rmsprop_step")
