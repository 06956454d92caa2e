"""interpolate's modes, adaptive average pooling and their layers: values torch gives, the
options, and clear errors. The catalogue checks every mode against the reference and its
gradients on both devices."""
import numpy as np
import pytest

import engine as eg
import engine.nn as nn
import engine.nn.functional as F
import kernels.reference as ref


def t(values):
    return eg.tensor(np.asarray(values, np.float64))


def test_bicubic_values_torch_gives():
    # torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic") on [[1, 2], [3, 4]]
    y = F.interpolate(t([[[[1, 2], [3, 4]]]]), scale_factor=2, mode="bicubic").numpy()[0, 0]
    np.testing.assert_allclose(y[0], [0.68359375, 1.015625, 1.5625, 1.89453125])
    np.testing.assert_allclose(y[3], [3.10546875, 3.4375, 3.984375, 4.31640625])


def test_antialiased_bilinear_stretches_the_triangle_when_downsampling():
    # scale 2: support 2 around centre 1.0 covers inputs 0, 1, 2 with weights 3/7, 3/7, 1/7
    x = t([[[[0, 1, 2, 3]]]])
    y = F.interpolate(x, size=(1, 2), mode="bilinear", antialias=True).numpy().ravel()
    np.testing.assert_allclose(y, [5 / 7, 16 / 7])
    plain = F.interpolate(x, size=(1, 2), mode="bilinear").numpy().ravel()
    np.testing.assert_allclose(plain, [0.5, 2.5])  # the two middle neighbours only
    # upsampling: antialias changes nothing
    np.testing.assert_allclose(F.interpolate(x, size=(1, 7), mode="bilinear", antialias=True).numpy(),
                               F.interpolate(x, size=(1, 7), mode="bilinear").numpy())


def test_nearest_and_nearest_exact_pick_different_sources():
    x = t([[[0, 1, 2]]])
    assert F.interpolate(x, size=2, mode="nearest").numpy().ravel().tolist() == [0, 1]
    assert F.interpolate(x, size=2, mode="nearest-exact").numpy().ravel().tolist() == [0, 2]


def test_area_is_adaptive_average_pooling():
    x = t([[[0, 1, 2, 3, 4]]])
    y = F.interpolate(x, size=3, mode="area")
    np.testing.assert_allclose(y.numpy().ravel(), [0.5, 2.0, 3.5])  # [0, 2) [1, 4) [3, 5)
    np.testing.assert_array_equal(F.adaptive_avg_pool1d(x, 3).numpy(), y.numpy())


def test_linear_and_trilinear_with_and_without_align_corners():
    x = t([[[0, 1, 2]]])
    np.testing.assert_allclose(F.interpolate(x, size=5, mode="linear", align_corners=True)
                               .numpy().ravel(), [0, 0.5, 1, 1.5, 2])
    np.testing.assert_allclose(F.interpolate(x, scale_factor=2, mode="linear").numpy().ravel(),
                               [0, 0.25, 0.75, 1.25, 1.75, 2])
    cube = np.arange(8.0).reshape(1, 1, 2, 2, 2)
    y = F.interpolate(t(cube), size=(3, 3, 3), mode="trilinear", align_corners=True)
    assert y.numpy()[0, 0, 1, 1, 1] == pytest.approx(3.5)  # the centre: the mean of the corners


def test_a_scale_factor_drives_the_weights_unless_recomputed():
    """torch uses 1/scale_factor as the step (not in/out) unless recompute_scale_factor."""
    x = np.random.default_rng(0).standard_normal((1, 1, 5))
    given = F.interpolate(t(x), scale_factor=1.7, mode="linear").numpy()
    recomputed = F.interpolate(t(x), scale_factor=1.7, mode="linear", recompute_scale_factor=True)
    np.testing.assert_allclose(given, ref.interpolate(x, scale_factor=1.7, mode="linear"))
    np.testing.assert_allclose(recomputed.numpy(), F.interpolate(t(x), size=8, mode="linear").numpy())
    assert not np.allclose(given, recomputed.numpy())


def test_adaptive_avg_pool_keeps_none_extents_and_takes_unbatched_input():
    x = np.random.default_rng(1).standard_normal((3, 5, 4))
    y = F.adaptive_avg_pool2d(t(x), (2, None))
    assert y.shape == (3, 2, 4)
    np.testing.assert_allclose(y.numpy(), ref.adaptive_avg_pool(x, (2, None)))
    assert F.adaptive_avg_pool3d(t(x[None]), 1).shape == (1, 1, 1, 1)
    np.testing.assert_allclose(F.adaptive_avg_pool3d(t(x[None]), 1).numpy().item(), x.mean())


def test_empty_batches_resize_to_empty_results():
    assert F.interpolate(eg.zeros(0, 2, 3, 3), scale_factor=2, mode="bicubic").shape == (0, 2, 6, 6)
    assert F.adaptive_avg_pool1d(eg.zeros(0, 2, 5), 2).shape == (0, 2, 2)


def test_layers():
    x = eg.randn(1, 2, 4, 4)
    assert nn.Upsample(scale_factor=2, mode="bicubic")(x).shape == (1, 2, 8, 8)
    np.testing.assert_array_equal(
        nn.UpsamplingBilinear2d(scale_factor=2)(x).numpy(),
        F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True).numpy())
    np.testing.assert_array_equal(nn.UpsamplingNearest2d(size=3)(x).numpy(),
                                  F.interpolate(x, size=3).numpy())
    assert nn.AdaptiveAvgPool2d((1, 1))(x).shape == (1, 2, 1, 1)
    assert nn.AdaptiveAvgPool1d(2)(eg.randn(2, 3, 5)).shape == (2, 3, 2)
    assert nn.AdaptiveAvgPool3d((1, 2, None))(eg.randn(1, 1, 3, 3, 3)).shape == (1, 1, 1, 2, 3)
    assert repr(nn.AdaptiveAvgPool2d(1)) == "AdaptiveAvgPool2d(output_size=1)"
    with pytest.raises(eg.ArgumentError, match="UpsamplingNearest2d: give exactly one"):
        nn.UpsamplingNearest2d()


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), scale_factor=2, mode="linear"), eg.ShapeError,
     r"got a 4-D input, but mode 'linear' needs a 3-D input"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2, 2), size=3, mode="bilinear"), eg.ShapeError,
     r"mode 'bilinear' needs a 4-D input"),
    (lambda: F.interpolate(eg.ones(2, 2), size=3), eg.ShapeError,
     r"expected a 3-D, 4-D or 5-D input"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), size=3, align_corners=True), eg.ArgumentError,
     r"align_corners can only be set with the interpolating modes"),
    (lambda: F.interpolate(eg.ones(1, 1, 2), size=3, mode="linear", antialias=True),
     eg.ArgumentError, r"antialias applies to modes 'bilinear' and 'bicubic' of a 4-D input"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), size=(3, 3, 3)), eg.ShapeError,
     r"the input has 2 spatial dimensions but size has 3 entries"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), scale_factor=(2,)), eg.ShapeError,
     r"but scale_factor has 1 entries"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), scale_factor=0), eg.ArgumentError,
     r"scale_factor must be a positive finite number"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), scale_factor=0.1), eg.ShapeError,
     r"makes the input's spatial extents \(2, 2\) an empty output \(0, 0\)"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), size=2, scale_factor=2), eg.ArgumentError,
     r"exactly one of size and scale_factor"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2, dtype=np.int64), size=2), eg.DTypeError,
     r"interpolate: expected a floating-point tensor, got dtype int64"),
    (lambda: F.adaptive_avg_pool2d(eg.ones(2, 2), 1), eg.ShapeError,
     r"adaptive_avg_pool2d: expected a 3-D or 4-D input"),
    (lambda: F.adaptive_avg_pool2d(eg.ones(1, 2, 2), (0, 1)), eg.ShapeError,
     r"output_size must hold positive ints or None"),
    (lambda: F.adaptive_avg_pool1d(eg.ones(1, 2, 0), 1), eg.ShapeError,
     r"has an empty spatial dimension"),
])
def test_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
