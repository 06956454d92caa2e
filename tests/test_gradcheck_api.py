"""The checker's Python API: per-dtype tolerances, kinks, fast mode, dense vector-Jacobian
products, the structured result, gradgradcheck, and the command line's --order 2."""
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import engine as eg
import engine.nn.functional as F
from engine.check.gradcheck import TOLERANCES, format_report, report

CHECKS = eg.GradcheckResult  # the class is public: isinstance checks, dataclass fields


def tensor(values, dtype=np.float64, requires_grad=True):
    return eg.tensor(np.asarray(values, dtype), requires_grad=requires_grad)


def uniform(rng, shape, dtype=np.float64, lo=-2.0, hi=2.0, requires_grad=True):
    return tensor(rng.uniform(lo, hi, shape), dtype, requires_grad)


class PlantedSquare(eg.Function):
    """x**2 whose backward is wrong at exactly one element by `delta` (absolute)."""

    def forward(self, x, bad_index, delta):
        self.save(x)
        self.bad_index, self.delta = bad_index, delta
        return x * x

    def backward(self, gy):
        g = (2 * self.saved[0] * gy).copy()
        g[self.bad_index] += self.delta * gy[self.bad_index]
        return g, None, None


class PlantedMatmul(eg.Function):
    """a @ b whose gradient for b is wrong by a factor (1 + rel) at one element."""

    def forward(self, a, b, bad, rel):
        self.save(a, b)
        self.bad, self.rel = bad, rel
        return a @ b

    def backward(self, gy):
        a, b = self.saved
        gb = a.T @ gy
        gb[self.bad] *= 1 + self.rel
        return gy @ b.T, gb, None, None


class CountingTanh(eg.Function):
    """tanh that counts its backward passes."""
    backwards = 0

    def forward(self, x):
        y = np.tanh(x)
        self.save(y)
        return y

    def backward(self, gy):
        CountingTanh.backwards += 1
        (y,) = self.saved
        return gy * (1 - y * y)


def no_warnings(check):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return check()


# --- per-dtype tolerances -------------------------------------------------------------------------
def test_float64_defaults_are_the_contracts_and_positional_arguments_still_work():
    assert TOLERANCES[np.dtype(np.float64)] == {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}
    x = uniform(np.random.default_rng(0), (3,))
    result = eg.gradcheck(lambda t: t.tanh(), [x])
    assert result and result.tolerances == {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}
    assert eg.gradcheck(lambda t: t.exp(), [x], 1e-6, 1e-5, 1e-3, False)
    assert eg.gradcheck(lambda t: t.exp(), x, eps=1e-7, atol=1e-6).tolerances["eps"] == 1e-7


@pytest.mark.parametrize("seed", range(4))
def test_float32_right_gradients_pass_without_warnings(seed):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    cases = [
        (lambda t: t.tanh(), [uniform(rng, (3, 4), f32)]),
        (lambda t: (t * t).tanh().sum(axis=1), [uniform(rng, (3, 4), f32)]),
        (lambda a, b: a @ b, [uniform(rng, (4, 5), f32), uniform(rng, (5, 3), f32)]),
        (lambda x, w, b: F.conv2d(x, w, b, padding=1),
         [uniform(rng, (1, 3, 5, 5), f32), uniform(rng, (4, 3, 3, 3), f32),
          uniform(rng, (4,), f32)]),
        (lambda t: F.softmax(t, 1), [uniform(rng, (3, 5), f32)]),
    ]
    for fn, inputs in cases:
        result = no_warnings(lambda: eg.gradcheck(fn, inputs))
        assert result.ok and result.dtype == "float32"
        assert result.tolerances == TOLERANCES[np.dtype(np.float32)]


@pytest.mark.parametrize("rel", [0.1, -0.2, 0.5])
def test_float32_still_catches_a_single_element_wrong_by_ten_percent(rel):
    rng = np.random.default_rng(1)
    x = uniform(rng, (3, 4), np.float32, 0.5, 2.0)
    bad = (2, 1)
    delta = rel * 2 * float(x.numpy()[bad])
    with pytest.raises(eg.GradcheckError, match=r"input 0 \(shape \(3, 4\)\) is wrong at element "
                                                r"\(2, 1\)"):
        no_warnings(lambda: eg.gradcheck(lambda t: PlantedSquare.apply(t, bad, delta), [x]))
    a, b = uniform(rng, (5, 4), np.float32), uniform(rng, (4, 3), np.float32)
    with pytest.raises(eg.GradcheckError, match=r"input 1 .* at element \(3, 0\)"):
        eg.gradcheck(lambda u, v: PlantedMatmul.apply(u, v, (3, 0), rel), [a, b])


# --- kinks ----------------------------------------------------------------------------------------
def test_relu_at_zero_is_a_non_differentiable_point_not_a_wrong_gradient():
    x = tensor([1.0, 0.0, -2.0])
    with pytest.raises(eg.GradcheckError, match="non-differentiable point") as info:
        eg.gradcheck(lambda t: t.relu(), [x])
    assert "element (1,)" in str(info.value) and "is wrong" not in str(info.value)
    result = eg.gradcheck(lambda t: t.relu(), [x], raise_exception=False)
    assert not result and result.status == "non-differentiable point"
    assert result.kinks == [(0, (1,))] and result.worst == []
    assert info.value.result.status == result.status
    # without the kink check it is just a wrong element
    with pytest.raises(eg.GradcheckError, match=r"is wrong at element \(1,\)"):
        eg.gradcheck(lambda t: t.relu(), [x], check_kinks=False)


def test_a_wrong_gradient_next_to_a_kink_is_still_wrong():
    x = tensor([0.0, 1.5, -2.0])
    fn = lambda t: PlantedSquare.apply(t, (1,), 0.5) + t.relu()  # noqa: E731
    result = eg.gradcheck(fn, [x], raise_exception=False)
    assert result.status == "fail" and [f.element for f in result.worst] == [(1,)]
    assert result.kinks == [(0, (0,))]


# --- fast mode ------------------------------------------------------------------------------------
def test_fast_mode_screens_with_projections_instead_of_the_whole_jacobian():
    x = uniform(np.random.default_rng(2), (16, 16))
    CountingTanh.backwards = 0
    result = eg.gradcheck(CountingTanh.apply, [x], fast_mode=True)
    assert result and result.tier == "projection" and result.tiers == ("projection",)
    assert CountingTanh.backwards <= 4  # a backward per projection, not one per output element
    CountingTanh.backwards = 0
    assert eg.gradcheck(CountingTanh.apply, [x]).tier == "full jacobian"
    assert CountingTanh.backwards >= 256


@pytest.mark.parametrize("seed", range(6))
def test_fast_mode_falls_back_to_the_full_report_and_misses_no_single_element_bug(seed):
    # torch's fast mode misses these: its tolerance grows with the sum of its projections
    rng = np.random.default_rng(seed)
    a, b = uniform(rng, (6, 8)), uniform(rng, (8, 6))
    bad = (int(rng.integers(8)), int(rng.integers(6)))
    result = eg.gradcheck(lambda u, v: PlantedMatmul.apply(u, v, bad, 0.01), [a, b],
                          raise_exception=False, fast_mode=True, seed=seed)
    assert not result and result.tiers[:2] == ("projection", "full jacobian")
    assert result.tier == "full jacobian"
    assert [(f.input, f.element) for f in result.worst] == [(1, bad)]


# --- dense vector-Jacobian products ---------------------------------------------------------------
class HalfSumLinear(eg.Function):
    """x @ w.T whose weight gradient, a sum over the rows of x, is accumulated in float16."""

    def forward(self, x, w):
        self.save(x, w)
        return x @ w.T

    def backward(self, gy):
        x, w = self.saved
        terms = (gy[:, :, None] * x[:, None, :]).astype(np.float16)
        gw = np.zeros(w.shape, np.float16)
        for row in terms:  # one row after the other, in float16
            gw += row
        return gy @ w, gw.astype(w.dtype)


def test_dense_vjps_catch_a_sum_accumulated_in_float16_that_one_hot_seeds_miss():
    rng = np.random.default_rng(0)
    x = uniform(rng, (256, 3), lo=-1, hi=1, requires_grad=False)
    w = uniform(rng, (2, 3), lo=-1, hi=1)
    fn = HalfSumLinear.apply
    one_hot = eg.gradcheck(fn, [x, w], dense_vjps=0)  # a single term per sum: within rtol
    assert one_hot and one_hot.tiers == ("full jacobian",)
    with pytest.raises(eg.GradcheckError, match=r"input 1 \(shape \(2, 3\)\) is wrong at element "
                                                r"\(\d, \d\) in a vector-Jacobian product with "
                                                r"dense random vector") as info:
        eg.gradcheck(fn, [x, w])
    result = info.value.result
    assert result.status == "fail" and result.tier == "dense vjp"
    assert result.tiers == ("full jacobian", "dense vjp")
    assert all(f.tier == "dense vjp" and f.input == 1 for f in result.worst)
    assert "dense vjp, random vector" in str(result)
    # the same product accumulated in float64 passes the dense tier: no false alarm
    x.requires_grad_(True)
    assert eg.gradcheck(lambda a, b: a @ b.T, [x[:64], w]).tiers == ("full jacobian", "dense vjp")


# --- the result -----------------------------------------------------------------------------------
def test_the_result_is_a_dataclass_with_a_per_input_report():
    import dataclasses
    rng = np.random.default_rng(3)
    a, b = uniform(rng, (2, 3)), uniform(rng, (3,))
    result = eg.gradcheck(lambda u, v: PlantedSquare.apply(u, (1, 2), 0.5) * v, [a, b],
                          raise_exception=False)
    assert dataclasses.is_dataclass(result) and isinstance(result, CHECKS)
    assert result.ok is False and not result and result.status == "fail"
    assert result.dtype == "float64" and result.tolerances["atol"] == 1e-5
    first, second = result.inputs
    assert (first.input, first.shape, first.status, second.status) == (0, (2, 3), "fail", "pass")
    assert first.failed == 1 and first.entries == 36 and second.max_abs_err < 1e-8
    (f,) = first.worst
    assert f.element == (1, 2) and f.output_element == 5 and f.tier == "full jacobian"
    assert abs(f.analytic - f.numeric - 0.5 * b.numpy()[2]) < 1e-6 and f.error > f.tolerance
    assert result.max_abs_err == first.max_abs_err
    text = str(result)
    assert text.startswith("gradcheck: fail (full jacobian; float64") and "element (1, 2)" in text
    json.dumps(result.to_dict())  # plain data


def test_the_command_lines_report_and_the_api_are_one_implementation():
    x = uniform(np.random.default_rng(4), (2, 3), lo=0.5, hi=2.0)
    fn = lambda t: PlantedSquare.apply(t, (0, 1), -0.5)  # noqa: E731
    result = eg.gradcheck(fn, [x], raise_exception=False)
    as_dict = report(fn, [x], full=True)
    assert as_dict == result.to_dict()
    assert format_report("gradcheck", as_dict) == str(result) == format_report("gradcheck", result)
    passing = eg.gradcheck(lambda t: t.exp(), [x], fast_mode=True)
    assert report(lambda t: t.exp(), [x]) == passing.to_dict()


def test_a_function_of_several_outputs_is_checked_output_by_output():
    x = uniform(np.random.default_rng(5), (3,))
    assert eg.gradcheck(lambda t: (t.tanh(), (t * t).sum()), [x])
    with pytest.raises(eg.GradcheckError, match=r"element \(2,\) for element 2 \(flat\) of "
                                                r"output 1"):
        eg.gradcheck(lambda t: (t.tanh(), PlantedSquare.apply(t, (2,), 0.3)), [x])


# --- second derivatives ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tanh", "mul", "matmul", "softmax", "sigmoid"])
def test_gradgradcheck_passes_right_second_derivatives(name):
    rng = np.random.default_rng(6)
    fn, inputs = {
        "tanh": (lambda t: t.tanh(), [uniform(rng, (2, 3))]),
        "mul": (lambda a, b: a * b, [uniform(rng, (2, 3)), uniform(rng, (3,))]),
        "matmul": (lambda a, b: a @ b, [uniform(rng, (2, 3)), uniform(rng, (3, 2))]),
        "softmax": (lambda t: F.softmax(t, 1), [uniform(rng, (2, 4))]),
        "sigmoid": (lambda t: t.sigmoid(), [uniform(rng, (3, 2))]),
    }[name]
    result = eg.gradgradcheck(fn, inputs)
    assert result and result.order == 2 and result.name == "gradgradcheck"
    # the random grad_output requires grad, so d g / d v (the first Jacobian) is checked too
    assert len(result.inputs) == len(inputs) + 1


class Cube(eg.Function):
    """x**3 with a backward written over self.kernels: differentiable again."""

    def forward(self, x):
        self.save(x)
        return x * x * x

    def backward(self, gy):
        (x,) = self.saved
        k = self.kernels
        return k.mul(gy, k.mul(k.mul(x, x), 3.0))


class CubeFrozenSquare(eg.Function):
    """x**3 whose backward uses x*x kept from forward: an array the graph of the backward
    treats as a constant, so the first derivative is right and the second misses 6 x gy."""

    def forward(self, x):
        square = x * x
        self.save(square)
        return square * x

    def backward(self, gy):
        (square,) = self.saved
        k = self.kernels
        return k.mul(gy, k.mul(square, 3.0))


def test_gradgradcheck_catches_a_wrong_second_derivative_and_names_the_element():
    x = tensor([[0.5, -1.2, 2.0], [1.5, 0.7, -0.3]])
    assert eg.gradcheck(Cube.apply, [x]) and eg.gradgradcheck(Cube.apply, [x])
    assert eg.gradcheck(CubeFrozenSquare.apply, [x])  # right to first order
    expected = (r"gradgradcheck: second derivative of input 0 \(shape \(2, 3\)\) is wrong at "
                r"element \(0, 2\) for element 2 \(flat\) of the gradient of input 0: "
                r"analytic 0, numeric 12, error 12")  # d/dx (3 x^2 v) = 6 x v, x = 2, v = 1
    with pytest.raises(eg.GradcheckError, match=expected) as info:
        ones = tensor(np.ones((2, 3)), requires_grad=False)
        eg.gradgradcheck(CubeFrozenSquare.apply, [x], grad_outputs=ones)
    result = info.value.result
    assert [f.element for f in result.worst[:1]] == [(0, 2)] and result.order == 2
    assert "input 0 element (0, 2) (the gradient of input 0, element 2)" in str(result)
    fast = eg.gradgradcheck(CubeFrozenSquare.apply, [x], raise_exception=False, fast_mode=True)
    assert not fast and fast.tiers[:2] == ("projection", "full jacobian")


def test_gradgradcheck_grad_outputs_and_errors():
    x = uniform(np.random.default_rng(7), (3,))
    v = tensor([1.0, -2.0, 0.5])  # requires grad: checked as the third input
    result = eg.gradgradcheck(lambda t: t.tanh(), [x], grad_outputs=v)
    assert [r.name for r in result.inputs] == ["input 0", "grad_output 0"]
    with pytest.raises(ValueError, match="nothing to check"):
        eg.gradgradcheck(lambda t: t.tanh(), [tensor([1.0], requires_grad=False)])
    with pytest.raises(ValueError, match="grad_outputs 0 has shape"):
        eg.gradgradcheck(lambda t: t.tanh(), [x], grad_outputs=tensor([1.0, 2.0]))


def test_command_line_checks_second_derivatives():
    done = subprocess.run([sys.executable, "-m", "engine", "gradcheck", "--order", "2", "--op",
                           "tanh", "matmul", "softmax", "conv2d[im2col]", "--trials", "1",
                           "--full"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "second derivatives" in done.stdout and "max abs err" in done.stdout
    assert "full jacobian" in done.stdout and "4 passed, 0 failed" in done.stdout
    done = subprocess.run([sys.executable, "-m", "engine", "gradcheck", "--fast", "--full"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not allowed with" in done.stderr


class FirstOrderOnly(eg.Function):
    """tanh whose backward works on arrays only: no second derivative path."""

    def forward(self, x):
        self.save(x)
        return np.tanh(x)

    def backward(self, gy):
        (x,) = self.saved
        if isinstance(gy, eg.Tensor):
            raise NotImplementedError("firstorderonly: no double backward")
        return gy * (1 - np.tanh(x) ** 2)


def test_command_line_order_2_skips_an_op_without_a_second_derivative(monkeypatch, capsys):
    from engine import __main__ as command
    from engine.check import catalog, cli
    case = catalog.Case("first_order_only", FirstOrderOnly.apply, np.tanh,
                        lambda d: ([d.uniform((3,))], {}))
    monkeypatch.setattr(cli, "CASES", [case, catalog.BY_NAME["tanh"]])
    assert command.main(["gradcheck", "--order", "2", "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "first_order_only" in out and "skipped: no second derivative" in out
    assert "NotImplementedError: firstorderonly: no double backward" in out
    assert "2 passed, 0 failed, 1 skipped (no second derivative: first_order_only)" in out
    assert command.main(["gradcheck", "--trials", "1"]) == 0  # first order: checked as usual


def test_command_line_lists_every_catalogue_case_by_family(capsys):
    from engine import __main__ as command
    from engine.check import catalog
    assert command.main(["gradcheck", "--list"]) == 0
    out = capsys.readouterr().out
    listed = out.split()
    for family, cases in catalog.FAMILIES.items():
        assert f"{family} ({sum(case.runs_on('cpu') for case in cases)}):" in out
        assert all(case.name in listed or f"({case.name})" in listed for case in cases)
    on_cpu = sum(case.runs_on("cpu") for case in catalog.CASES)
    assert f"{on_cpu} of {len(catalog.CASES)} cases run on cpu" in out
