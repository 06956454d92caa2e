"""conv1d / conv3d and their transposes beyond the catalogue: agreement with conv2d on a unit
axis, padding='same'/'valid', the layers (shapes, init, padding modes, output_size), errors,
and the C++ vol2col / col2vol."""
import numpy as np
import pytest

import engine as eg
import kernels.cpu.conv as cpu_conv
import kernels.reference as ref
from engine import nn
from engine.nn import functional as F
from kernels.cpu import _cpp


def rand(*shape, seed=0, grad=False):
    return eg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=grad)


def t(*shape, dtype=np.float32):
    return eg.tensor(np.ones(shape, dtype))


def _run(fn, *tensors):
    """fn's value and the gradients of a fixed random projection of it."""
    for x in tensors:
        x.grad = None
    y = fn(*tensors)
    y.backward(np.random.default_rng(9).standard_normal(y.shape))
    return y.numpy(), [x.grad.numpy() for x in tensors]


UNIT = {"stride": 1, "dilation": 1, "padding": 0, "output_padding": 0, "groups": None}


def _on_axes(params, axes, dims):
    """Geometry pairs as `dims`-tuples: value i of a pair on axis axes[i], a unit elsewhere."""
    out = {}
    for name, pair in params.items():
        if UNIT[name] is None:
            out[name] = pair
            continue
        values = [UNIT[name]] * dims
        for axis, v in zip(axes, pair):
            values[axis] = v
        out[name] = tuple(values)
    return out


@pytest.mark.parametrize("transposed", [False, True])
def test_1d_and_3d_agree_with_2d_on_a_unit_axis_with_gradients(transposed):
    params = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    if transposed:
        params["output_padding"] = (1, 0)
    f1, f2, f3 = (getattr(F, f"conv{'_transpose' if transposed else ''}{n}d") for n in (1, 2, 3))
    x, w = rand(2, 4, 5, 6, grad=True), rand(4, 2, 3, 2, seed=1, grad=True)
    b = rand(4, seed=2, grad=True)
    y2, g2 = _run(lambda x, w, b: f2(x, w, b, **params), x, w, b)
    # a unit depth in front of (H, W)
    three = _on_axes(params, (1, 2), 3)
    y3, g3 = _run(lambda x, w, b: f3(x.reshape(2, 4, 1, 5, 6), w.reshape(4, 2, 1, 3, 2), b,
                                     **three), x, w, b)
    np.testing.assert_allclose(y3.reshape(y2.shape), y2, atol=1e-12)
    for got, want in zip(g3, g2):
        np.testing.assert_allclose(got, want, atol=1e-12)
    # a line as the rows of a unit-height image; its geometry is that of the W axis
    x1, w1 = rand(2, 4, 7, seed=3, grad=True), rand(4, 2, 3, seed=4, grad=True)
    one = {k: v if UNIT[k] is None else v[1:] for k, v in params.items()}
    two = _on_axes(one, (1,), 2)
    y1, g1 = _run(lambda x, w, b: f1(x, w, b, **one), x1, w1, b)
    y2, g2 = _run(lambda x, w, b: f2(x.reshape(2, 4, 1, 7), w.reshape(4, 2, 1, 3), b, **two),
                  x1, w1, b)
    np.testing.assert_allclose(y1, y2.reshape(y1.shape), atol=1e-12)
    for got, want in zip(g1, g2):
        np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("kernel, dilation", [(3, 1), (2, 1), (4, 1), (2, 3)])
def test_same_padding_keeps_the_size_and_puts_the_odd_zero_after(dims, kernel, dilation):
    x, w = rand(1, 2, *(5, 4, 3)[:dims]), rand(3, 2, *(kernel,) * dims, seed=1)
    conv = getattr(F, f"conv{dims}d")
    y = conv(x, w, padding="same", dilation=dilation)
    assert y.shape == (1, 3) + x.shape[2:]
    np.testing.assert_allclose(y.numpy(), ref.conv_nd(x.numpy(), w.numpy(), padding="same",
                                                      dilation=dilation), atol=1e-12)
    # torch's split of d (k - 1): floor of half before, the rest after
    total = dilation * (kernel - 1)
    padded = np.pad(x.numpy(), [(0, 0)] * 2 + [(total // 2, total - total // 2)] * dims)
    np.testing.assert_allclose(y.numpy(), ref.conv_nd(padded, w.numpy(), dilation=dilation),
                               atol=1e-12)
    valid = conv(x, w, padding="valid", dilation=dilation) if min(x.shape[2:]) > total else None
    if valid is not None:
        np.testing.assert_array_equal(valid.numpy(), conv(x, w, dilation=dilation).numpy())


def test_same_padding_of_an_empty_batch_and_its_gradients():
    x = eg.tensor(np.ones((0, 2, 5), np.float32), requires_grad=True)
    w = eg.tensor(np.ones((3, 2, 2), np.float32), requires_grad=True)
    y = F.conv1d(x, w, padding="same")
    assert y.shape == (0, 3, 5)
    y.sum().backward()
    assert x.grad.shape == x.shape and not w.grad.numpy().any()


def test_conv3d_runs_on_its_own_variants_and_chunks_agree(monkeypatch):
    x, w = rand(3, 2, 4, 3, 5, grad=True), rand(4, 2, 2, 3, 2, seed=1, grad=True)
    with eg.profile() as p, eg.use_variant(conv3d="im2col"):
        whole = _run(lambda x, w: F.conv3d(x, w, padding=1, stride=(1, 2, 1)), x, w)
    assert "conv3d[im2col]" in {r["name"] for r in p.rows()}
    with eg.profile() as p:
        fused = _run(lambda x, w: F.conv3d(x, w, padding=1, stride=(1, 2, 1)), x, w)
    assert {r["name"] for r in p.rows() if r["name"].startswith("conv3d")} == {"conv3d[fused]"}
    monkeypatch.setattr(cpu_conv, "COLUMN_BUDGET", 2 * 24 * 60 * 8)  # two volumes a chunk
    with eg.use_variant(conv3d="im2col"):
        chunked = _run(lambda x, w: F.conv3d(x, w, padding=1, stride=(1, 2, 1)), x, w)
    for other in (chunked, fused):
        for got, want in zip([other[0]] + other[1], [whole[0]] + whole[1]):
            np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(whole[0], ref.conv3d(x.numpy(), w.numpy(), None, (1, 2, 1), 1),
                               atol=1e-12)
    with pytest.raises(ValueError, match="conv3d: no variant 'winograd' on this device; variants: "
                                         "fused, im2col"):
        F.conv3d(x, w, variant="winograd")
    with eg.use_variant(conv2d="direct"):  # conv1d runs on the conv2d variants
        np.testing.assert_allclose(F.conv1d(rand(2, 3, 6), rand(2, 3, 3)).numpy(),
                                   ref.conv1d(rand(2, 3, 6).numpy(), rand(2, 3, 3).numpy()),
                                   atol=1e-12)


# --- layers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, x_shape, weight, y_shape", [
    (lambda: nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2), (2, 4, 9), (6, 2, 3), (2, 6, 5)),
    (lambda: nn.Conv3d(2, 4, (1, 3, 2), padding=(0, 1, 0)), (1, 2, 3, 4, 5), (4, 2, 1, 3, 2),
     (1, 4, 3, 4, 4)),
    (lambda: nn.Conv3d(2, 3, 3, padding="same", padding_mode="circular", bias=False),
     (1, 2, 3, 3, 4), (3, 2, 3, 3, 3), (1, 3, 3, 3, 4)),
    (lambda: nn.ConvTranspose1d(4, 6, 3, stride=2, output_padding=1, groups=2), (2, 4, 5),
     (4, 3, 3), (2, 6, 12)),
    (lambda: nn.ConvTranspose3d(2, 4, 2, stride=2), (1, 2, 2, 3, 1), (2, 4, 2, 2, 2),
     (1, 4, 4, 6, 2)),
])
def test_layer_shapes_and_torchs_init(layer, x_shape, weight, y_shape):
    eg.manual_seed(0)
    m = layer()
    assert m.weight.shape == weight and m.weight.dtype == np.float32
    fan_in = weight[1] * int(np.prod(weight[2:]))
    bound = 1 / np.sqrt(fan_in)
    assert np.abs(m.weight.numpy()).max() <= bound and np.abs(m.weight.numpy()).max() > bound / 2
    if m.bias is not None:
        assert m.bias.shape == (y_shape[1],) and np.abs(m.bias.numpy()).max() <= bound
    y = m(eg.tensor(np.ones(x_shape, np.float32)))
    assert y.shape == y_shape


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "zeros"])
@pytest.mark.parametrize("dims, padding", [(1, 2), (2, (1, 2)), (3, 1), (2, "same"), (3, "valid")])
def test_padding_modes_match_the_reference(dims, padding, mode):
    eg.manual_seed(1)
    layer = getattr(nn, f"Conv{dims}d")(2, 3, 2 if padding == "same" else 3, padding=padding,
                                         padding_mode=mode, dtype=np.float64)
    x = rand(1, 2, *(5, 4, 3)[:dims], seed=2, grad=True)
    y = layer(x)
    want = ref.conv_padding_mode(x.numpy(), layer.weight.numpy(), layer.bias.numpy(),
                                 padding=padding, padding_mode=mode)
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)
    y.sum().backward()
    assert x.grad.shape == x.shape and layer.weight.grad.shape == layer.weight.shape


def test_conv_transpose_output_size_picks_the_output_padding():
    up = nn.ConvTranspose3d(2, 1, 3, stride=(2, 3, 1), padding=1, dtype=np.float64)
    x = rand(1, 2, 2, 3, 2)
    assert up(x).shape == (1, 1, 3, 7, 2)
    y = up(x, output_size=(4, 9, 2))
    assert y.shape == (1, 1, 4, 9, 2)
    np.testing.assert_allclose(y.numpy(), ref.conv_transpose3d(
        x.numpy(), up.weight.numpy(), up.bias.numpy(), (2, 3, 1), 1, (1, 2, 0)), atol=1e-12)
    assert up(x, output_size=(1, 1, 3, 8, 2)).shape == (1, 1, 3, 8, 2)
    with pytest.raises(eg.ArgumentError, match=r"requested an output size of \(5, 9, 2\), but "
                                               r"valid sizes range from \(3, 7, 2\) to \(4, 9, 2\)"):
        up(x, output_size=(5, 9, 2))
    with pytest.raises(eg.ArgumentError, match="output_size must have 3 or 5 elements"):
        up(x, output_size=(4, 9))


def test_layer_repr_as_torch():
    assert repr(nn.Conv1d(2, 4, 3)) == "Conv1d(2, 4, kernel_size=(3,), stride=(1,))"
    assert repr(nn.Conv3d(2, 4, 3, padding="same", padding_mode="reflect", bias=False)) == (
        "Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=same, bias=False, "
        "padding_mode=reflect)")
    assert repr(nn.ConvTranspose1d(2, 4, 3, stride=2, output_padding=1, groups=2)) == (
        "ConvTranspose1d(2, 4, kernel_size=(3,), stride=(2,), output_padding=(1,), groups=2)")


# --- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, message", [
    (lambda: F.conv1d(t(1, 2, 5, 5), t(3, 2, 3)), eg.ShapeError,
     r"conv1d: expected input \(N, C, L\) and a 3-D weight, got shapes \(1, 2, 5, 5\)"),
    (lambda: F.conv3d(t(1, 2, 5, 5), t(3, 2, 3, 3, 3)), eg.ShapeError,
     r"conv3d: expected input \(N, C, D, H, W\) and a 5-D weight"),
    (lambda: F.conv_transpose3d(t(1, 2, 5, 5, 5), t(2, 3, 3, 3)), eg.ShapeError, r"5-D weight"),
    (lambda: F.conv3d(t(1, 3, 4, 4, 4), t(2, 2, 1, 1, 1)), eg.ShapeError,
     r"conv3d: input has 3 channels but weight expects 2 \(groups=1\)"),
    (lambda: F.conv1d(t(1, 4, 4), t(3, 2, 1), groups=2), eg.ShapeError,
     r"conv1d: weight has 3 output channels, not divisible by groups=2"),
    (lambda: F.conv_transpose1d(t(1, 3, 4), t(2, 3, 1)), eg.ShapeError,
     r"conv_transpose1d: input has 3 channels but weight of shape \(2, 3, 1\) expects 2"),
    (lambda: F.conv3d(t(1, 1, 4, 4, 4), t(1, 1, 3, 3, 3), stride=(1, 2, 1), padding="same"),
     eg.ArgumentError, r"conv3d: padding='same' is not supported for strided convolutions"),
    (lambda: F.conv1d(t(1, 1, 4), t(1, 1, 3), padding="full"), eg.ArgumentError,
     r"conv1d: Invalid padding string 'full', should be one of \{'valid', 'same'\}"),
    (lambda: F.conv_transpose1d(t(1, 1, 4), t(1, 1, 3), padding="same"), eg.ShapeError,
     r"conv_transpose1d: padding must be an int or a tuple of 1 ints, got 'same'"),
    (lambda: F.conv3d(t(1, 1, 4, 4, 4), t(1, 1, 3, 3, 3), stride=(1, 2)), eg.ShapeError,
     r"conv3d: stride must be an int or a tuple of 3 ints, got \(1, 2\)"),
    (lambda: F.conv3d(t(1, 1, 4, 4, 4), t(1, 1, 3, 3, 3), dilation=(1, True, 1)), eg.ShapeError,
     r"dilation must be an int or a tuple of 3 ints"),
    (lambda: F.conv3d(t(1, 1, 4, 4, 4), t(1, 1, 3, 3, 3), padding=(0, -1, 0)), eg.ShapeError,
     r"conv3d: padding must be at least 0"),
    (lambda: F.conv3d(t(1, 1, 2, 4, 4), t(1, 1, 3, 3, 3)), eg.ShapeError,
     r"conv3d: kernel spans \(3, 3, 3\) \(dilation \(1, 1, 1\)\) but the padded input is only "
     r"\(2, 4, 4\)"),
    (lambda: F.conv1d(t(1, 1, 2), t(1, 1, 2), dilation=3, padding="valid"), eg.ShapeError,
     r"conv1d: kernel spans \(4,\)"),
    (lambda: F.conv_transpose3d(t(1, 1, 1, 1, 1), t(1, 1, 1, 1, 1), padding=1), eg.ShapeError,
     r"conv_transpose3d: input \(1, 1, 1, 1, 1\) with padding \(1, 1, 1\) gives an empty output"),
    (lambda: F.conv3d(t(1, 0, 2, 2, 2), t(1, 0, 1, 1, 1)), eg.ShapeError,
     r"conv3d: input \(N, C, D, H, W\) has shape \(1, 0, 2, 2, 2\); only the batch"),
    (lambda: F.conv1d(t(1, 1, 4), t(1, 1, 3, dtype=np.float64)), eg.DTypeError, r"share a dtype"),
    (lambda: nn.Conv3d(1, 1, 3, stride=2, padding="same"), eg.ArgumentError,
     r"Conv3d: padding='same' is not supported for strided convolutions"),
    (lambda: nn.Conv1d(1, 1, 3, padding="half"), eg.ArgumentError, r"Invalid padding string 'half'"),
    (lambda: nn.Conv2d(1, 1, 3, padding_mode="mirror"), eg.ArgumentError,
     r"Conv2d: padding_mode must be one of \['zeros', 'reflect', 'replicate', 'circular'\], but "
     r"got padding_mode='mirror'"),
    (lambda: nn.ConvTranspose1d(1, 1, 3, padding_mode="reflect"), eg.ArgumentError,
     r'ConvTranspose1d: Only "zeros" padding mode is supported'),
    (lambda: nn.Conv3d(1, 1, (3, 3)), eg.ArgumentError,
     r"Conv3d: kernel_size must be an int or a tuple of 3 ints, got \(3, 3\)"),
    (lambda: nn.ConvTranspose3d(2, 3, 3, groups=2), eg.ArgumentError, r"divisible by groups=2"),
    (lambda: nn.Conv1d(1, 1, 3, padding=2, padding_mode="reflect")(t(1, 1, 2)), eg.ShapeError,
     r"pad: reflect padding must be smaller than the padded dimension"),
])
def test_messages(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- the C++ vol2col / col2vol ------------------------------------------------------------------
def test_vol2col_matches_conv3d_and_col2vol_is_its_adjoint():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5, 3))
    args = (2, 3, 1, 2, 1, 1, 1, 0, 1, 1, 2, 1)  # kernel, stride, padding, dilation (d, h, w)
    cols = _cpp.vol2col(x, *args)
    w = rng.standard_normal((2, 3, 2, 3, 1))
    want = ref.conv3d(x, w, None, (2, 1, 1), (1, 0, 1), (1, 2, 1))
    np.testing.assert_allclose((w.reshape(2, -1) @ cols).reshape(want.shape),
                               want, atol=1e-12)
    g = rng.standard_normal(cols.shape)
    back = _cpp.col2vol(g, 2, 3, 4, 5, 3, *args)
    assert np.isclose((cols * g).sum(), (x * back).sum())
    # a volume of depth 1 is an image: vol2col is im2col there
    image = np.ascontiguousarray(x[:, :, 0])
    np.testing.assert_array_equal(
        _cpp.vol2col(image[:, :, None], 1, 3, 1, 1, 1, 1, 0, 0, 1, 1, 2, 1),
        _cpp.im2col(image, 3, 1, 1, 1, 0, 1, 2, 1))


V = np.zeros((1, 2, 3, 3, 3), np.float32)


@pytest.mark.parametrize("call, error, message", [
    (lambda: _cpp.vol2col(V.astype(np.int32), 1, 1, 1), TypeError, "vol2col: x must be float32 or float64"),
    (lambda: _cpp.vol2col(V[0], 1, 1, 1), ValueError, r"5 dimensions, got shape \(2, 3, 3, 3\)"),
    (lambda: _cpp.vol2col(V[:, :, ::2], 1, 1, 1), ValueError, "C-contiguous"),
    (lambda: _cpp.vol2col(V.astype(">f4"), 1, 1, 1), TypeError, "non-native byte order"),
    (lambda: _cpp.vol2col(np.zeros((1, 2, 0, 3, 3), np.float32), 1, 1, 1), ValueError,
     r"volume shape \(1, 2, 0, 3, 3\) has a size below 1"),
    (lambda: _cpp.vol2col(V, 1, 0, 1), ValueError, r"kernel size must be positive, got \(1, 0, 1\)"),
    (lambda: _cpp.vol2col(V, 1, 1, 1, 1, 1, 1, 0, -1, 0), ValueError, "padding must be non-negative"),
    (lambda: _cpp.vol2col(V, 4, 1, 1), ValueError,
     r"kernel spans \(4, 1, 1\) with dilation but the padded input is only \(3, 3, 3\)"),
    (lambda: _cpp.vol2col(V, 1, 1, 1, 1, 1, 1, 2**62, 0, 0), ValueError,
     "the padded depth does not fit in 64 bits"),
    (lambda: _cpp.vol2col(V, 1, 1, 1, 1, 1, 1, 2**31, 2**31, 0), ValueError, "would hold more than"),
    (lambda: _cpp.vol2col(V, 1.5, 1, 1), TypeError, "kd must be an int, got float"),
    (lambda: _cpp.vol2col(V, 1, 1, 1, out=np.zeros((1, 2, 26), np.float32)), ValueError, "out has shape"),
    (lambda: _cpp.col2vol(np.zeros((1, 2, 27), np.float32), 1, 2, 3, 3, 3, 2, 1, 1), ValueError,
     r"col2vol: cols has shape \(1, 2, 27\) but the geometry needs \(1, 4, 18\)"),
    (lambda: _cpp.col2vol(np.zeros((2, 27), np.float32), 1, 2, 3, 3, 3, 1, 1, 1), ValueError,
     "3 dimensions"),
    (lambda: _cpp.col2vol(np.zeros((1, 2, 27), np.float32), 1, 2, -3, 3, 3, 1, 1, 1), ValueError,
     "size below 1"),
])
def test_vol2col_and_col2vol_validate_before_touching_memory(call, error, message):
    with pytest.raises(error, match=message):
        call()
