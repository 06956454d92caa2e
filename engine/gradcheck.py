"""Numerical differentiation and the gradient check."""
import warnings

import numpy as np

from .autograd import no_grad
from .errors import DTypeError, GradcheckError
from .tensor import Tensor


def _call(fn, args):
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if out.dtype.kind != "f":
        raise DTypeError(f"gradcheck: fn must return a floating-point tensor, got {out.dtype}")
    return out


def numerical_jacobian(fn, inputs, index, eps):
    """d fn(inputs).ravel() / d inputs[index].ravel() by central differences, shape (out, in)."""
    x = inputs[index]
    base = x.numpy().astype(x.dtype, copy=True)
    columns = []
    with no_grad():
        for e in range(base.size):
            values = []
            for step in (eps, -eps):
                moved = base.copy()
                moved.flat[e] += step
                args = list(inputs)
                args[index] = Tensor(moved, device=x.device)
                values.append(_call(fn, args).numpy().astype(np.float64).ravel())
            columns.append((values[0] - values[1]) / (2 * eps))
        if not columns:  # an empty input: a Jacobian with no columns
            return np.zeros((_call(fn, inputs).numel(), 0))
    return np.stack(columns, axis=1)


def analytic_jacobians(fn, inputs, checked):
    """d fn(inputs).ravel() / d inputs[i].ravel() for i in checked, one backward per output."""
    leaves = list(inputs)
    for i in checked:
        leaves[i] = Tensor(inputs[i].numpy(), device=inputs[i].device, requires_grad=True)
    out = _call(fn, leaves)
    jacobians = {i: np.zeros((out.numel(), inputs[i].numel())) for i in checked}
    if not out.requires_grad:
        return jacobians
    for j in range(out.numel()):
        seed = np.zeros(out.shape, out.dtype)
        seed.flat[j] = 1
        for i in checked:
            leaves[i].grad = None
        out.backward(seed, retain_graph=True)
        for i in checked:
            if leaves[i].grad is not None:
                jacobians[i][j] = leaves[i].grad.numpy().ravel()
    return jacobians


def checked_inputs(inputs):
    """The positions of the inputs that require grad (the ones a check covers)."""
    return [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]


def jacobians(fn, inputs, eps=1e-6):
    """{input position: (analytic, numeric)} Jacobians of fn.ravel() for each checked input."""
    checked = checked_inputs(inputs)
    analytic = analytic_jacobians(fn, inputs, checked)
    return {i: (analytic[i], numerical_jacobian(fn, inputs, i, eps)) for i in checked}


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare every input's analytic gradient with central differences, element by element.

    fn takes the inputs and returns a Tensor; the inputs that require grad are checked. An
    element fails when |analytic - numeric| > atol + rtol * |numeric|. On failure, raises
    GradcheckError naming the input, the worst element, both values and the error (or returns
    False when raise_exception=False). Checks are meant for float64 inputs.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = checked_inputs(inputs)
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; central "
                          "differences in low precision give loose, unreliable checks", stacklevel=2)

    for i, (analytic, numeric) in jacobians(fn, inputs, eps).items():
        error = np.abs(analytic - numeric)
        excess = error - (atol + rtol * np.abs(numeric))
        if np.all(excess <= 0):
            continue
        if not raise_exception:
            return False
        # NaN counts as the worst error.
        worst = np.argmax(np.where(np.isnan(excess), np.inf, excess))
        out_index, in_index = np.unravel_index(worst, excess.shape)
        element = np.unravel_index(in_index, inputs[i].shape) if inputs[i].ndim else ()
        a, n = analytic[out_index, in_index], numeric[out_index, in_index]
        bad = int(np.sum(~(excess <= 0)))
        raise GradcheckError(
            f"gradcheck: gradient of input {i} (shape {inputs[i].shape}) is wrong at element "
            f"{tuple(int(v) for v in element)} for output element {int(out_index)} (flat): "
            f"analytic {a:.6g}, numeric {n:.6g}, error {abs(a - n):.3g} > tolerance "
            f"{atol + rtol * abs(n):.3g} (atol={atol}, rtol={rtol}); "
            f"{bad} of {excess.size} Jacobian entries fail")
    return True
