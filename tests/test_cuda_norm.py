"""The fused batch norm of the cuda backend (kernels/cuda/norm.py) against a float64 numpy
reference and the composite it overrides: every rank 2..5, float32 and float64, weight and bias
given or None, channels of a few items or of many chunks, three launches and no host copies
each way.

In CI it runs in Numba's CUDA simulator (see conftest.py); ENGINE_TEST_GPU=1 runs it on a GPU.
"""
import numpy as np
import pytest

import engine as eg
import engine.nn.functional as F
from engine import backend
from kernels.cuda.device import counted

try:
    from kernels.cuda.device import THREADS
    from kernels.cuda.norm import _CHUNK
except ImportError:  # without Numba's CUDA target, where every test here is skipped
    THREADS, _CHUNK = 4, 32

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not eg.cuda.is_available(),
                                                  reason="no cuda device (nor simulator)")]

# the N*S items of a channel: fewer than a block's threads, one chunk or a few (in the simulator,
# where a chunk is 32 items), more chunks than the threads that merge them (in the simulator and
# on a GPU: the last shape), with C=1, N=1, and every rank
SHAPES = [(4, 3), (37, 2), (3, 5, 7, 11), (2, 1, 9), (2, 3, 4, 5, 6), (5, 2, 70), (1, 4, 3, 3),
          (300, 1), (2, 2, (THREADS + 3) * _CHUNK // 2 + 5)]
TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


def _fused(name):
    k = backend.table("cuda")
    return k.variants[name]["fused"], k.variants[name]["composite"]


def _device(a):
    return backend.table("cuda").from_host(a)


def _host(a):
    return backend.table("cuda").to_host(a)


def _reference(x, gy, weight, bias, eps):
    """y, mean, var, invstd and gx, gw, gb in float64, the textbook way."""
    x, gy = x.astype(np.float64), gy.astype(np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    w = np.ones(x.shape[1]) if weight is None else weight.astype(np.float64)
    b = np.zeros(x.shape[1]) if bias is None else bias.astype(np.float64)
    mean, var = x.mean(axes), x.var(axes)
    invstd = 1 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
    y = xhat * w.reshape(shape) + b.reshape(shape)
    gb, gw = gy.sum(axes), (gy * xhat).sum(axes)
    gx = (w * invstd).reshape(shape) * (gy - (gb.reshape(shape) + xhat * gw.reshape(shape))
                                        / (x.size // x.shape[1]))
    return (y, mean, var, invstd), (gx, gw, gb)


def _draw(shape, dtype, offset=0.0, seed=0):
    rng = np.random.default_rng(seed)
    x = (offset + 2 * rng.standard_normal(shape)).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    w, b = (rng.standard_normal(shape[1]).astype(dtype) for _ in range(2))
    return x, gy, w, b


# (shape, affine): both given on every shape, each alone or neither on a few
CASES = ([(shape, "both") for shape in SHAPES]
         + [((3, 5, 7, 11), "none"), ((37, 2), "none"), ((2, 3, 4, 5, 6), "weight"),
            ((5, 2, 70), "bias")])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, affine", CASES)
def test_fused_batch_norm_matches_the_reference(shape, dtype, affine):
    x, gy, w, b = _draw(shape, dtype, offset=3.0)
    w = w if affine in ("both", "weight") else None
    b = b if affine in ("both", "bias") else None
    want_forward, want_backward = _reference(x, gy, w, b, 1e-5)
    forward, _ = _fused("batch_norm_forward")
    backward, _ = _fused("batch_norm_backward")
    x, gy, w, b = (None if a is None else _device(a) for a in (x, gy, w, b))
    got, (launches, copies) = counted(forward, x, w, b, 1e-5)
    assert launches <= 3 and copies == 0
    for name, g, r in zip(("y", "mean", "var", "invstd"), got, want_forward):
        assert g.dtype == dtype and g.shape == r.shape, name
        np.testing.assert_allclose(_host(g), r, err_msg=name, **TOLERANCE[dtype])
    got, (launches, copies) = counted(backward, x, gy, got[1], got[3], w)
    assert launches <= 3 and copies == 0
    for name, g, r in zip(("gx", "gw", "gb"), got, want_backward):
        assert g.dtype == dtype and g.shape == r.shape, name
        scale = np.abs(r).max()  # gx cancels: compare relative to the largest
        np.testing.assert_allclose(_host(g) / scale, r / scale, err_msg=name, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, affine", [((4, 3), "both"), ((5, 2, 70), "both"),
                                           ((2, 3, 4, 5, 6), "none")])
def test_fused_batch_norm_agrees_with_the_composite(shape, dtype, affine):
    x, gy, w, b = (_device(a) for a in _draw(shape, dtype, offset=3.0))
    w, b = (w, b) if affine == "both" else (None, None)
    forward, forward_composite = _fused("batch_norm_forward")
    backward, backward_composite = _fused("batch_norm_backward")
    got, want = forward(x, w, b, 1e-5), forward_composite(x, w, b, 1e-5)
    for name, g, v in zip(("y", "mean", "var", "invstd"), got, want):
        assert g.dtype == v.dtype and g.shape == v.shape, name
        np.testing.assert_allclose(_host(g), _host(v), err_msg=name, **TOLERANCE[dtype])
    mean, invstd = want[1], want[3]
    got, want = backward(x, gy, mean, invstd, w), backward_composite(x, gy, mean, invstd, w)
    for name, g, v in zip(("gx", "gw", "gb"), got, want):
        assert g.dtype == v.dtype and g.shape == v.shape, name
        scale = np.abs(_host(v)).max()
        np.testing.assert_allclose(_host(g) / scale, _host(v) / scale, err_msg=name,
                                   **TOLERANCE[dtype])


def test_float32_statistics_stay_accurate_far_from_zero():
    """Welford and Chan's merges in float32: a mean 1e4 times the spread loses nothing that a
    sum of squares would (its var would come out as rounding noise, or negative)."""
    x, gy, w, b = _draw((16, 3, 9, 13), np.float32, offset=1e4, seed=1)
    forward, _ = _fused("batch_norm_forward")
    y, mean, var, invstd = (_host(a) for a in forward(_device(x), _device(w), _device(b), 1e-5))
    (want_y, want_mean, want_var, _), _ = _reference(x, gy, w, b, 1e-5)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-6)
    np.testing.assert_allclose(var, want_var, rtol=1e-3)
    np.testing.assert_allclose(y, want_y, rtol=1e-3, atol=2e-3)


def test_inputs_of_other_layouts_and_dtypes():
    """A non-contiguous x, parameters of another dtype (cast to x's, as the cpu's fused kernel
    does) and a float64 gy for a float32 x (the result in the common dtype, as the composite)."""
    x, gy, w, b = _draw((6, 4, 5), np.float32, seed=2)
    forward, _ = _fused("batch_norm_forward")
    backward, composite = _fused("batch_norm_backward")
    view = _device(np.ascontiguousarray(x.transpose(2, 1, 0))).transpose(2, 1, 0)
    y, mean, var, invstd = forward(view, _device(w.astype(np.float64)), _device(b), 1e-5)
    assert y.dtype == np.float32
    (want_y, *_), _ = _reference(x, gy, w, b, 1e-5)
    np.testing.assert_allclose(_host(y), want_y, **TOLERANCE[np.float32])
    got = backward(view, _device(gy.astype(np.float64)), mean, invstd, _device(w))
    want = composite(view, _device(gy.astype(np.float64)), mean, invstd, _device(w))
    for g, v in zip(got, want):
        assert g.dtype == v.dtype == np.float64
        np.testing.assert_allclose(_host(g), _host(v), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the composite's 0/0 means
def test_empty_inputs_fall_back_to_the_composite():
    forward, composite = _fused("batch_norm_forward")
    x = _device(np.zeros((0, 3, 4), np.float32))
    got, want = forward(x, None, None, 1e-5), composite(x, None, None, 1e-5)
    for g, v in zip(got, want):
        assert g.shape == v.shape and g.dtype == v.dtype


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 6), (2, 3, 5, 4), (2, 2, 3, 3, 4)])
def test_batch_norm_on_cuda_runs_fused_and_agrees_with_the_cpu(shape):
    x, gy, w, b = _draw(shape, np.float64, offset=1.0, seed=3)
    results = {}
    for device in ("cpu", "cuda"):
        inputs = [eg.tensor(a, device=device, requires_grad=True) for a in (x, w, b)]
        mean, var = eg.zeros(shape[1], device=device), eg.ones(shape[1], device=device)
        with eg.profile() as p:
            y = F.batch_norm(*inputs[:1], mean, var, *inputs[1:], training=True)
            y.backward(eg.tensor(gy, device=device))
        if device == "cuda":
            assert {r["variant"] for r in p.rows() if "batch_norm" in r["op"]} == {"fused"}
        results[device] = [y.numpy(), mean.numpy(), var.numpy()] + [t.grad.numpy() for t in inputs]
    for got, want in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
