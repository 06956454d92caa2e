"""torch.nn.utils: gradient clipping and flattening parameters into one vector and back."""
import math

from .. import backend, ops
from ..autograd import no_grad
from ..creation import tensor
from ..errors import ArgumentError, DTypeError, EngineError
from ..tensor import Tensor


class NonFiniteNormError(EngineError, RuntimeError):
    """A gradient norm of inf or nan that clip_grad_norm_ was told not to scale by."""


def _tensors(parameters):
    """A single tensor or an iterable of them, as a list (torch takes either)."""
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients in place so that their total norm (the norm of every gradient's norm)
    is at most max_norm; returns that total norm, measured before clipping, as a tensor."""
    grads = [p.grad for p in _tensors(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return tensor(0.0)
    with no_grad():
        device = grads[0].device
        norms = [ops.norm(g, norm_type).to(device) for g in grads]
        total = ops.norm(ops.stack(norms), norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise NonFiniteNormError(
                f"clip_grad_norm_: The total norm of order {norm_type} for gradients from "
                "`parameters` is non-finite, so it cannot be clipped. To disable this error and "
                "scale the gradients by the non-finite norm anyway, set "
                "`error_if_nonfinite=False`")
        scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.data = (g * scale.to(g.device)).data
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _tensors(parameters):
            if p.grad is not None:
                p.grad.data = p.grad.clamp(-clip_value, clip_value).data


def parameters_to_vector(parameters):
    """Every parameter flattened and concatenated, in order, as one 1-d tensor."""
    return ops.cat([p.reshape(-1) for p in _tensors(parameters)])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-d vec into the parameters' data, in order."""
    if not isinstance(vec, Tensor):
        raise DTypeError(f"vector_to_parameters: expected a Tensor, but got {type(vec).__name__}")
    parameters = _tensors(parameters)
    needed = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.shape[0] != needed:
        raise ArgumentError(f"vector_to_parameters: got a vector of shape {vec.shape}; the "
                            f"parameters need a 1-d vector of {needed} elements")
    start = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            piece = vec[start:start + n].reshape(p.shape).to(p.device).astype(p.dtype)
            p.data = backend.table(p.device).copy(piece.data)  # p owns its memory, apart from vec
            start += n
