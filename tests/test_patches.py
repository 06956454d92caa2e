"""The patches family beyond the catalogue: padding modes against numpy.pad, pixel shuffles,
unfold/fold identities, embeddings (padding_idx), one_hot, the layers, errors, both devices."""
import numpy as np
import pytest

import engine as eg
import kernels.reference as ref
from engine import nn
from engine.nn import functional as F

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _arange(*shape, dtype=np.float64, device="cpu"):
    return eg.tensor(np.arange(np.prod(shape), dtype=dtype).reshape(shape), device=device)


# --- pad --------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_pad_modes_of_one_row(device):
    x = _arange(1, 1, 4, device=device)
    expected = {"reflect": [2, 1, 0, 1, 2, 3, 2], "replicate": [0, 0, 0, 1, 2, 3, 3],
                "circular": [2, 3, 0, 1, 2, 3, 0], "constant": [0, 0, 0, 1, 2, 3, 0]}
    for mode, row in expected.items():
        np.testing.assert_array_equal(F.pad(x, (2, 1), mode).numpy()[0, 0], row)
    np.testing.assert_array_equal(F.pad(x, (-1, 2), "reflect").numpy()[0, 0], [1, 2, 3, 2, 1])
    np.testing.assert_array_equal(F.pad(x, (1, -2), value=-1.5).numpy()[0, 0], [-1.5, 0, 1])


@pytest.mark.parametrize("mode", list(NUMPY_MODES))
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_pad_modes_match_numpy(mode, dims):
    x = np.random.default_rng(dims).uniform(size=(2, 3, 4, 3, 4)[-dims - 2:])
    widths = (1, 2, 2, 0, 2, 1)[:2 * dims]
    pairs = [(0, 0)] * 2 + [tuple(widths[i:i + 2]) for i in range(0, 2 * dims, 2)][::-1]
    out = F.pad(eg.tensor(x), widths, mode)
    np.testing.assert_array_equal(out.numpy(), np.pad(x, pairs, NUMPY_MODES[mode]))
    unbatched = F.pad(eg.tensor(x[0]), widths, mode)  # one dim fewer: the batch is optional
    np.testing.assert_array_equal(unbatched.numpy(), np.pad(x, pairs, NUMPY_MODES[mode])[0])


def test_pad_constant_keeps_integer_and_bool_dtypes():
    x = eg.tensor([[1, 2], [3, 4]])
    out = F.pad(x, (1, 0, 0, 1), value=7)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), [[7, 1, 2], [7, 3, 4], [7, 7, 7]])
    flags = F.pad(eg.tensor([True]), (1, 1))
    assert flags.dtype == np.bool_ and flags.numpy().tolist() == [False, True, False]


def test_pad_zero_size_dims():
    assert F.pad(eg.zeros(0, 3), (1, 1)).shape == (0, 5)
    assert F.pad(eg.zeros(0, 2, 3), (1, 1), "reflect").shape == (0, 2, 5)
    assert F.pad(eg.zeros(2, 3), (0, 0, 1, 1)).shape == (4, 3)
    assert F.pad(eg.ones(2, 3), (-3, 0)).shape == (2, 0)


def test_pad_gradient_adds_up_where_modes_repeat_elements():
    x = eg.tensor(np.arange(4.0).reshape(1, 1, 4), requires_grad=True)
    F.pad(x, (2, 3), "replicate").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [3, 1, 1, 4])
    x.grad = None
    F.pad(x, (2, 1), "reflect").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [1, 2, 3, 1])


@pytest.mark.parametrize("call, error, words", [
    (lambda x: F.pad(x, (1,)), eg.ShapeError, "even number"),
    (lambda x: F.pad(x, (1, 1), "mirror"), eg.ArgumentError, "mode"),
    (lambda x: F.pad(x, (1, 1), "reflect", value=1.0), eg.ArgumentError, "takes no value"),
    (lambda x: F.pad(x, (4, 0), "reflect"), eg.ShapeError, "smaller than"),
    (lambda x: F.pad(x, (5, 0), "circular"), eg.ShapeError, "more than once"),
    (lambda x: F.pad(x, (1, 1) * 3, "replicate"), eg.ShapeError, "last 1, 2 or 3"),
    (lambda x: F.pad(x[0, 0], (1, 1), "replicate"), eg.ShapeError, "last 1, 2 or 3"),
    (lambda x: F.pad(x, (-3, -2)), eg.ShapeError, "crop more than the size 4 of dimension 2"),
    (lambda x: F.pad(x, (-5, 9)), eg.ShapeError, "crop more than"),
    (lambda x: F.pad(x, (1.0, 1)), eg.ShapeError, "ints"),
])
def test_pad_errors(call, error, words):
    with pytest.raises(error, match=words):
        call(eg.ones(1, 2, 4))


# --- pixel shuffles ---------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_pixel_shuffle_and_unshuffle(device):
    x = _arange(2, 8, 2, 3, device=device)
    y = F.pixel_shuffle(x, 2)
    assert y.shape == (2, 2, 4, 6)
    np.testing.assert_array_equal(y.numpy(), ref.pixel_shuffle(x.numpy(), 2))
    np.testing.assert_array_equal(F.pixel_unshuffle(y, 2).numpy(), x.numpy())
    assert eg.pixel_shuffle(_arange(9, 1, 1), 3).shape == (1, 3, 3)


def test_pixel_shuffle_errors():
    with pytest.raises(eg.ShapeError, match="divisible by r\\*r = 4"):
        F.pixel_shuffle(eg.ones(1, 6, 2, 2), 2)
    with pytest.raises(eg.ShapeError, match="divisible by r = 2"):
        F.pixel_unshuffle(eg.ones(1, 1, 3, 2), 2)
    with pytest.raises(eg.ArgumentError, match="upscale_factor"):
        F.pixel_shuffle(eg.ones(1, 4, 2, 2), 0)


# --- unfold and fold --------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_fold_of_unfold_multiplies_by_the_overlap_count(device):
    """torch's documented identity: fold(unfold(x)) == x * fold(unfold(ones))."""
    geometry = dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(1, 2))
    x = _arange(1, 2, 3, 5, device=device)
    cols = F.unfold(x, **geometry)
    np.testing.assert_array_equal(cols.numpy(), ref.unfold_patches(x.numpy(), **geometry))
    overlaps = F.fold(F.unfold(eg.ones(1, 2, 3, 5, device=device), **geometry), (3, 5), **geometry)
    np.testing.assert_array_equal(F.fold(cols, (3, 5), **geometry).numpy(),
                                  x.numpy() * overlaps.numpy())


def test_unfold_matmul_is_conv2d():
    rng = np.random.default_rng(0)
    x, w = eg.tensor(rng.normal(size=(2, 3, 5, 4))), eg.tensor(rng.normal(size=(4, 3, 3, 2)))
    cols = F.unfold(x, (3, 2), padding=1, stride=2)
    out = (w.reshape(4, -1) @ cols).reshape(2, 4, 3, 3)
    np.testing.assert_allclose(out.numpy(), F.conv2d(x, w, padding=1, stride=2).numpy(),
                               rtol=1e-12, atol=1e-12)


def test_unfold_fold_unbatched_and_empty_batch():
    x = _arange(2, 3, 3)
    assert F.unfold(x, 2).shape == (8, 4)
    np.testing.assert_array_equal(F.unfold(x, 2).numpy(),
                                  F.unfold(x.reshape(1, 2, 3, 3), 2)[0].numpy())
    assert F.fold(eg.ones(8, 4), 3, 2).shape == (2, 3, 3)
    assert F.unfold(eg.ones(0, 2, 3, 3), 2).shape == (0, 8, 4)
    assert F.fold(eg.ones(0, 8, 4), 3, 2).shape == (0, 2, 3, 3)


def test_unfold_fold_errors():
    with pytest.raises(eg.ShapeError, match="sliding blocks"):
        F.unfold(eg.ones(1, 1, 2, 2), 3)
    with pytest.raises(eg.ShapeError, match="divisible by the product of kernel_size"):
        F.fold(eg.ones(1, 5, 4), 3, 2)
    with pytest.raises(eg.ShapeError, match="4 sliding blocks, but input dimension 2 is 5"):
        F.fold(eg.ones(1, 4, 5), 3, 2)
    with pytest.raises(eg.ShapeError, match="kernel_size must be at least 1"):
        F.unfold(eg.ones(1, 1, 2, 2), 0)
    with pytest.raises(eg.ShapeError, match=r"\(N, C, H, W\)"):
        F.unfold(eg.ones(2, 2), 1)


# --- embedding and one_hot --------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_embedding_padding_row_gets_no_gradient(device):
    weight = eg.tensor(np.arange(8.0).reshape(4, 2), device=device, requires_grad=True)
    index = eg.tensor([[0, 3, 3], [2, 0, 1]], device=device)
    out = F.embedding(index, weight, padding_idx=-4)
    np.testing.assert_array_equal(out.numpy(), weight.numpy()[index.numpy()])
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [[0, 0], [1, 1], [1, 1], [2, 2]])


def test_embedding_indices_and_errors():
    weight = eg.ones(3, 2)
    assert F.embedding(eg.tensor(np.zeros(0, np.int64)), weight).shape == (0, 2)
    assert F.embedding(eg.tensor(np.array([2], np.int32)), weight).shape == (1, 2)
    with pytest.raises(eg.IndexOutOfRangeError, match="index 3 is out of range"):
        F.embedding(eg.tensor([3]), weight)
    with pytest.raises(eg.IndexOutOfRangeError, match="index -1"):
        F.embedding(eg.tensor([-1]), weight)
    with pytest.raises(eg.DTypeError, match="float32"):
        F.embedding(eg.tensor([1.0]), weight)
    with pytest.raises(eg.ShapeError, match="2-D"):
        F.embedding(eg.tensor([1]), eg.ones(3))
    with pytest.raises(eg.ArgumentError, match="padding_idx"):
        F.embedding(eg.tensor([1]), weight, padding_idx=3)


@pytest.mark.parametrize("device", DEVICES)
def test_one_hot(device):
    out = F.one_hot(eg.tensor([[2, 0], [1, 2]], device=device))
    assert out.dtype == np.int64 and out.device == device
    np.testing.assert_array_equal(out.numpy(), np.eye(3, dtype=np.int64)[[[2, 0], [1, 2]]])
    assert F.one_hot(eg.tensor([1]), num_classes=4).numpy().tolist() == [[0, 1, 0, 0]]
    assert F.one_hot(eg.tensor(np.zeros((0, 2), np.int64)), 3).shape == (0, 2, 3)


@pytest.mark.parametrize("values, num_classes, error, words", [
    ([-1], -1, eg.IndexOutOfRangeError, "non-negative"),
    ([3], 3, eg.IndexOutOfRangeError, "smaller than num_classes"),
    (np.zeros(0, np.int64), -1, eg.ShapeError, "empty"),
    ([1.0], -1, eg.DTypeError, "int64"),
    ([1], -2, eg.ArgumentError, "num_classes"),
])
def test_one_hot_errors(values, num_classes, error, words):
    with pytest.raises(error, match=words):
        F.one_hot(eg.tensor(values), num_classes)


# --- layers -----------------------------------------------------------------------------------
def test_pad_layers():
    x = _arange(1, 1, 3, 3)
    for layer, mode, value in [(nn.ReflectionPad2d(1), "reflect", None),
                               (nn.ReplicationPad2d((1, 0, 2, 1)), "replicate", None),
                               (nn.CircularPad2d(2), "circular", None),
                               (nn.ZeroPad2d((0, 1, 1, 0)), "constant", None),
                               (nn.ConstantPad2d(1, 2.5), "constant", 2.5)]:
        expected = F.pad(x, layer.padding, mode, value)
        np.testing.assert_array_equal(layer(x).numpy(), expected.numpy())
    np.testing.assert_array_equal(nn.ReflectionPad1d((2, 1))(_arange(1, 4)).numpy(),
                                  [[2, 1, 0, 1, 2, 3, 2]])
    assert nn.ZeroPad2d(1).padding == (1, 1, 1, 1)
    assert repr(nn.ConstantPad1d((1, 2), 3.5)) == "ConstantPad1d(padding=(1, 2), value=3.5)"
    assert repr(nn.ReplicationPad3d(1)) == "ReplicationPad3d((1, 1, 1, 1, 1, 1))"
    with pytest.raises(eg.ArgumentError, match="4 ints"):
        nn.ReflectionPad2d((1, 1))


def test_shuffle_and_patch_layers():
    x = _arange(1, 4, 2, 2)
    np.testing.assert_array_equal(nn.PixelShuffle(2)(x).numpy(), F.pixel_shuffle(x, 2).numpy())
    np.testing.assert_array_equal(nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(x)).numpy(), x.numpy())
    cols = nn.Unfold(2, padding=1)(x)
    np.testing.assert_array_equal(cols.numpy(), ref.unfold_patches(x.numpy(), 2, padding=1))
    np.testing.assert_array_equal(nn.Fold((2, 2), 2, padding=1)(cols).numpy(),
                                  ref.fold_patches(cols.numpy(), 2, 2, padding=1))
    assert repr(nn.Unfold((2, 3), stride=2)) == \
        "Unfold(kernel_size=(2, 3), dilation=1, padding=0, stride=2)"
    with pytest.raises(eg.ArgumentError, match="upscale_factor"):
        nn.PixelShuffle(0)


def test_embedding_layer():
    eg.manual_seed(0)
    layer = nn.Embedding(1000, 8, padding_idx=-1)
    w = layer.weight.numpy()
    assert w.shape == (1000, 8) and w.dtype == np.float32 and layer.padding_idx == 999
    assert not w[999].any()
    assert abs(w[:999].mean()) < 0.05 and abs(w[:999].std() - 1) < 0.05  # N(0, 1)
    out = layer(eg.tensor([[999, 3]]))
    out.sum().backward()
    assert out.shape == (1, 2, 8) and not layer.weight.grad.numpy()[999].any()
    assert repr(layer) == "Embedding(1000, 8, padding_idx=999)"
    frozen = nn.Embedding.from_pretrained(eg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(eg.tensor([1])).numpy(), [[3.0, 4.0]])
    with pytest.raises(eg.ArgumentError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)
