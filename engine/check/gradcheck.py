"""Numerical differentiation and the gradient check."""
import warnings

import numpy as np

from ..autograd import no_grad
from ..errors import ArgumentError, DTypeError, GradcheckError
from ..tensor import Tensor


def _call(fn, args):
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise DTypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
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
        raise ArgumentError("gradcheck: no input requires grad, so there is nothing to check")
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


# --- the gradient-check report: two tiers, per-element detail, non-differentiable points --------
# float64 checks are strict; float32 central differences carry ~1e-4 relative rounding noise
# at best, so its defaults are looser (and the report says which were used).
TOLERANCES = {
    np.dtype(np.float64): {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3},
    np.dtype(np.float32): {"eps": 1e-3, "atol": 1e-2, "rtol": 1e-2},
}
SCREEN_MARGIN = 10  # the projection screen passes only when 10x inside the tolerance


def tolerances_for(dtype, eps=None, atol=None, rtol=None):
    """The default eps/atol/rtol of a dtype, overridden by the ones given."""
    chosen = dict(TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float32)]))
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if value is not None:
            chosen[name] = value
    return chosen


def _with(inputs, index, values):
    args = list(inputs)
    args[index] = Tensor(values, device=inputs[index].device)
    return args


def projection_check(fn, inputs, eps, rng):
    """{input: (analytic, numeric)} of v^T J u for random u (per input) and v (on the output):
    one backward and two forward passes per input instead of a whole Jacobian."""
    checked = checked_inputs(inputs)
    leaves = list(inputs)
    for i in checked:
        leaves[i] = Tensor(inputs[i].numpy(), device=inputs[i].device, requires_grad=True)
    out = _call(fn, leaves)
    v = rng.standard_normal(out.shape).astype(out.dtype)
    if out.requires_grad:
        out.backward(v)
    results = {}
    for i in checked:
        base = inputs[i].numpy().astype(inputs[i].dtype, copy=True)
        u = rng.standard_normal(base.shape)
        grad = leaves[i].grad.numpy() if leaves[i].grad is not None else np.zeros(base.shape)
        with no_grad():
            sides = [np.sum(v * _call(fn, _with(inputs, i, (base + s * eps * u).astype(base.dtype)))
                            .numpy().astype(np.float64)) for s in (1, -1)]
        results[i] = (float(np.sum(grad * u)), (sides[0] - sides[1]) / (2 * eps))
    return results


def is_kink(fn, inputs, index, element, eps, atol, rtol):
    """Whether fn has a kink (no derivative) within eps of inputs[index][element].

    As Chainer's gradient check does, fn is sampled at five points across [x - eps, x + eps]
    and a quadratic is fitted to them: a smooth function fits to within rounding, a kink
    leaves a residual of the order of eps times its jump in slope."""
    base = inputs[index].numpy().astype(np.float64)
    where = np.unravel_index(element, base.shape) if base.ndim else ()
    steps = np.linspace(-eps, eps, 5)
    values = []
    for step in steps:
        moved = base.copy()
        moved[where] += step
        with no_grad():
            out = _call(fn, _with(inputs, index, moved.astype(inputs[index].dtype)))
        values.append(out.numpy().astype(np.float64).ravel())
    values = np.array(values)  # (5, outputs)
    fitted = np.polynomial.polynomial.polyvander(steps / eps, 2)
    coefficients, *_ = np.linalg.lstsq(fitted, values, rcond=None)
    residual = float(np.max(np.abs(fitted @ coefficients - values), initial=0))
    slope = float(np.max(np.abs(values[-1] - values[0]) / (2 * eps), initial=0))
    return residual > (atol + rtol * slope) * eps


def report(fn, inputs, eps=None, atol=None, rtol=None, rng=None, worst=5, full=False):
    """Check fn's gradients and say where they are wrong (a dict, ready for JSON).

    Tier 1 compares random projections v^T J u; only when that screen fails (or full=True)
    are the whole Jacobians compared, element by element. Failing elements at a kink of the
    function are reported as non-differentiable points rather than as wrong gradients.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    inputs = tuple(inputs)
    checked = checked_inputs(inputs)
    dtype = inputs[checked[0]].dtype
    tol = tolerances_for(dtype, eps, atol, rtol)
    result = {"dtype": str(dtype), "tolerances": tol, "inputs": [list(x.shape) for x in inputs
                                                                 if isinstance(x, Tensor)]}
    if dtype != np.float64:
        result["note"] = f"{dtype} checks use looser tolerances than float64's"
    screen = projection_check(fn, inputs, tol["eps"], rng)
    result["projection"] = {str(i): {"analytic": a, "numeric": n} for i, (a, n) in screen.items()}
    screened = all(abs(a - n) <= (tol["atol"] + tol["rtol"] * abs(n)) / SCREEN_MARGIN
                   for a, n in screen.values())
    if screened and not full:
        errors = [abs(a - n) for a, n in screen.values()]
        return dict(result, tier="projection", status="pass", max_abs_err=max(errors),
                    max_rel_err=max(e / max(abs(n), tol["atol"]) for e, (_, n) in
                                    zip(errors, screen.values())))
    result["tier"] = "full jacobian"
    failures, kinks, abs_err, rel_err = [], [], 0.0, 0.0
    for i, (analytic, numeric) in jacobians(fn, inputs, tol["eps"]).items():
        error = np.abs(analytic - numeric)
        abs_err = max(abs_err, float(np.max(error, initial=0)))
        rel_err = max(rel_err, float(np.max(error / np.maximum(np.abs(numeric), tol["atol"]),
                                            initial=0)))
        bad = ~(error <= tol["atol"] + tol["rtol"] * np.abs(numeric))
        if not bad.any():
            continue
        # per input element: its worst output, then the worst elements first
        per_element = np.where(bad, np.nan_to_num(error, nan=np.inf), -1).max(axis=0)
        order = [int(e) for e in np.argsort(-per_element) if per_element[e] >= 0]
        for e in order:
            if is_kink(fn, inputs, i, e, tol["eps"], tol["atol"], tol["rtol"]):
                kinks.append({"input": i, "element": _index(inputs[i], e)})
                continue
            if len([f for f in failures if f["input"] == i]) >= worst:
                continue
            o = int(np.argmax(np.where(bad[:, e], np.nan_to_num(error[:, e], nan=np.inf), -1)))
            failures.append({"input": i, "element": _index(inputs[i], e), "output_element": o,
                             "analytic": float(analytic[o, e]), "numeric": float(numeric[o, e]),
                             "error": float(error[o, e])})
    status = "fail" if failures else ("non-differentiable point" if kinks else "pass")
    return dict(result, status=status, max_abs_err=abs_err, max_rel_err=rel_err,
                worst=failures, kinks=kinks)


def _index(tensor, flat):
    return [int(v) for v in np.unravel_index(flat, tensor.shape)] if tensor.ndim else []


def format_report(name, result):
    """A human-readable failure report: the worst elements of each input."""
    lines = [f"{name}: {result['status']} ({result['tier']}, {result['dtype']}, "
             f"atol={result['tolerances']['atol']}, rtol={result['tolerances']['rtol']})"]
    for f in result.get("worst", []):
        lines.append(f"  input {f['input']} element {tuple(f['element'])} (output {f['output_element']}): "
                     f"analytic {f['analytic']:.6g}, numeric {f['numeric']:.6g}, error {f['error']:.3g}")
    for k in result.get("kinks", []):
        lines.append(f"  input {k['input']} element {tuple(k['element'])}: non-differentiable "
                     "point within eps (re-draw the input there)")
    return "\n".join(lines)
