"""What the catalogue cannot check of the activations: torch's slopes at the kinks, large |x|,
dtypes, empty tensors, argument errors and the layers."""
import numpy as np
import pytest

import engine as eg
import kernels.reference as ref

F, nn = eg.nn.functional, eg.nn
DEVICES = ["cpu", "cuda"]


def grad_at(name, points, device="cpu", dtype=np.float64, **params):
    x = eg.tensor(np.array(points, dtype), device=device, requires_grad=True)
    getattr(F, name)(x, **params).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize("device", DEVICES)
def test_slopes_at_the_kinks_are_torchs(device):
    assert np.array_equal(grad_at("hardtanh", [-1, 1, 0], device), [0, 0, 1])
    assert np.array_equal(grad_at("relu6", [0, 6, 3], device), [0, 0, 1])
    assert np.allclose(grad_at("hardsigmoid", [-3, 3, 0], device), [0, 0, 1 / 6])
    assert np.allclose(grad_at("hardswish", [-3, 3, -4, 4], device), [-0.5, 1.5, 0, 1])
    assert np.array_equal(grad_at("softshrink", [-0.5, 0.5, 0.7], device), [0, 0, 1])
    assert np.array_equal(grad_at("hardshrink", [-0.5, 0.5, 0.7], device), [0, 0, 1])
    assert np.array_equal(grad_at("threshold", [1, 1.5], device, threshold=1, value=3),
                          [0, 1])
    assert np.allclose(grad_at("elu", [0], device, alpha=0.5), [0.5])
    assert np.allclose(grad_at("selu", [0], device), [1.0507009873554805 * 1.6732632423543772])
    assert np.allclose(grad_at("softplus", [0, 20, 20.5], device),
                       [0.5, 1 / (1 + np.exp(-20)), 1])


@pytest.mark.parametrize("name", ["softplus", "logsigmoid", "mish", "silu", "gelu", "elu",
                                  "celu", "selu", "softsign", "tanhshrink"])
def test_large_inputs_stay_finite_with_exact_values(name):
    points = [-1000.0, -80.0, 80.0, 1000.0]
    for dtype in (np.float32, np.float64):
        x = eg.tensor(np.array(points, dtype), requires_grad=True)
        y = getattr(F, name)(x)
        y.sum().backward()
        assert y.dtype == dtype and np.isfinite(x.grad.numpy()).all()
        assert np.allclose(y.numpy(), getattr(ref, name)(points), rtol=1e-6)


def test_gelu_tanh_and_softplus_parameters_match_the_references():
    x = np.linspace(-3, 3, 13)
    assert np.allclose(F.gelu(eg.tensor(x), approximate="tanh").numpy(), ref.gelu(x, "tanh"))
    assert np.allclose(F.softplus(eg.tensor(x), beta=2, threshold=1).numpy(),
                       ref.softplus(x, 2.0, 1.0))
    with pytest.raises(eg.ArgumentError, match="gelu.*approximate"):
        F.gelu(eg.tensor(x), approximate="erf")


@pytest.mark.parametrize("device", DEVICES)
def test_zero_size_inputs(device):
    x = eg.zeros((2, 0, 3), device=device)
    for name in ["gelu", "silu", "mish", "softplus", "hardswish", "logsigmoid", "softshrink"]:
        assert getattr(F, name)(x).shape == (2, 0, 3)
    assert F.softmin(x, dim=2).shape == (2, 0, 3)
    assert F.glu(eg.zeros((0, 4), device=device)).shape == (0, 2)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_softmax_family_of_an_empty_tensor_along_any_dim(device, dim):
    """Along the empty dim too, where there is no row maximum to subtract."""
    x = eg.zeros((2, 0, 3), device=device, requires_grad=True)
    for f in (F.softmax, F.log_softmax, F.softmin):
        y = f(x, dim=dim)
        y.sum().backward()
        assert y.shape == x.grad.shape == (2, 0, 3)


def test_softmin_and_glu_take_axis_and_the_layers_their_dim():
    x = np.random.default_rng(0).uniform(-2, 2, (2, 4))
    assert np.allclose(F.softmin(eg.tensor(x), axis=0).numpy(), ref.softmin(x, 0))
    assert np.allclose(F.glu(eg.tensor(x), axis=1).numpy(), ref.glu(x, 1))
    assert np.allclose(nn.Softmin(dim=1)(eg.tensor(x)).numpy(), ref.softmin(x, 1))
    with pytest.warns(UserWarning, match="softmax: implicit dimension.*dim=1"):
        assert np.allclose(nn.Softmax()(eg.tensor(x)).numpy(), ref.softmin(-x, 1))
    assert np.allclose(nn.LogSoftmax(0)(eg.tensor(x)).numpy(), np.log(ref.softmin(-x, 0)))
    assert np.allclose(nn.GLU(0)(eg.tensor(x)).numpy(), ref.glu(x, 0))


def test_argument_errors_name_the_op():
    x = eg.tensor([[1.0, 2.0, 3.0]])
    with pytest.raises(eg.ShapeError, match="glu.*even"):
        F.glu(x)
    with pytest.raises(eg.ShapeError, match="prelu.*3 channels"):
        F.prelu(x, eg.tensor([0.1, 0.2]))
    with pytest.raises(eg.ArgumentError, match="softshrink.*lambd"):
        F.softshrink(x, -1)
    with pytest.raises(eg.ArgumentError, match="hardtanh"):
        F.hardtanh(x, 1.0, -1.0)
    with pytest.raises(eg.DTypeError, match="gelu.*int64"):
        F.gelu(eg.tensor([1, 2]))
    with pytest.raises(eg.ArgumentError, match="ELU.*alpha"):
        nn.ELU(alpha=float("nan"))
    with pytest.raises(eg.ArgumentError, match="PReLU.*num_parameters"):
        nn.PReLU(0)


@pytest.mark.parametrize("device", DEVICES)
def test_prelu_learns_one_slope_per_channel(device):
    layer = nn.PReLU(3).to(device)
    assert np.array_equal(layer.weight.numpy(), np.full(3, 0.25, np.float32))
    x = np.array([[[-1.0, 2.0], [-3.0, -4.0], [5.0, -6.0]]], np.float32)
    y = layer(eg.tensor(x, device=layer.weight.device))
    assert np.allclose(y.numpy(), ref.prelu(x, np.full(3, 0.25)))
    y.sum().backward()
    assert np.allclose(layer.weight.grad.numpy(), [-1, -7, -6])
    assert np.allclose(F.prelu(eg.tensor([-2.0, 1.0]), eg.tensor([0.5])).numpy(), [-1, 1])


def test_layers_apply_their_functions_with_torchs_defaults_and_repr():
    x = eg.tensor(np.linspace(-4, 4, 9))
    layers = {nn.ReLU(): ("relu", {}), nn.Sigmoid(): ("sigmoid", {}), nn.Tanh(): ("tanh", {}),
              nn.LeakyReLU(0.2): ("leaky_relu", {"negative_slope": 0.2}),
              nn.GELU(approximate="tanh"): ("gelu", {"approximate": "tanh"}),
              nn.SiLU(): ("silu", {}), nn.Mish(): ("mish", {}), nn.ELU(): ("elu", {}),
              nn.CELU(0.5): ("celu", {"alpha": 0.5}), nn.SELU(): ("selu", {}),
              nn.Softplus(beta=2): ("softplus", {"beta": 2.0}), nn.Softsign(): ("softsign", {}),
              nn.Hardtanh(-2, 2): ("hardtanh", {"min_val": -2.0, "max_val": 2.0}),
              nn.ReLU6(): ("relu6", {}), nn.Hardsigmoid(): ("hardsigmoid", {}),
              nn.Hardswish(): ("hardswish", {}), nn.LogSigmoid(): ("logsigmoid", {}),
              nn.Tanhshrink(): ("tanhshrink", {}), nn.Softshrink(): ("softshrink", {}),
              nn.Hardshrink(1.0): ("hardshrink", {"lambd": 1.0}),
              nn.Threshold(0.5, -1): ("threshold", {"threshold": 0.5, "value": -1.0})}
    for layer, (name, params) in layers.items():
        assert np.array_equal(layer(x).numpy(), getattr(F, name)(x, **params).numpy()), name
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.PReLU()) == "PReLU(num_parameters=1)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"


def test_torch_level_names_and_methods():
    x = eg.tensor([-1.0, 0.25, 2.0])
    assert np.array_equal(x.hardshrink().numpy(), [-1, 0, 2])
    assert np.array_equal(eg.threshold(x, 0.5, 9.0).numpy(), [9, 9, 2])
    assert np.allclose(eg.selu(x).numpy(), ref.selu(x.numpy()))


@pytest.mark.parametrize("device", DEVICES)
def test_hardtanh_relu6_and_threshold_keep_integer_dtypes(device):
    x = eg.tensor(np.array([-2, 0, 1, 3, 8], np.int32), device=device)
    for y, expected in [(F.relu6(x), [0, 0, 1, 3, 6]),
                        (F.hardtanh(x, -1.5, 2.7), [-1, 0, 1, 2, 2]),  # bounds truncated
                        (F.threshold(x, 0.9, -7.5), [-7, -7, 1, 3, 8])]:
        assert y.dtype == np.int32 and np.array_equal(y.numpy(), expected)
    with pytest.raises(eg.DTypeError, match="relu6.*bool"):
        F.relu6(eg.tensor([True, False]))
    with pytest.raises(eg.DTypeError, match="hardsigmoid.*int32"):
        F.hardsigmoid(x)


def test_softmax_family_takes_dtype_and_torchs_deprecated_implicit_dim():
    x = np.random.default_rng(1).uniform(-2, 2, (2, 3))
    for name, reference in [("softmax", ref.softmin(-x, 1)), ("softmin", ref.softmin(x, 1)),
                            ("log_softmax", np.log(ref.softmin(-x, 1)))]:
        with pytest.warns(UserWarning, match=f"{name}: implicit dimension.*dim=1"):
            y = getattr(F, name)(eg.tensor(x.astype(np.float32)), dtype=np.float64)
        assert y.dtype == np.float64 and np.allclose(y.numpy(), reference)
    with pytest.warns(UserWarning, match="dim=0"):
        assert np.allclose(F.softmax(eg.tensor(x[0])).numpy(), ref.softmin(-x[0], 0))
    assert np.allclose(F.softmin(eg.tensor(np.array([3, 1])), 0, dtype=np.float64).numpy(),
                       ref.softmin(np.array([3.0, 1.0]), 0))


def test_inplace_is_accepted_only_as_false():
    x = eg.tensor([-1.0, 2.0])
    assert np.array_equal(F.relu(x, inplace=False).numpy(), [0, 2])
    assert np.array_equal(nn.ReLU(False)(x).numpy(), [0, 2])
    assert repr(nn.ELU(0.5, False)) == "ELU(alpha=0.5)"
    assert nn.Hardtanh(inplace=False).inplace is False
    for call in [lambda: F.elu(x, inplace=True), lambda: F.hardswish(x, True),
                 lambda: nn.ReLU(True), lambda: nn.Threshold(0.1, 0.0, inplace=True)]:
        with pytest.raises(eg.ArgumentError, match="inplace=True"):
            call()
    with pytest.raises(eg.ArgumentError, match="GELU.*inplace"):
        nn.GELU(inplace=False)  # torch's GELU has no inplace=
