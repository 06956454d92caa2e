"""Numerical differentiation and the gradient checks.

`gradcheck` and `gradgradcheck` are the Python API; `report`/`format_report` are the same check
as the dict and text that `python -m engine gradcheck` prints. All of them run `check`, which
compares, for every input that requires grad, in up to three tiers:

- projection (fast mode only): v^T J u against a directional central difference, one backward
  and two forwards per input; when it agrees to a tenth of the tolerance the check stops there.
- full jacobian: the analytic Jacobian (one backward per output element, one-hot seeds) against
  central differences, entry by entry; any single wrong entry is caught and named.
- dense vjp: v^T J with a few dense random v (one backward each) against v^T J_numeric, with a
  tolerance that grows with the norms of the terms, not their sum. One-hot seeds put a single
  term into each sum of a backward, so a sum accumulated in low precision shows only here.

A failing element where the function has a kink within eps (`is_kink`) is a non-differentiable
point, not a wrong gradient. Tolerances and eps default to the inputs' dtype (`TOLERANCES`).
"""
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..autograd import enable_grad, grad, is_grad_enabled, no_grad
from ..errors import ArgumentError, DTypeError, GradcheckError
from ..tensor import Tensor

# float64 checks are strict. float32 central differences carry about 1e-4 relative rounding
# noise (an output's rounding over a step of 1e-3), so its defaults are looser, yet still catch
# a single element wrong by 10% of a gradient of order one (and the report says which were used).
TOLERANCES = {
    np.dtype(np.float64): {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3},
    np.dtype(np.float32): {"eps": 1e-3, "atol": 1e-2, "rtol": 1e-2},
}
SCREEN_MARGIN = 10  # the projection screen passes only when 10x inside the tolerance
PROJECTIONS = 2  # random projections v^T J u per input in the screen
DENSE_VJPS = 2  # dense random vectors of the dense-vjp tier
WORST = 5  # failing elements kept per input

PASS, FAIL, KINK = "pass", "fail", "non-differentiable point"
PROJECTION, FULL, DENSE = "projection", "full jacobian", "dense vjp"


def tolerances_for(dtype, eps=None, atol=None, rtol=None):
    """The default eps/atol/rtol of a dtype, overridden by the ones given."""
    chosen = dict(TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float32)]))
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if value is not None:
            chosen[name] = value
    return chosen


# --- evaluating fn --------------------------------------------------------------------------------
def _outputs(fn, args, what="gradcheck"):
    """fn(*args) as a list of Tensors (fn may return one Tensor or a tuple of them)."""
    out = fn(*args)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for o in outs:
        if not isinstance(o, Tensor):
            raise DTypeError(f"{what}: fn must return a Tensor (or a tuple of Tensors), got "
                             f"{type(o).__name__}")
        if o.dtype.kind != "f":
            raise DTypeError(f"{what}: fn must return a floating-point tensor, got {o.dtype}")
    if not outs:
        raise DTypeError(f"{what}: fn returned an empty tuple; return a Tensor")
    return outs


def _values(fn, args):
    """fn(*args), every output raveled into one float64 vector, without recording a graph."""
    with no_grad():
        outs = _outputs(fn, args)
    return np.concatenate([o.numpy().astype(np.float64).ravel() for o in outs])


def _with(inputs, index, values):
    args = list(inputs)
    args[index] = Tensor(values, device=inputs[index].device)
    return args


def checked_inputs(inputs):
    """The positions of the inputs that require grad (the ones a check covers)."""
    return [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]


def _steps(base, eps):
    """base moved by +eps and -eps in its own dtype, and the total step actually taken per
    element (float64): in float32, x + 1e-3 is not x + 1e-3 exactly, by up to 1e-4 of the step."""
    plus, minus = (base + eps).astype(base.dtype), (base - eps).astype(base.dtype)
    return plus, minus, plus.astype(np.float64) - minus.astype(np.float64)


def numerical_jacobian(fn, inputs, index, eps):
    """d fn(inputs).ravel() / d inputs[index].ravel() by central differences, shape (out, in)."""
    x = inputs[index]
    base = x.numpy().astype(x.dtype, copy=True)
    plus, minus, step = _steps(base, eps)
    columns = []
    for e in range(base.size):
        sides = []
        for moved_to in (plus, minus):
            moved = base.copy()
            moved.flat[e] = moved_to.flat[e]
            sides.append(_values(fn, _with(inputs, index, moved)))
        columns.append((sides[0] - sides[1]) / step.flat[e])
    if not columns:  # an empty input: a Jacobian with no columns
        return np.zeros((_values(fn, inputs).size, 0))
    return np.stack(columns, axis=1)


class _Graph:
    """fn run once on fresh leaves (copies of the checked inputs), its graph kept for as many
    vector-Jacobian products as the check needs."""

    def __init__(self, fn, inputs, checked, what="gradcheck"):
        self.checked = checked
        self.leaves = list(inputs)
        for i in checked:
            self.leaves[i] = Tensor(inputs[i].numpy(), device=inputs[i].device, requires_grad=True)
        with enable_grad():
            self.outs = _outputs(fn, self.leaves, what)
        self.sizes = [o.numel() for o in self.outs]
        self.size = int(sum(self.sizes))

    def vjp(self, seed):
        """{input: v^T J raveled, float64} for a flat float64 seed v over all outputs."""
        pairs, start = [], 0
        for o, n in zip(self.outs, self.sizes):
            if o.requires_grad:
                pairs.append((o, seed[start:start + n].reshape(o.shape).astype(o.dtype)))
            start += n
        targets = [self.leaves[i] for i in self.checked]
        found = (grad([o for o, _ in pairs], targets, [s for _, s in pairs], retain_graph=True,
                      allow_unused=True) if pairs else [None] * len(targets))
        return {i: (np.zeros(self.leaves[i].numel()) if g is None
                    else g.numpy().astype(np.float64).ravel())
                for i, g in zip(self.checked, found)}

    def jacobians(self):
        """{input: analytic Jacobian (out, in)}, one backward per output element."""
        result = {i: np.zeros((self.size, self.leaves[i].numel())) for i in self.checked}
        if not any(o.requires_grad for o in self.outs):
            return result
        for j in range(self.size):
            seed = np.zeros(self.size)
            seed[j] = 1
            for i, row in self.vjp(seed).items():
                result[i][j] = row
        return result


def analytic_jacobians(fn, inputs, checked):
    """d fn(inputs).ravel() / d inputs[i].ravel() for i in checked, one backward per output."""
    return _Graph(fn, inputs, checked).jacobians()


def jacobians(fn, inputs, eps=1e-6):
    """{input position: (analytic, numeric)} Jacobians of fn.ravel() for each checked input."""
    checked = checked_inputs(inputs)
    analytic = analytic_jacobians(fn, inputs, checked)
    return {i: (analytic[i], numerical_jacobian(fn, inputs, i, eps)) for i in checked}


def probe(rng, shape):
    """A random vector of a projection: random signs times magnitudes in [0.5, 1.5]. Unlike a
    normal vector's, no element is near 0, so no single wrong Jacobian entry can hide behind a
    small coefficient; unlike +-1, two errors of equal size do not cancel exactly."""
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0) * rng.uniform(0.5, 1.5, shape)


def projection_check(fn, inputs, eps, rng, graph=None):
    """{input: (analytic, numeric)} of v^T J u for random u (per input) and v (on the output):
    one backward and two forward passes per input instead of a whole Jacobian."""
    checked = checked_inputs(inputs)
    graph = _Graph(fn, inputs, checked) if graph is None else graph
    v = np.concatenate([probe(rng, o.shape).astype(o.dtype).ravel() for o in graph.outs])
    grads = graph.vjp(v)
    results = {}
    for i in checked:
        base = inputs[i].numpy().astype(inputs[i].dtype, copy=True)
        u = probe(rng, base.shape)
        plus = (base + eps * u).astype(base.dtype)
        minus = (base - eps * u).astype(base.dtype)
        step = (plus.astype(np.float64) - minus.astype(np.float64)).ravel() / (2 * eps)
        sides = [float(v @ _values(fn, _with(inputs, i, moved))) for moved in (plus, minus)]
        # the step actually taken (u, rounded to the dtype) on both sides
        results[i] = (float(grads[i] @ step), (sides[0] - sides[1]) / (2 * eps))
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
        values.append(_values(fn, _with(inputs, index, moved.astype(inputs[index].dtype))))
    values = np.array(values)  # (5, outputs)
    fitted = np.polynomial.polynomial.polyvander(steps / eps, 2)
    coefficients, *_ = np.linalg.lstsq(fitted, values, rcond=None)
    residual = float(np.max(np.abs(fitted @ coefficients - values), initial=0))
    slope = float(np.max(np.abs(values[-1] - values[0]) / (2 * eps), initial=0))
    return residual > (atol + rtol * slope) * eps


# --- the result -----------------------------------------------------------------------------------
@dataclass
class ElementError:
    """One wrong gradient element: where, against which output, both values and the error."""
    input: int
    element: tuple  # index into the input
    analytic: float
    numeric: float
    error: float
    tolerance: float
    tier: str = FULL
    output_element: Optional[int] = None  # flat index into that output (full jacobian)
    output: int = 0  # which output, when fn returns several
    vector: Optional[int] = None  # which dense random vector (dense vjp)


@dataclass
class InputResult:
    """What the check found for one input that requires grad."""
    input: int
    name: str  # "input 0" (gradgradcheck's grad_outputs: "grad_output 0")
    shape: tuple
    dtype: str
    tier: str  # the tier whose verdict stands for this input
    # the largest |analytic - numeric| and that over max(|numeric|, atol), of every tier that
    # ran (a dense vjp's per unit norm of v, and relative to the norm of its terms)
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    worst: list = field(default_factory=list)  # ElementError, the worst first
    kinks: list = field(default_factory=list)  # element indices at a non-differentiable point
    failed: int = 0  # entries that fail (Jacobian entries, or dense-vjp elements)
    entries: int = 0  # entries compared

    @property
    def status(self):
        return FAIL if self.worst else (KINK if self.kinks else PASS)


@dataclass
class GradcheckResult:
    """What gradcheck/gradgradcheck found: truthy when every checked gradient is right.

    status is "pass", "fail" or "non-differentiable point" (failures only at kinks of fn);
    tiers the tiers that ran, in order ("projection", "full jacobian", "dense vjp"), tier the
    one whose verdict stands (the last, but for kinks); inputs one InputResult per input that
    requires grad. str() is the readable report that the command line prints.
    """
    ok: bool
    status: str
    tier: str
    dtype: str
    tolerances: dict
    inputs: list = field(default_factory=list)  # InputResult per checked input
    tiers: tuple = ()
    shapes: list = field(default_factory=list)  # the shapes of all tensor inputs
    outputs: list = field(default_factory=list)  # names of fn's outputs (when several)
    name: str = "gradcheck"
    order: int = 1
    note: Optional[str] = None
    projection: Optional[dict] = None  # {input: [(analytic, numeric) per projection]}

    def __bool__(self):
        return self.ok

    def __str__(self):
        return format_report(self.name, self)

    @property
    def max_abs_err(self):
        return max((r.max_abs_err for r in self.inputs), default=0.0)

    @property
    def max_rel_err(self):
        return max((r.max_rel_err for r in self.inputs), default=0.0)

    @property
    def worst(self):
        """Every input's worst failing elements, input by input."""
        return [f for r in self.inputs for f in r.worst]

    @property
    def kinks(self):
        """(input, element) of each failing element at a non-differentiable point."""
        return [(r.input, k) for r in self.inputs for k in r.kinks]

    def to_dict(self):
        """The report as plain data, ready for JSON (the command line's --json rows)."""
        result = {"dtype": self.dtype, "tolerances": dict(self.tolerances), "order": self.order,
                  "inputs": [list(s) for s in self.shapes], "tier": self.tier,
                  "tiers": list(self.tiers), "status": self.status,
                  "max_abs_err": self.max_abs_err, "max_rel_err": self.max_rel_err,
                  "per_input": [{"input": r.input, "shape": list(r.shape), "dtype": r.dtype,
                                 "tier": r.tier, "status": r.status,
                                 "max_abs_err": r.max_abs_err, "max_rel_err": r.max_rel_err,
                                 "failed": r.failed, "entries": r.entries}
                                for r in self.inputs]}
        if self.note:
            result["note"] = self.note
        if self.projection is not None:
            result["projection"] = {str(i): [{"analytic": a, "numeric": n} for a, n in pairs]
                                    for i, pairs in self.projection.items()}
        if self.tier != PROJECTION:
            named = {r.input: r.name for r in self.inputs if r.name != f"input {r.input}"}
            result["worst"] = [_element_dict(f, named) for f in self.worst]
            result["kinks"] = [dict({"input": i, "element": list(k)},
                                    **({"name": named[i]} if i in named else {}))
                               for i, k in self.kinks]
        return result

    def message(self):
        """The GradcheckError message: the first failing input, its worst element, both
        values and the error (or, failing only at kinks, where the function has one)."""
        failing = [r for r in self.inputs if r.worst]
        if failing:
            r = failing[0]
            f = r.worst[0]
            where = (f"in a vector-Jacobian product with dense random vector {f.vector} (every "
                     "one-hot row of the Jacobian agrees: a sum accumulated in low precision?)"
                     if f.tier == DENSE else f"for {self._output_text(f)}")
            what = "Jacobian entries" if f.tier == FULL else "elements of v^T J"
            tol = self.tolerances
            return (f"{self.name}: {self._derivative()} of {r.name} (shape {r.shape}) is wrong "
                    f"at element {f.element} {where}: analytic {f.analytic:.6g}, numeric "
                    f"{f.numeric:.6g}, error {f.error:.3g} > tolerance {f.tolerance:.3g} "
                    f"(atol={tol['atol']}, rtol={tol['rtol']}); {r.failed} of {r.entries} "
                    f"{what} fail")
        r = next(r for r in self.inputs if r.kinks)
        return (f"{self.name}: {r.name} (shape {r.shape}) is at a non-differentiable point: fn "
                f"has a kink within eps={self.tolerances['eps']} of element {r.kinks[0]} "
                f"({len(r.kinks)} such element(s)), where central differences cannot check a "
                "gradient; no gradient was found wrong. Move the input away from the kink")

    def _derivative(self):
        return "gradient" if self.order == 1 else "second derivative"

    def _output_text(self, f):
        if self.outputs:
            return f"element {f.output_element} (flat) of {self.outputs[f.output]}"
        return f"output element {f.output_element} (flat)"


def _element_dict(f, named):
    d = {"input": f.input, "element": list(f.element), "output_element": f.output_element,
         "analytic": f.analytic, "numeric": f.numeric, "error": f.error,
         "tolerance": f.tolerance, "tier": f.tier}
    if f.output:
        d["output"] = f.output
    if f.vector is not None:
        d["vector"] = f.vector
    if f.input in named:  # gradgradcheck's grad_outputs
        d["name"] = named[f.input]
    return d


def _index(shape, flat):
    return tuple(int(v) for v in np.unravel_index(flat, shape)) if len(shape) else ()


def _worst_first(excess):
    """Positions of the failing entries (NaN counts as failing, and as the worst), worst first."""
    failing = np.flatnonzero(~(excess <= 0))
    key = np.nan_to_num(excess.ravel()[failing], nan=np.inf)
    return failing[np.argsort(-key, kind="stable")]


# --- the check ------------------------------------------------------------------------------------
def _check_dtype(inputs, checked, outs):
    """The lowest precision among the checked inputs and the outputs (its tolerances apply)."""
    dtypes = [inputs[i].dtype for i in checked] + [o.dtype for o in outs]
    return max(dtypes, key=lambda d: np.finfo(d).eps)


def check(fn, inputs, eps=None, atol=None, rtol=None, *, fast_mode=False, dense_vjps=DENSE_VJPS,
          check_kinks=True, rng=None, worst=WORST, name="gradcheck", order=1, input_names=None,
          output_names=None):
    """Check fn's gradients for every input that requires grad; a GradcheckResult.

    The tiers: the projection screen (only with fast_mode, and it decides only when it
    passes), the full Jacobian, then `dense_vjps` dense vector-Jacobian products (when fn has
    more than one output element and the Jacobian passed)."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    rng = np.random.default_rng(0) if rng is None else rng
    checked = checked_inputs(inputs)
    if not checked:
        raise ArgumentError(f"{name}: no input requires grad, so there is nothing to check")
    graph = _Graph(fn, inputs, checked, name)
    dtype = np.dtype(_check_dtype(inputs, checked, graph.outs))
    if dtype not in TOLERANCES:
        warnings.warn(f"{name}: {dtype} has no tolerances of its own; central differences in "
                      "it are unreliable, and float32's are used", stacklevel=3)
    tol = tolerances_for(dtype, eps, atol, rtol)
    names = input_names or [f"input {i}" for i in range(len(inputs))]
    outputs = output_names or ([f"output {k}" for k in range(len(graph.outs))]
                               if len(graph.outs) > 1 else [])
    result = GradcheckResult(ok=True, status=PASS, tier=FULL, dtype=str(dtype), tolerances=tol,
                             shapes=[x.shape for x in inputs if isinstance(x, Tensor)],
                             outputs=outputs, name=name, order=order)
    if dtype != np.float64:
        result.note = f"{dtype} checks use looser tolerances than float64's"
    reports = {i: InputResult(i, names[i], inputs[i].shape, str(inputs[i].dtype), FULL)
               for i in checked}
    result.inputs = [reports[i] for i in checked]

    if fast_mode:
        screens = [projection_check(fn, inputs, tol["eps"], rng, graph) for _ in range(PROJECTIONS)]
        result.projection = {i: [screen[i] for screen in screens] for i in checked}
        result.tiers += (PROJECTION,)
        screened = all(abs(a - n) <= (tol["atol"] + tol["rtol"] * abs(n)) / SCREEN_MARGIN
                       for pairs in result.projection.values() for a, n in pairs)
        if screened:
            result.tier = PROJECTION
            for i, pairs in result.projection.items():
                r = reports[i]
                r.tier, r.entries = PROJECTION, len(pairs)
                r.max_abs_err = max(abs(a - n) for a, n in pairs)
                r.max_rel_err = max(abs(a - n) / max(abs(n), tol["atol"]) for a, n in pairs)
            return result

    # tier 2: the whole Jacobians, one-hot seeds
    result.tiers += (FULL,)
    analytic = graph.jacobians()
    numeric = {}
    kinked = {i: set() for i in checked}
    for i in checked:
        r, a = reports[i], analytic[i]
        n = numeric[i] = numerical_jacobian(fn, inputs, i, tol["eps"])
        error = np.abs(a - n)
        r.entries = error.size
        r.max_abs_err = float(np.max(error, initial=0))
        r.max_rel_err = float(np.max(error / np.maximum(np.abs(n), tol["atol"]), initial=0))
        allowed = tol["atol"] + tol["rtol"] * np.abs(n)
        excess = error - allowed
        order_ = _worst_first(excess)
        r.failed = int(order_.size)
        named = set()
        for flat in order_:
            o, e = np.unravel_index(flat, error.shape)
            if e in named or e in kinked[i]:
                continue  # the worst output of each input element only
            if len(r.worst) >= worst:
                break
            if check_kinks and is_kink(fn, inputs, i, e, tol["eps"], tol["atol"], tol["rtol"]):
                kinked[i].add(e)
                r.kinks.append(_index(r.shape, e))
                continue
            named.add(e)
            k, local = _output_of(graph.sizes, int(o))
            r.worst.append(ElementError(i, _index(r.shape, e), float(a[o, e]), float(n[o, e]),
                                        float(error[o, e]), float(allowed[o, e]), FULL,
                                        local, k))

    # tier 3: dense random vector-Jacobian products (only where every one-hot row agreed)
    if dense_vjps and graph.size > 1 and not any(r.worst for r in reports.values()):
        result.tiers += (DENSE,)
        for k in range(dense_vjps):
            v = np.concatenate([rng.standard_normal(o.shape).astype(o.dtype).ravel()
                                for o in graph.outs]).astype(np.float64)
            got = graph.vjp(v)
            for i in checked:
                r, n = reports[i], numeric[i]
                expected = v @ n
                error = np.abs(got[i] - expected)
                # Each Jacobian entry may be off by atol + rtol |J|; weighted by v, such errors
                # add up like a random walk: by norms, not sums (a sum would hide a bug).
                norm, scale = np.linalg.norm(v), np.sqrt(np.sum((v[:, None] * n) ** 2, axis=0))
                allowed = tol["atol"] * norm + tol["rtol"] * scale
                excess = error - allowed
                excess[list(kinked[i])] = -1  # already known as non-differentiable points
                # errors per unit of v and relative to the terms' norm: comparable to atol, rtol
                r.max_abs_err = max(r.max_abs_err, float(np.max(error / norm, initial=0)))
                r.max_rel_err = max(r.max_rel_err, float(np.max(
                    error / np.maximum(scale, tol["atol"] * norm), initial=0)))
                failing = _worst_first(excess)
                if failing.size:
                    r.tier = DENSE
                    r.failed, r.entries = max(r.failed, int(failing.size)), n.shape[1]
                for e in failing:
                    if len(r.worst) >= worst or _index(r.shape, e) in [f.element for f in r.worst]:
                        continue
                    if check_kinks and is_kink(fn, inputs, i, e, tol["eps"], tol["atol"],
                                               tol["rtol"]):
                        kinked[i].add(e)
                        r.kinks.append(_index(r.shape, e))
                        continue
                    r.worst.append(ElementError(i, _index(r.shape, e), float(got[i][e]),
                                                float(expected[e]), float(error[e]),
                                                float(allowed[e]), DENSE, None, 0, k))
        if any(r.worst for r in reports.values()):
            result.tier = DENSE

    failed = any(r.worst for r in result.inputs)
    result.status = FAIL if failed else (KINK if any(r.kinks for r in result.inputs) else PASS)
    result.ok = result.status == PASS
    return result


def _output_of(sizes, flat):
    """(which output, flat index in it) of a flat index over all outputs."""
    for k, n in enumerate(sizes):
        if flat < n:
            return k, flat
        flat -= n
    raise IndexError(flat)


# --- the API --------------------------------------------------------------------------------------
def gradcheck(fn, inputs, eps=None, atol=None, rtol=None, raise_exception=True, *,
              fast_mode=False, check_kinks=True, dense_vjps=DENSE_VJPS, seed=0, worst=WORST):
    """Compare every input's analytic gradient with central differences, element by element.

    fn takes the inputs and returns a Tensor (or a tuple of Tensors); the inputs that require
    grad are checked. eps, atol and rtol default to the dtype's (`TOLERANCES`: float64 1e-6,
    1e-5, 1e-3; float32 1e-3, 1e-2, 1e-2). An element fails when |analytic - numeric| > atol +
    rtol * |numeric|. Besides the whole Jacobian (one-hot seeds), `dense_vjps` products v^T J
    with dense random v are compared, which catch sums accumulated in low precision.
    fast_mode first compares random projections v^T J u and stops there when they agree to a
    tenth of the tolerance (else the full check runs, with its per-element report).
    check_kinks tells a kink of fn within eps (a non-differentiable point) from a wrong gradient.

    Returns a GradcheckResult (truthy when every gradient is right). On a failure, raises
    GradcheckError naming the input, the worst element, both values and the error (its
    `.result` is the GradcheckResult), or with raise_exception=False returns the falsy result.
    """
    result = check(fn, inputs, eps, atol, rtol, fast_mode=fast_mode, dense_vjps=dense_vjps,
                   check_kinks=check_kinks, rng=np.random.default_rng(seed), worst=worst)
    return _verdict(result, raise_exception)


def _verdict(result, raise_exception):
    if not result.ok and raise_exception:
        error = GradcheckError(result.message())
        error.result = result
        raise error
    return result


def gradgradcheck(fn, inputs, grad_outputs=None, eps=None, atol=None, rtol=None,
                  raise_exception=True, *, fast_mode=False, check_kinks=True,
                  dense_vjps=DENSE_VJPS, seed=0, worst=WORST):
    """Check second derivatives: gradcheck of the first derivative, as torch's gradgradcheck.

    With v = grad_outputs (by default random, of the output's shape and dtype, requiring grad),
    g(inputs, v) = grad(fn(inputs), inputs, grad_outputs=v, create_graph=True) is checked by
    gradcheck: its analytic derivative (a backward through the backward) against central
    differences of the analytic first gradient, with the same per-element report. Inputs that
    require grad are checked (and v, when it requires grad: d g / d v is the first Jacobian).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    targets = checked_inputs(inputs)
    if not targets:
        raise ArgumentError("gradgradcheck: no input requires grad, so there is nothing to check")
    rng = np.random.default_rng(seed)
    with no_grad():
        outs = _outputs(fn, inputs, "gradgradcheck")
    if grad_outputs is None:
        vs = [Tensor(rng.standard_normal(o.shape).astype(o.dtype), device=o.device,
                     requires_grad=True) for o in outs]
    else:
        given = [grad_outputs] if isinstance(grad_outputs, Tensor) or not isinstance(
            grad_outputs, (tuple, list)) else list(grad_outputs)
        vs = [g if isinstance(g, Tensor) else Tensor(np.asarray(g, o.dtype), device=o.device)
              for g, o in zip(given, outs)]
        if len(given) != len(outs):
            raise ArgumentError(f"gradgradcheck: {len(given)} grad_outputs for {len(outs)} outputs")
        for k, (v, o) in enumerate(zip(vs, outs)):
            if v.shape != o.shape:
                raise ArgumentError(f"gradgradcheck: grad_outputs {k} has shape {v.shape}, but "
                                    f"output {k} has shape {o.shape}")
    count = len(inputs)

    def first_derivative(*args):
        xs, v = list(args[:count]), list(args[count:])
        if not is_grad_enabled():  # a finite-difference evaluation: differentiate at fresh leaves
            for i in targets:
                xs[i] = xs[i].detach().requires_grad_()
        with enable_grad():
            ys = _outputs(fn, xs, "gradgradcheck")
            pairs = [(y, g) for y, g in zip(ys, v) if y.requires_grad]
            found = (grad([y for y, _ in pairs], [xs[i] for i in targets], [g for _, g in pairs],
                          create_graph=True, allow_unused=True) if pairs else [None] * len(targets))
        return tuple(g if g is not None else
                     Tensor(np.zeros(xs[i].shape, xs[i].dtype), device=xs[i].device)
                     for g, i in zip(found, targets))

    names = [f"input {i}" for i in range(count)] + [f"grad_output {k}" for k in range(len(vs))]
    result = check(first_derivative, inputs + tuple(vs), eps, atol, rtol, fast_mode=fast_mode,
                   dense_vjps=dense_vjps, check_kinks=check_kinks, rng=rng, worst=worst,
                   name="gradgradcheck", order=2, input_names=names,
                   output_names=[f"the gradient of input {i}" for i in targets])
    return _verdict(result, raise_exception)


# --- the report behind python -m engine gradcheck -------------------------------------------------
def report(fn, inputs, eps=None, atol=None, rtol=None, rng=None, worst=WORST, full=False,
           order=1):
    """Check fn's gradients (order=2: its second derivatives) and say where they are wrong: the
    GradcheckResult of `check` (fast mode unless full=True) as a dict, ready for JSON."""
    return check_order(fn, inputs, eps, atol, rtol, rng, worst, full, order).to_dict()


def check_order(fn, inputs, eps=None, atol=None, rtol=None, rng=None, worst=WORST, full=False,
                order=1):
    """The command line's check of one case: a GradcheckResult, never raising on a failure."""
    rng = np.random.default_rng(0) if rng is None else rng
    if order == 1:
        return check(fn, inputs, eps, atol, rtol, fast_mode=not full, rng=rng, worst=worst)
    if order == 2:
        return gradgradcheck(fn, inputs, None, eps, atol, rtol, False, fast_mode=not full,
                             seed=rng, worst=worst)
    raise ArgumentError(f"gradcheck: order must be 1 or 2, got {order}")


def format_report(name, result):
    """A readable report: the verdict, then the worst elements of each input and its kinks.
    `result` is a GradcheckResult or its dict (report()'s)."""
    r = result.to_dict() if isinstance(result, GradcheckResult) else result
    tol = r["tolerances"]
    tiers = " -> ".join(r.get("tiers") or [r["tier"]])  # what ran; the last one decided
    lines = [f"{name}: {r['status']} ({tiers}; {r['dtype']}, atol={tol['atol']}, "
             f"rtol={tol['rtol']}; max abs err {r['max_abs_err']:.3g}, "
             f"max rel err {r['max_rel_err']:.3g})"]
    names = result.outputs if isinstance(result, GradcheckResult) else []
    for f in r.get("worst", []):
        if f.get("tier") == DENSE:
            where = f"dense vjp, random vector {f['vector']}"
        elif names:
            where = f"{names[f.get('output', 0)]}, element {f['output_element']}"
        else:
            where = f"output {f['output_element']}"
        who = f.get("name", f"input {f['input']}")
        lines.append(f"  {who} element {tuple(f['element'])} ({where}): "
                     f"analytic {f['analytic']:.6g}, numeric {f['numeric']:.6g}, "
                     f"error {f['error']:.3g}")
    for k in r.get("kinks", []):
        who = k.get("name", f"input {k['input']}")
        lines.append(f"  {who} element {tuple(k['element'])}: non-differentiable "
                     "point within eps (re-draw the input there)")
    return "\n".join(lines)
