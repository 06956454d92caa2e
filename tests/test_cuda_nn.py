"""The fused softmax, log-softmax and cross-entropy kernels of the cuda backend
(kernels/cuda/nn.py), its dropout masks and fused optimizer updates (kernels/cuda/optim.py),
against float64 numpy references and the cpu backend: float32 and float64, rows shorter than a
block's threads (several rows a block), of exactly a block and longer (each lane loops), rows of
one element, class axes that are not last, empty arrays, nan and infinities; one launch and no
host copies each.

In CI it runs in Numba's CUDA simulator (see conftest.py); ENGINE_TEST_GPU=1 runs it on a GPU.
"""
import numpy as np
import pytest

import engine as eg
from engine import backend
from kernels.cuda.device import counted
from kernels.random_bits import MASK, lowbias32

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not eg.cuda.is_available(),
                                                 reason="no cuda device (nor simulator)")]

# (shape, axis): rows of 1, 2, 3, 4, 5, 9 and 300 elements (the simulator's blocks have 4
# threads, a GPU's 256), more rows than a block takes at once, and axes that are not last
CASES = [((7, 1), 1), ((9, 2), 1), ((5, 3), 1), ((6, 4), -1), ((3, 5), 1), ((4, 9), 1),
         ((2, 300), 1), ((13,), 0), ((3, 5, 2), 1), ((4, 3), 0), ((2, 3, 4), -1)]
TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}
DTYPES = [np.float64, np.float32]


def _table():
    return backend.table("cuda")


def _fused(name):
    return _table().variants[name]["fused"]


def _device(a):
    return _table().from_host(np.asarray(a))


def _host(a):
    return _table().to_host(a)


def _log_softmax(x, axis):
    x = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        shifted = x - x.max(axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis, keepdims=True))


def _draw(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (3 * rng.standard_normal(shape)).astype(dtype), rng.standard_normal(shape).astype(dtype)


def _close(got, want, dtype, name=""):
    """Compared relative to the largest |want| (the backward's sums cancel)."""
    scale = max(1.0, np.abs(want).max(initial=0))
    np.testing.assert_allclose(got / scale, want / scale, err_msg=name, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", CASES)
def test_softmax_and_log_softmax_forward_and_backward(shape, axis, dtype):
    x, gy = _draw(shape, dtype)
    axis %= len(shape)
    logp = _log_softmax(x, axis)
    p = np.exp(logp)
    want = {"softmax": p, "log_softmax": logp,
            "softmax_backward": p * (gy - (gy * p).sum(axis, keepdims=True)),
            "log_softmax_backward": gy - p * gy.sum(axis, keepdims=True)}
    for name in ("softmax", "log_softmax"):
        y, made = counted(_fused(name), _device(x), axis)
        assert y.dtype == dtype and y.shape == shape and made == (1, 0), name
        _close(_host(y), want[name], dtype, name)
        g, made = counted(_fused(name + "_backward"), y, _device(gy), axis)
        assert g.dtype == dtype and g.shape == shape and made == (1, 0), name
        _close(_host(g), want[name + "_backward"], dtype, name + "_backward")


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the simulator's inf - inf
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_nan_and_infinite_rows_is_torchs(dtype):
    """A nan or +inf makes its row nan, a row all -inf too; a -inf among finite logits is a zero
    probability (log -inf); large logits do not overflow."""
    x = np.array([[1, np.nan, 2], [-np.inf] * 3, [np.inf, 1, 2], [-np.inf, 0, 1], [1e4, 0, 1e4 - 1],
                  [-1e4, -1e4, -1e4]], dtype)
    logp = _log_softmax(x, 1)
    assert np.isnan(logp[:3]).all() and np.isfinite(logp[4:]).all()
    for name, want in (("softmax", np.exp(logp)), ("log_softmax", logp)):
        got = _host(_fused(name)(_device(x), 1))
        np.testing.assert_allclose(got, want, err_msg=name, **TOLERANCE[dtype])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_non_contiguous_and_empty_inputs(name):
    x, gy = _draw((5, 6), np.float32)
    view = _device(x).T  # the axis last, but strided
    np.testing.assert_allclose(_host(_fused(name)(view, 1)),
                               (np.exp if name == "softmax" else np.asarray)(_log_softmax(x.T, 1)),
                               **TOLERANCE[np.float32])
    for shape, axis in (((0, 4), 1), ((3, 0), 1), ((2, 0, 3), 2)):
        empty = _device(np.zeros(shape, np.float32))
        y, made = counted(_fused(name), empty, axis)
        assert y.shape == shape and y.dtype == np.float32 and made == (0, 0)
        g, made = counted(_fused(name + "_backward"), y, empty, axis)
        assert g.shape == shape and made == (0, 0)


# (logits shape, target dtype): classes of 1, 2, 5, 9 and 300, a class axis that is not last
CE_CASES = [((6, 1), np.int64), ((9, 2), np.int64), ((3, 5), np.int32), ((4, 9), np.int64),
            ((2, 300), np.int64), ((2, 3, 4), np.int64), ((3, 4, 2, 2), np.int32)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, target_dtype", CE_CASES)
def test_cross_entropy_forward_and_backward(shape, target_dtype, dtype):
    x, _ = _draw(shape, dtype)
    rng = np.random.default_rng(1)
    target = rng.integers(0, shape[1], shape[:1] + shape[2:]).astype(target_dtype)
    gy = rng.standard_normal(target.shape).astype(dtype)
    logp = _log_softmax(x, 1)
    onehot = np.arange(shape[1]).reshape((1, -1) + (1,) * (len(shape) - 2)) == target[:, None]
    want_loss = -np.take_along_axis(logp, target[:, None].astype(np.int64), 1)[:, 0]
    (loss, got_logp), made = counted(_fused("cross_entropy"), _device(x), _device(target))
    assert made == (1, 0)
    assert loss.dtype == got_logp.dtype == dtype
    assert loss.shape == target.shape and got_logp.shape == shape
    _close(_host(loss), want_loss, dtype, "loss")
    _close(_host(got_logp), logp, dtype, "logp")
    g, made = counted(_fused("cross_entropy_backward"), got_logp, _device(target),
                          _device(gy))
    assert made == (1, 0) and g.dtype == dtype and g.shape == shape
    _close(_host(g), (np.exp(logp) - onehot) * np.expand_dims(gy, 1), dtype, "grad")


def test_cross_entropy_of_an_empty_batch_and_a_broadcast_gradient():
    x = _device(np.zeros((0, 4), np.float32))
    target = _device(np.zeros(0, np.int64))
    (loss, logp), made = counted(_fused("cross_entropy"), x, target)
    assert loss.shape == (0,) and logp.shape == (0, 4) and made == (0, 0)
    g = _fused("cross_entropy_backward")(logp, target, _device(np.zeros(0, np.float32)))
    assert g.shape == (0, 4)
    # the gradient of a mean arrives broadcast (read-only, stride 0) and in another dtype
    from kernels.cuda.device import xp
    x, _ = _draw((5, 3), np.float32)
    target = np.array([0, 2, 1, 1, 0])
    _, logp = _fused("cross_entropy")(_device(x), _device(target))
    gy = xp.broadcast_to(_device(np.float64(0.2)), (5,))
    g = _fused("cross_entropy_backward")(logp, _device(target), gy)
    assert g.dtype == np.float32
    want = (np.exp(_log_softmax(x, 1)) - (np.arange(3) == target[:, None])) * 0.2
    _close(_host(g), want, np.float32)


def test_cross_entropy_on_cuda_agrees_with_the_cpu_through_the_engine():
    x, _ = _draw((6, 5), np.float32)
    target = np.array([4, 0, 1, 3, 2, 2])
    results = {}
    for device in ("cpu", "cuda"):
        logits = eg.tensor(x, device=device, requires_grad=True)
        loss = eg.nn.functional.cross_entropy(logits, eg.tensor(target, device=device))
        loss.backward()
        results[device] = loss.numpy(), logits.grad.numpy()
    for got, want in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_dropout_masks_are_the_cpus_bit_for_bit(dtype):
    for p in (0.1, 0.5, 0.9, 1e-12) + ((1 - 1e-9,) if dtype != np.float16 else ()):
        got = _host(_table().dropout_mask((5, 7), p, 123, dtype))
        want = backend.table("cpu").dropout_mask((5, 7), p, 123, dtype)
        assert got.dtype == want.dtype == dtype and np.array_equal(got, want), p
    assert _host(_table().dropout_mask((0, 3), 0.5, 1, np.float32)).shape == (0, 3)


def test_dropout_keeps_an_element_whose_uniform_number_is_exactly_p():
    """The kernel compares hashes with ceil(p 2^32): an element at exactly p is kept (>=), one
    just above p is kept, one just below is dropped."""
    seed = 7
    hashes = [lowbias32((i + lowbias32(seed)) & MASK) for i in range(12)]
    for i, h in enumerate(hashes):
        for p, kept in ((h / 2 ** 32, True), ((h + 0.5) / 2 ** 32, False),
                        ((h - 0.5) / 2 ** 32, True)):
            if not 0 < p < 1:
                continue
            got = _host(_table().dropout_mask((12,), p, seed, np.float64))
            assert (got[i] != 0) == kept, (i, p)
            assert np.array_equal(got, backend.table("cpu").dropout_mask((12,), p, seed,
                                                                         np.float64))


SGD = [dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
       dict(lr=0.05, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=True),
       dict(lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.0, nesterov=False),
       dict(lr=0.2, momentum=0.0, dampening=0.0, weight_decay=0.1, nesterov=False)]
ADAM = [dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0),
        dict(lr=0.1, beta1=0.5, beta2=0.9, eps=1e-3, weight_decay=0.1)]
STEP_TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=1e-7)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, hyper", [("sgd_step", h) for h in SGD]
                         + [("adam_step", h) for h in ADAM])
def test_fused_optimizer_steps_match_the_cpus_composite_in_the_parameters_dtype(kind, hyper,
                                                                                 dtype):
    rng = np.random.default_rng(2)
    p0 = rng.standard_normal(11).astype(dtype)
    grads = [rng.standard_normal(11).astype(dtype) for _ in range(3)]
    composite = backend.table("cpu").variants[kind]["composite"]
    cpu_p, gpu_p = p0.copy(), _device(p0)
    cpu_state, gpu_state = (None, None), (None, None)
    for step, g in enumerate(grads, 1):
        if kind == "sgd_step":
            cpu_state = (composite(cpu_p, g, cpu_state[0], **hyper),)
            gpu_state, made = counted(_fused(kind), gpu_p, _device(g), gpu_state[0],
                                          *hyper.values())
            gpu_state = (gpu_state,)
        else:
            cpu_state = composite(cpu_p, g, *cpu_state, step, **hyper)
            gpu_state, made = counted(_fused(kind), gpu_p, _device(g), *gpu_state, step,
                                          *hyper.values())
        assert made == (1, 0)
        assert gpu_p.dtype == dtype
        np.testing.assert_allclose(_host(gpu_p), cpu_p, **STEP_TOLERANCE[dtype])
        for got, want in zip(gpu_state, cpu_state):
            assert (got is None) == (want is None)
            if got is not None:
                assert got.dtype == dtype
                np.testing.assert_allclose(_host(got), want, **STEP_TOLERANCE[dtype])


def test_sgd_without_weight_decay_leaves_an_infinite_parameter_infinite():
    """0 * inf is nan: the decay term is skipped when weight_decay is 0, as the composite does."""
    p = _device(np.array([np.inf, 1.0], np.float32))
    _fused("sgd_step")(p, _device(np.array([1.0, 1.0], np.float32)), None, 0.1, 0.0, 0.0, 0.0,
                       False)
    assert _host(p)[0] == np.inf and np.isclose(_host(p)[1], 0.9)
