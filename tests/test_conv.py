"""Convolution-family behaviour beyond the catalogue: variants, chunking, stats, errors."""
import numpy as np
import pytest

import engine as eg
import engine.nn.functional as F
import kernels.cpu.conv as cpu_conv
import kernels.reference as ref


def rand(*shape, seed=0):
    return eg.tensor(np.random.default_rng(seed).standard_normal(shape))


def test_variants_agree_and_can_be_chosen_by_context_or_keyword():
    x, w = rand(2, 4, 9, 8), rand(6, 2, 3, 3, seed=1)
    default = F.conv2d(x, w, stride=2, padding=1, groups=2)
    with eg.use_variant(conv2d="direct"):
        direct = F.conv2d(x, w, stride=2, padding=1, groups=2)
    keyword = F.conv2d(x, w, stride=2, padding=1, groups=2, variant="direct")
    np.testing.assert_allclose(default.numpy(), direct.numpy(), atol=1e-12)
    np.testing.assert_array_equal(direct.numpy(), keyword.numpy())
    with pytest.raises(ValueError, match="no variant 'winograd9'.*auto, im2col, winograd, direct"):
        F.conv2d(x, w, groups=2, variant="winograd9")
    with pytest.raises(ValueError, match="winograd variant needs a 3x3 kernel, stride 1"):
        F.conv2d(x, w, stride=2, groups=2, variant="winograd")


def test_auto_picks_winograd_for_wide_3x3_layers_only_and_the_profiler_says_so():
    with eg.profile() as p:
        F.conv2d(rand(1, 16, 6, 6), rand(16, 16, 3, 3), padding=1)
        F.conv2d(rand(1, 1, 6, 6), rand(16, 1, 3, 3), padding=1)
        F.conv2d(rand(1, 16, 6, 6), rand(16, 16, 3, 3), stride=2)
    assert {r["name"]: r["calls"] for r in p.rows()} == {"conv2d[winograd]": 1, "conv2d[im2col]": 2}
    assert "conv2d[winograd]" in p.table()


@pytest.mark.parametrize("variant", ["im2col", "winograd"])
def test_chunked_buffers_give_the_same_result(monkeypatch, variant):
    x, w = rand(5, 3, 6, 6), rand(4, 3, 3, 3, seed=1)
    x.requires_grad_()
    w.requires_grad_()
    F.conv2d(x, w, padding=1, variant=variant).sum().backward()
    whole = x.grad.numpy(), w.grad.numpy()
    x.grad = w.grad = None
    monkeypatch.setattr(cpu_conv, "COLUMN_BUDGET", 3 * 27 * 36 * 8 * 2)  # about two images a chunk
    y = F.conv2d(x, w, padding=1, variant=variant)
    np.testing.assert_allclose(y.numpy(), ref.conv2d(x.numpy(), w.numpy(), padding=1), atol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), whole[0], atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), whole[1], atol=1e-12)


def test_batch_norm_updates_running_stats_with_unbiased_variance():
    x = rand(4, 3, 2, 2)
    mean, var = eg.zeros(3, dtype=np.float64), eg.ones(3, dtype=np.float64)
    F.batch_norm(x, mean, var, training=True, momentum=0.2)
    values = x.numpy().transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(mean.numpy(), 0.2 * values.mean(1))
    np.testing.assert_allclose(var.numpy(), 0.8 + 0.2 * values.var(1, ddof=1))


def test_dropout_scales_kept_values_and_is_identity_in_eval():
    eg.manual_seed(0)
    x = eg.ones(100_000)
    y = F.dropout(x, 0.3).numpy()
    assert abs((y == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert F.dropout(x, 0.3, training=False) is x


def test_max_pool_ties_send_the_gradient_to_the_first_index():
    x = eg.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy().ravel(), [1, 0, 0, 0])


def t(*shape, dtype=np.float32):
    return eg.tensor(np.ones(shape, dtype))


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.conv2d(t(1, 3, 5, 5), t(2, 4, 3, 3)), eg.ShapeError, r"conv2d: input has 3 channels but weight expects 4 \(groups=1\)"),
    (lambda: F.conv2d(t(1, 4, 5, 5), t(3, 2, 3, 3), groups=2), eg.ShapeError, r"3 output channels, not divisible by groups=2"),
    (lambda: F.conv2d(t(1, 3, 2, 2), t(2, 3, 3, 3)), eg.ShapeError, r"conv2d: kernel spans \(3, 3\) \(dilation \(1, 1\)\) but the padded input is only \(2, 2\)"),
    (lambda: F.conv2d(t(3, 5, 5), t(2, 3, 3, 3)), eg.ShapeError, r"expected input \(N, C, H, W\)"),
    (lambda: F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), stride=0), eg.ShapeError, r"stride must be at least 1"),
    (lambda: F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), padding=(1, 2, 3)), eg.ShapeError, r"padding must be an int or a pair"),
    (lambda: F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), t(3)), eg.ShapeError, r"bias has shape \(3,\); expected \(2,\)"),
    (lambda: F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3, dtype=np.float64)), eg.DTypeError, r"share a dtype"),
    (lambda: F.conv2d(t(1, 3, 5, 5, dtype=np.int64), t(2, 3, 3, 3)), eg.DTypeError, r"floating-point"),
    (lambda: F.conv_transpose2d(t(1, 3, 5, 5), t(2, 3, 3, 3)), eg.ShapeError, r"input has 3 channels but weight of shape \(2, 3, 3, 3\) expects 2"),
    (lambda: F.conv_transpose2d(t(1, 2, 5, 5), t(2, 3, 3, 3), stride=2, output_padding=2), eg.ShapeError, r"output_padding \(2, 2\) must be smaller than stride"),
    (lambda: F.max_pool2d(t(1, 1, 4, 4), 2, padding=2), eg.ShapeError, r"max_pool2d: padding \(2, 2\) must be at most half the kernel size"),
    (lambda: F.avg_pool2d(t(1, 1, 2, 2), 3), eg.ShapeError, r"avg_pool2d: kernel \(3, 3\) does not fit the input"),
    (lambda: F.interpolate(t(1, 1, 2, 2), scale_factor=2, mode="bicubic"), ValueError, r"mode must be one of"),
    (lambda: F.interpolate(t(1, 1, 2, 2)), ValueError, r"exactly one of size and scale_factor"),
    (lambda: F.batch_norm(t(4, 3), t(2), t(3)), eg.ShapeError, r"running_mean has shape \(2,\); expected \(3,\)"),
    (lambda: F.batch_norm(t(1, 3), None, None, training=True), eg.ShapeError, r"more than one value per channel"),
    (lambda: F.dropout(t(3), 1.5), ValueError, r"p must lie in \[0, 1\]"),
    (lambda: F.pad(t(2, 2), (1, 1, 1)), eg.ShapeError, r"pad: expected an even number"),
])
def test_messages(call, error, message):
    with pytest.raises(error, match=message):
        call()
