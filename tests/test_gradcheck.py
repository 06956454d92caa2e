"""The gradient checker is a product: it must catch any single wrong element and pass right ones."""
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import engine as eg
from engine.autograd import Function


class PlantedSquare(Function):
    """x**2 whose backward is wrong at exactly one element by `delta`."""

    def forward(self, x, bad_index, delta):
        self.save(x)
        self.bad_index, self.delta = bad_index, delta
        return x * x

    def backward(self, gy):
        g = 2 * self.saved[0] * gy
        g = g.copy()
        g[self.bad_index] += self.delta * gy[self.bad_index]
        return g, None, None


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_a_single_wrong_element_is_caught_and_named(shape, data):
    x = eg.tensor(data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-2, 2))),
                  requires_grad=True)
    bad = tuple(data.draw(st.integers(0, n - 1)) for n in shape)
    delta = data.draw(st.sampled_from([1e-2, -0.5, 3.0]))
    with pytest.raises(eg.GradcheckError) as info:
        eg.gradcheck(lambda t: PlantedSquare.apply(t, bad, delta), [x])
    message = str(info.value)
    assert f"input 0 (shape {shape})" in message
    assert f"at element {bad}" in message
    assert "analytic" in message and "numeric" in message and "error" in message
    assert not eg.gradcheck(lambda t: PlantedSquare.apply(t, bad, delta), [x],
                            raise_exception=False)


def test_wrong_gradient_of_the_second_input_is_named():
    a = eg.tensor(np.ones(3), requires_grad=True)
    b = eg.tensor(np.full(3, 2.0), requires_grad=True)
    with pytest.raises(eg.GradcheckError, match=r"input 1 .* element \(2,\)"):
        eg.gradcheck(lambda u, v: u + PlantedSquare.apply(v, (2,), 0.1), [a, b])


@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4),
                  elements=st.floats(-2, 2)))
def test_right_gradients_pass(x):
    t = eg.tensor(x, requires_grad=True)
    assert eg.gradcheck(lambda u: (u * u).tanh(), [t])


def test_float32_inputs_get_float32_tolerances_and_no_warning():
    # (it warned and then used float64's eps=1e-6, failing right gradients; see
    # tests/test_gradcheck_api.py for the float32 defaults on real ops)
    x = eg.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = eg.gradcheck(lambda t: t * 2, [x])
    assert result and result.dtype == "float32" and result.tolerances["rtol"] == 1e-2


def test_inputs_without_grad_are_not_checked_and_the_callers_grad_is_untouched():
    a = eg.tensor(np.ones(2), requires_grad=True)
    c = eg.tensor(np.ones(2))
    assert eg.gradcheck(lambda u, v: u * v, [a, c])
    assert a.grad is None
    with pytest.raises(ValueError, match="nothing to check"):
        eg.gradcheck(lambda v: v * 2, [c])


def test_command_line_checks_every_op_and_reports_a_table():
    done = subprocess.run([sys.executable, "-m", "engine", "gradcheck", "--trials", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "max abs err" in done.stdout and "0 failed" in done.stdout
    assert "cross_entropy" in done.stdout and "matmul" in done.stdout


def test_command_line_rejects_an_unknown_op():
    done = subprocess.run([sys.executable, "-m", "engine", "gradcheck", "--op", "nope"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "no op named" in done.stderr


# --- the report behind python -m engine gradcheck ----------------------------------------------
from engine.check.gradcheck import format_report, report  # noqa: E402


@given(shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4), data=st.data())
def test_report_points_at_the_planted_wrong_element(shape, data):
    x = eg.tensor(data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0.5, 2))),
                  requires_grad=True)
    bad = tuple(data.draw(st.integers(0, n - 1)) for n in shape)
    result = report(lambda t: PlantedSquare.apply(t, bad, 0.5), [x])
    assert result["status"] == "fail" and result["tier"] == "full jacobian"
    assert [f["element"] for f in result["worst"]] == [list(bad)]
    assert f"element {bad}" in format_report("planted", result)


def test_report_passes_right_gradients_on_the_fast_tier():
    x = eg.tensor(np.linspace(0.5, 2, 6).reshape(2, 3), requires_grad=True)
    result = report(lambda t: (t * t).exp().sum(axis=1), [x])
    assert result["status"] == "pass" and result["tier"] == "projection"
    assert report(lambda t: (t * t).exp(), [x], full=True)["tier"] == "full jacobian"


def test_a_kink_is_reported_as_a_non_differentiable_point_not_a_wrong_gradient():
    x = eg.tensor(np.array([1.0, 3e-7, -2.0]), requires_grad=True)  # |x| has a kink at 0
    result = report(lambda t: t.abs(), [x])
    assert result["status"] == "non-differentiable point"
    assert result["kinks"] == [{"input": 0, "element": [1]}] and result["worst"] == []


def test_float32_reports_its_looser_tolerances():
    x = eg.tensor(np.array([0.5, 1.0, 1.5]), dtype=np.float32, requires_grad=True)
    result = report(lambda t: t.tanh(), [x])
    assert result["status"] == "pass" and result["tolerances"]["rtol"] == 1e-2
    assert "looser" in result["note"]


def test_command_line_json_report(tmp_path):
    path = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "engine", "gradcheck", "--op", "matmul", "relu",
                           "--trials", "2", "--json", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    import json
    rows = json.loads(path.read_text())
    assert sorted(r["op"] for r in rows) == ["matmul", "matmul", "relu", "relu"]
    assert all(r["status"] == "pass" and "max_abs_err" in r for r in rows)
