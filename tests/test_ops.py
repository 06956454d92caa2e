"""Every op in the catalogue: forward against kernels/reference.py, backward against gradcheck."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import engine as eg
from engine.catalog import CASES
from tests.drawer import HypothesisDrawer

DEVICES = ["cpu"]


def _tensors(arrays, dtype, device, requires_grad):
    return [eg.tensor(a.astype(dtype), device=device, requires_grad=requires_grad) for a in arrays]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@given(data=st.data())
def test_forward_matches_reference(case, dtype, device, data):
    arrays, params = case.draw(HypothesisDrawer(data))
    out = case.fn(*_tensors(arrays, dtype, device, False), **params)
    expected = case.reference(*arrays, **params)
    assert out.dtype == dtype
    assert out.shape == np.shape(expected)
    tol = 1e-10 if dtype == np.float64 else case.float32_tol
    np.testing.assert_allclose(out.numpy(), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@given(data=st.data())
def test_backward_matches_numerical_gradient(case, device, data):
    arrays, params = case.draw(HypothesisDrawer(data))
    inputs = _tensors(arrays, np.float64, device, True)
    assert eg.gradcheck(lambda *xs: case.fn(*xs, **params), inputs)
