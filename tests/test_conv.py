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
    with pytest.raises(ValueError, match="no variant 'winograd9'.*auto, (fused, shifted, )?im2col, winograd, direct"):
        F.conv2d(x, w, groups=2, variant="winograd9")
    with pytest.raises(ValueError, match="winograd variant needs a 3x3 kernel, stride 1"):
        F.conv2d(x, w, stride=2, groups=2, variant="winograd")


def _auto_choices():
    with eg.profile() as p:
        F.conv2d(rand(1, 16, 6, 6), rand(16, 16, 3, 3), padding=1)
        F.conv2d(rand(1, 1, 6, 6), rand(16, 1, 3, 3), padding=1)
        F.conv2d(rand(1, 16, 6, 6), rand(16, 16, 3, 3), stride=2)
    return {r["name"]: r["calls"] for r in p.rows()}, p.table()


def test_auto_picks_shifted_for_wide_stride_1_layers_else_fused_and_the_profiler_says_so():
    calls, table = _auto_choices()
    assert calls == {"conv2d[shifted]": 1, "conv2d[fused]": 2} and "conv2d[shifted]" in table


def test_without_the_extensions_blas_auto_picks_winograd_for_wide_3x3_layers_only(monkeypatch):
    monkeypatch.setattr(cpu_conv, "FUSED", {})
    monkeypatch.setattr(cpu_conv, "SHIFTED", {})
    calls, table = _auto_choices()
    assert calls == {"conv2d[winograd]": 1, "conv2d[im2col]": 2} and "conv2d[winograd]" in table


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
    (lambda: F.interpolate(t(1, 1, 2), scale_factor=2, mode="bicubic"), eg.ShapeError,
     r"got a 3-D input, but mode 'bicubic' needs a 4-D input"),
    (lambda: F.interpolate(t(1, 1, 2, 2)), ValueError, r"exactly one of size and scale_factor"),
    (lambda: F.batch_norm(t(4, 3), t(2), t(3)), eg.ShapeError, r"running_mean has shape \(2,\); expected \(3,\)"),
    (lambda: F.batch_norm(t(1, 3), None, None, training=True), eg.ShapeError, r"more than one value per channel"),
    (lambda: F.dropout(t(3), 1.5), ValueError, r"dropout: Invalid dropout probability: 1.5"),
    (lambda: F.pad(t(2, 2), (1, 1, 1)), eg.ShapeError, r"pad: expected an even number"),
])
def test_messages(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- bad sizes and odd arrays at the op layer (the crashing cases run in a child: test_fuzz.py) ----
@pytest.mark.parametrize("call, error, message", [
    (lambda: F.avg_pool2d(t(1, 1, 1, 1), kernel_size=2**32, stride=1, padding=2**31), eg.ShapeError,
     r"avg_pool2d: kernel_size must be at most 2147483647, got 4294967296"),
    (lambda: F.conv2d(t(1, 2, 4, 4), t(1, 2, 3, 3), stride=2**63 - 1), eg.ShapeError,
     r"conv2d: stride must be at most"),
    (lambda: F.conv2d(t(1, 2, 4, 4), t(1, 2, 3, 3), padding=2**30), eg.ShapeError,
     r"conv2d: the input \(4, 4\) padded by \(1073741824, 1073741824\) spans"),
    (lambda: F.conv2d(t(1, 2, 4, 4), t(1, 2, 3, 3), padding=2**16), eg.ShapeError,
     r"conv2d: the output would have shape \(1, 1, 131074, 131074\)"),
    (lambda: F.conv2d(t(1, 2, 4, 4), t(1, 2, 3, 3), dilation=(1, True)), eg.ShapeError,
     r"dilation must be an int or a pair of ints"),
    (lambda: F.conv2d(t(1, 2, 4, 4), t(1, 2, 3, 3), groups=2**40), eg.ShapeError, r"groups must be"),
    (lambda: F.conv2d(t(1, 1, 4, 4, dtype=np.float16), t(1, 1, 3, 3, dtype=np.float16)),
     eg.DTypeError, r"conv2d: input has dtype float16; expected a floating-point tensor of "
                    r"float32 or float64"),
    (lambda: F.conv2d(t(1, 0, 4, 4), t(1, 0, 3, 3)), eg.ShapeError,
     r"conv2d: input \(N, C, H, W\) has shape \(1, 0, 4, 4\); only the batch"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4)), t(1, 1, 3, 3)), eg.DTypeError,
     r"conv2d: input must be a Tensor, got ndarray"),
    (lambda: F.conv_transpose2d(t(1, 1, 4, 4), t(1, 1, 3, 3), stride=2**31 - 1), eg.ShapeError,
     r"conv_transpose2d: the output would have shape"),
    (lambda: F.max_pool2d(t(1, 1, 4, 4), kernel_size=2**40, stride=2**40, padding=2**39),
     eg.ShapeError, r"max_pool2d: kernel_size must be at most"),
    (lambda: F.max_pool2d(t(1, 1, 1, 1), kernel_size=2**30, padding=2**29), eg.ShapeError,
     r"max_pool2d: kernel \(1073741824, 1073741824\) over the input \(1, 1\) .* visits"),
    (lambda: F.max_pool2d(t(1, 1, 4, 4), 2.0), eg.ShapeError, r"kernel_size must be an int"),
    (lambda: F.avg_pool2d(t(1, 1, 4, 4, dtype=np.int32), 2), eg.DTypeError,
     r"avg_pool2d: input has dtype int32"),
    (lambda: F.interpolate(t(1, 1, 2, 2), scale_factor=0), eg.ArgumentError,
     r"interpolate: scale_factor must be a positive finite number"),
    (lambda: F.interpolate(t(1, 1, 2, 2), scale_factor=float("nan")), eg.ArgumentError,
     r"scale_factor must be a positive finite number"),
    (lambda: F.interpolate(t(1, 1, 2, 2), scale_factor=1e300), eg.ShapeError,
     r"interpolate: scale_factor 1e\+300 resizes \(2, 2\) past 2147483647"),
    (lambda: F.interpolate(t(1, 1, 2, 2), size=2**40), eg.ShapeError, r"size must hold ints in"),
    (lambda: F.interpolate(t(1, 1, 2, 2), scale_factor=2, mode="cubic-ish"), eg.ArgumentError,
     r"interpolate: mode must be one of \('nearest', 'nearest-exact', 'area', 'linear', "
     r"'bilinear', 'bicubic', 'trilinear'\), got 'cubic-ish'"),
    (lambda: F.interpolate(t(1, 1, 0, 2), scale_factor=2), eg.ShapeError, r"only the batch"),
    (lambda: F.pad(t(2, 2), 3), eg.ShapeError, r"pad: expected a tuple of ints"),
    (lambda: F.pad(t(2, 2), (2**31, 0)), eg.ShapeError, r"pad: padding \(2147483648, 0\) makes"),
    (lambda: F.pad(t(2, 2), (2**20,) * 4), eg.ShapeError, r"elements; expected at most"),
])
def test_bad_sizes_and_arrays_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("op", [
    lambda x, w, b: F.conv2d(x, w, b, padding=1),
    lambda x, w, b: F.conv_transpose2d(x, w.transpose(0, 1), b, stride=2),
    lambda x, w, b: F.max_pool2d(x, 2),
    lambda x, w, b: F.avg_pool2d(x, 3, stride=1, padding=1),
    lambda x, w, b: F.interpolate(x, scale_factor=2, mode="bilinear"),
])
def test_an_empty_batch_gives_an_empty_result_and_gradients_as_torch(op):
    x = eg.tensor(np.ones((0, 2, 4, 4), np.float32), requires_grad=True)
    w = eg.tensor(np.ones((2, 2, 3, 3), np.float32), requires_grad=True)
    b = eg.tensor(np.ones(2, np.float32), requires_grad=True)
    full = op(eg.tensor(np.ones((1, 2, 4, 4), np.float32)), w.detach(), b.detach())
    y = op(x, w, b)
    assert y.shape == (0,) + full.shape[1:]
    y.sum().backward()
    assert x.grad.shape == x.shape
    for p in (w, b):
        assert p.grad is None or (p.grad.shape == p.shape and not p.grad.numpy().any())


def test_big_endian_tensors_are_converted_and_give_the_right_answer_and_gradient():
    x = eg.tensor(np.ones((1, 4, 4, 4), ">f4"), requires_grad=True)
    w = eg.tensor(np.ones((1, 4, 4, 4), ">f4"))
    y = F.conv2d(x, w)
    assert y.item() == 64 and y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((1, 4, 4, 4)))
    x = eg.tensor(np.arange(16, dtype=">f8").reshape(1, 1, 4, 4) - 8)
    np.testing.assert_array_equal(F.max_pool2d(x, 2).numpy(), [[[[-3, -1], [5, 7]]]])
    np.testing.assert_array_equal(F.avg_pool2d(x, 2).numpy(), [[[[-5.5, -3.5], [2.5, 4.5]]]])
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=1).numpy(), x.numpy())


def test_strided_read_only_and_unaligned_arrays_give_the_right_answer():
    base = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((3, 2, 3, 3)).astype(np.float32)
    read_only = base.copy()
    read_only.flags.writeable = False
    unaligned = np.frombuffer(b"\0" + base.tobytes(), np.float32, base.size, 1).reshape(base.shape)
    for x in (base[..., ::-1], np.asfortranarray(base), read_only, unaligned):
        tx = eg.Tensor._from_array(x, "cpu")
        np.testing.assert_allclose(F.conv2d(tx, eg.tensor(w), padding=1).numpy(),
                                   ref.conv2d(x, w, padding=1), rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(F.max_pool2d(tx, 3, 2, 1).numpy(),
                                      ref.max_pool2d(x, 3, 2, 1))
