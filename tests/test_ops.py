"""Every op in the catalogue on every device: forward against kernels/reference.py, backward
against gradcheck, and the cuda device against the cpu one in float32.

The cuda device runs in Numba's CUDA simulator in CI (see conftest.py), where each simulated
thread costs about 0.1 ms: its tests draw fewer examples.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import engine as eg
from engine import backend
from engine.check.catalog import CASES, SIDE
from tests.drawer import HypothesisDrawer, for_examples

CUDA_EXAMPLES = 3  # 196 cases x 4 tests: the simulator dominates the suite
CUDA_SIDE = 2  # the simulator's cost grows with every element of every kernel launch


def _side(device):
    return CUDA_SIDE if backend.simulated(device) else SIDE


def needs_cuda(test):
    skip = pytest.mark.skipif(not eg.cuda.is_available(), reason="no cuda device (nor simulator)")
    return pytest.mark.cuda(skip(test))


def _skip_unless_supported(case, *devices):
    """Cases naming a kernel variant run only where the device has that variant."""
    for device in devices:
        if not case.runs_on(device):
            pytest.skip(f"{device} has no {case.variant[0]} variant {case.variant[1]!r}")


def _tensors(arrays, dtype, device, requires_grad):
    return [eg.tensor(a.astype(dtype), device=device, requires_grad=requires_grad) for a in arrays]


def check_forward(case, dtype, device, data):
    _skip_unless_supported(case, device)
    arrays, params = case.draw(HypothesisDrawer(data, _side(device)))
    out = case.fn(*_tensors(arrays, dtype, device, False), **params)
    expected = case.reference(*arrays, **params)
    assert out.dtype == dtype
    assert out.shape == np.shape(expected)
    tol = 1e-10 if dtype == np.float64 else case.float32_tol
    np.testing.assert_allclose(out.numpy(), expected, rtol=tol, atol=tol)


def check_backward(case, device, data):
    """The whole Jacobian on the cpu. On the simulated cuda device, where a backward per output
    element costs seconds for the convolutions, random projections first (fast_mode, the full
    check only if they disagree): the cpu-agreement test compares every gradient element."""
    _skip_unless_supported(case, device)
    arrays, params = case.draw(HypothesisDrawer(data, _side(device)))
    inputs = _tensors(arrays, np.float64, device, True)
    assert eg.gradcheck(lambda *xs: case.fn(*xs, **params), inputs,
                        fast_mode=backend.simulated(device))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@given(data=st.data())
def test_forward_matches_reference(case, dtype, data):
    check_forward(case, dtype, "cpu", data)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@given(data=st.data())
def test_backward_matches_numerical_gradient(case, data):
    check_backward(case, "cpu", data)


@needs_cuda
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_cuda_forward_matches_reference(case, dtype):
    for_examples(case, "cuda", lambda data: check_forward(case, dtype, "cuda", data), CUDA_EXAMPLES)


@needs_cuda
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_cuda_backward_matches_numerical_gradient(case):
    for_examples(case, "cuda", lambda data: check_backward(case, "cuda", data), CUDA_EXAMPLES)

@needs_cuda
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@settings(max_examples=CUDA_EXAMPLES)
@given(data=st.data())
def test_cuda_agrees_with_cpu_in_float32(case, data):
    _skip_unless_supported(case, "cpu", "cuda")
    arrays, params = case.draw(HypothesisDrawer(data, _side("cuda")))
    outputs, grads = {}, {}
    for device in ("cpu", "cuda"):
        inputs = _tensors(arrays, np.float32, device, True)
        out = case.fn(*inputs, **params)
        out.backward(np.ones(out.shape, np.float32))
        outputs[device] = out.numpy()
        grads[device] = [t.grad.numpy() if t.grad is not None else None for t in inputs]
    np.testing.assert_allclose(outputs["cuda"], outputs["cpu"], rtol=1e-4, atol=1e-5)
    for g_cuda, g_cpu in zip(grads["cuda"], grads["cpu"]):
        if g_cpu is not None:
            np.testing.assert_allclose(g_cuda, g_cpu, rtol=1e-4, atol=1e-5)
