"""The seam between the graph and the kernels: kernels/ stands alone, every backend provides the
declared primitives with their signatures, and fused kernels agree with the composites they
override."""
import inspect
import subprocess
import sys

import numpy as np
import pytest

import engine as eg
import kernels
from engine import backend
from engine.check.catalog import BY_NAME, RandomDrawer
from kernels import composite, contract

DEVICES = [d for d in backend.DEVICES if backend.is_available(d)]


def test_kernels_import_nothing_from_the_engine():
    code = ("import sys, kernels.cpu, kernels.cuda, kernels.reference\n"
            "loaded = sorted(m for m in sys.modules if m == 'engine' or m.startswith('engine.'))\n"
            "assert not loaded, loaded\n"
            "assert 'kernels.cuda' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"NUMBA_ENABLE_CUDASIM": "1", "PATH": ""}, timeout=120)
    assert done.returncode == 0, done.stderr


def _parameters(f):
    return list(inspect.signature(f).parameters)


@pytest.mark.parametrize("device", DEVICES)
def test_every_backend_provides_every_primitive_with_its_signature(device):
    k = backend.table(device)
    package = sys.modules[backend.PACKAGES[device]]
    for name in contract.PRIMITIVES:
        assert callable(getattr(package, name, None)), f"{device} lacks the primitive {name}"
        assert _parameters(getattr(package, name)) == _parameters(getattr(contract, name)), name
    for family, interface in contract.FAMILIES.items():
        for variant, implementation in k.variants[family].items():
            pairs = zip(implementation, interface) if isinstance(interface, tuple) else \
                [(implementation, interface)]
            for got, declared in pairs:
                assert _parameters(got) == _parameters(declared), (family, variant)
    for family, implementations in k.variants.items():
        if family in composite.COMPOSITES:  # a fused override takes the composite's arguments
            for variant, implementation in implementations.items():
                want = _parameters(getattr(composite, family))[1:]
                got = _parameters(implementation)
                assert got == want or variant == "composite", (family, variant, got, want)


def test_a_package_missing_a_primitive_is_refused_by_name():
    package = type(sys)("kernels.half_done")
    package.VARIANTS = {}
    package.add = lambda a, b: a + b
    with pytest.raises(ImportError, match=r"kernels.half_done does not provide the primitives \['from_host'"):
        kernels.KernelTable(package)


def test_composites_are_the_tables_attributes_unless_a_backend_fuses_them():
    for device in DEVICES:
        k = backend.table(device)
        for name in composite.COMPOSITES:
            default = getattr(k, name)
            if name in k.variants:
                assert k.variants[name]["composite"] is not default
                assert next(iter(k.variants[name].values())) is default
            else:
                assert default.func is getattr(composite, name)


OVERRIDABLE_CASES = ("softmax", "log_softmax", "cross_entropy", "relu", "leaky_relu", "sigmoid", "tanh",
                     "batch_norm_train")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case_name", OVERRIDABLE_CASES)
def test_fused_kernels_agree_with_the_composites_they_override(device, case_name):
    k = backend.table(device)
    fused = [f for f in k.variants if f in composite.COMPOSITES]
    case = BY_NAME[case_name]
    arrays, params = case.draw(RandomDrawer(np.random.default_rng(3), side=3))

    def run(**choices):
        inputs = [eg.tensor(a, device=device, requires_grad=True) for a in arrays]
        with eg.use_variant(**choices):
            y = case.fn(*inputs, **params)
            y.backward(eg.tensor(np.ones(y.shape), device=device))
        return [y.numpy()] + [t.grad.numpy() for t in inputs]

    for got, want in zip(run(), run(**{f: "composite" for f in fused})):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    if case_name in k.variants:
        with eg.profile() as p:
            run()
        assert any(r["variant"] == "fused" for r in p.rows())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fused_optimizer_steps_agree_with_the_composite(device, optimizer):
    rng = np.random.default_rng(0)
    p0, grads = rng.standard_normal((3, 4)), [rng.standard_normal((3, 4)) for _ in range(3)]

    def run(choice):
        p = eg.nn.Parameter(eg.tensor(p0, device=device))
        opt = (eg.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)
               if optimizer == "sgd" else eg.optim.Adam([p], lr=0.1, weight_decay=0.01))
        with eg.use_variant(**{f"{optimizer}_step": choice}):
            for g in grads:
                p.grad = eg.tensor(g, device=device)
                opt.step()
        return p.numpy()

    np.testing.assert_allclose(run("fused"), run("composite"), rtol=1e-12, atol=1e-14)


def test_unknown_variants_name_what_there_is():
    x, w = eg.randn(1, 2, 5, 5), eg.randn(2, 2, 3, 3)
    with pytest.raises(eg.VariantError, match="no variant 'fast'.*auto, fused, shifted, im2col, winograd, direct"):
        eg.nn.functional.conv2d(x, w, variant="fast")
    with pytest.raises(ValueError, match="conv2d: no variant 'fast'"):
        with eg.use_variant(conv2d="fast"):
            eg.nn.functional.conv2d(x, w)


def test_devices_are_known_in_one_place():
    assert backend.why_unavailable("tpu").startswith("unknown device 'tpu'")
    with pytest.raises(eg.DeviceError, match="unknown device 'tpu'"):
        eg.zeros(2, device="tpu")
    assert backend.why_unavailable("cpu") is None and backend.simulated("cpu") is False


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_one_pass_kernels_agree_with_their_composites_past_the_small_size(dtype):
    """The C++ kernels run from kernels.cpu.fused.SMALL elements up (numpy below)."""
    from kernels.cpu import fused
    k = backend.table("cpu")
    rng = np.random.default_rng(0)
    shape = (3, 5, 17, 23)
    assert np.prod(shape) >= fused.SMALL
    x, gy = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    x[0, 0, 0, :3] = [0.0, np.nan, -np.inf]
    y = np.tanh(x)
    w, b = rng.standard_normal(5).astype(dtype), rng.standard_normal(5).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    calls = {"relu_backward": (x, gy), "leaky_relu": (x, 0.1), "leaky_relu_backward": (x, gy, 0.1),
             "sigmoid_backward": (y, gy), "tanh_backward": (y, gy)}
    for name, args in calls.items():
        got, want = k.variants[name]["fused"](*args), k.variants[name]["composite"](*args)
        assert got.dtype == want.dtype == dtype, name
        np.testing.assert_allclose(got, want, equal_nan=True, err_msg=name, **tol)
    np.testing.assert_array_equal(k.relu(x), np.maximum(x, 0))
    wide = x * 30  # past exp's range both ways: no overflow, exact 0 and 1 limits
    with np.errstate(over="ignore"):
        exact = 1 / (1 + np.exp(-wide.astype(np.float64)))
    assert k.sigmoid(wide).dtype == dtype
    np.testing.assert_allclose(k.sigmoid(wide), exact, equal_nan=True, **tol)
    for axis in range(x.ndim):  # rows of the last axis, and across rows (inner > 1)
        for name in ("softmax", "log_softmax"):  # the row with a nan is nan, -inf gives 0
            got, want = (k.variants[name][v](x, axis) for v in ("fused", "composite"))
            np.testing.assert_allclose(got, want, equal_nan=True, err_msg=name, **tol)
            backward = k.variants[name + "_backward"]
            got, want = (backward[v](want, gy, axis) for v in ("fused", "composite"))
            np.testing.assert_allclose(got, want, equal_nan=True, err_msg=name, **tol)
    x = np.nan_to_num(x, neginf=-3.0)
    got = k.variants["batch_norm_forward"]["fused"](x, w, b, 1e-5)
    want = k.variants["batch_norm_forward"]["composite"](x, w, b, 1e-5)
    for g, v in zip(got, want):
        np.testing.assert_allclose(g, v, **tol)
    mean, invstd = want[1], want[3]
    got = k.variants["batch_norm_backward"]["fused"](x, gy, mean, invstd, w)
    want = k.variants["batch_norm_backward"]["composite"](x, gy, mean, invstd, w)
    for g, v in zip(got, want):
        np.testing.assert_allclose(g, v, **tol)
