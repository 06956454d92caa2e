"""Losses beyond the catalogue: torch's exact values at edge cases, layers, errors, devices."""
import math

import numpy as np
import pytest

import engine as eg
import engine.nn.functional as F
import kernels.reference as ref
from engine import nn


def t(values, dtype=np.float64, device="cpu"):
    return eg.tensor(np.asarray(values, dtype), device=device)


def test_nll_loss_weighted_mean_divides_by_the_weights_of_the_targets():
    logp, target, weight = t([[-1, -2], [-3, -4]]), eg.tensor([0, 1]), t([1, 3])
    assert F.nll_loss(logp, target, weight).item() == pytest.approx((1 * 1 + 3 * 4) / 4)
    assert F.nll_loss(logp, target, weight, reduction="sum").item() == pytest.approx(13)
    np.testing.assert_allclose(F.nll_loss(logp, target, weight, reduction="none").numpy(), [1, 12])


def test_ignored_targets_count_zero_and_all_ignored_mean_is_nan():
    logp = t([[-1, -2], [-3, -4]])
    assert F.nll_loss(logp, eg.tensor([0, -100])).item() == pytest.approx(1)
    assert F.nll_loss(logp, eg.tensor([1, 1]), ignore_index=1, reduction="sum").item() == 0
    assert math.isnan(F.cross_entropy(logp, eg.tensor([5, 5]), ignore_index=5).item())
    assert F.cross_entropy(logp, eg.tensor([-100, -100]), reduction="none").numpy().tolist() == [0, 0]


def test_cross_entropy_values_torch_gives():
    uniform = eg.zeros(2, 3, dtype=np.float64)
    assert F.cross_entropy(uniform, eg.tensor([0, 2])).item() == pytest.approx(math.log(3))
    # label smoothing leaves a uniform prediction's loss alone, and the probability form agrees
    assert F.cross_entropy(uniform, eg.tensor([0, 2]), label_smoothing=0.3).item() == \
        pytest.approx(math.log(3))
    logits = t([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]])
    one_hot = t([[0, 1, 0], [0, 0, 1]])
    for smoothing in (0.0, 0.2):
        np.testing.assert_allclose(
            F.cross_entropy(logits, eg.tensor([1, 2]), label_smoothing=smoothing).item(),
            F.cross_entropy(logits, one_hot, label_smoothing=smoothing).item(), rtol=1e-12)


def test_the_fused_and_the_composed_cross_entropy_agree_with_their_gradients():
    x = eg.tensor(np.random.default_rng(0).normal(size=(4, 3, 2)), requires_grad=True)
    target = eg.tensor([[0, 1], [2, 2], [1, 0], [0, 0]])
    fused = F.cross_entropy(x, target)
    (gf,) = eg.autograd.grad(fused, x)
    composed = F.cross_entropy(x, target, weight=eg.ones(3, dtype=np.float64))
    (gc,) = eg.autograd.grad(composed, x)
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-12)
    np.testing.assert_allclose(gf.numpy(), gc.numpy(), rtol=1e-12, atol=1e-15)


def test_binary_cross_entropy_clamps_its_logs_at_minus_100():
    loss = F.binary_cross_entropy(t([0.0, 1.0, 0.5]), t([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100, 100, math.log(2)])


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_binary_cross_entropy_gradients_at_exact_0_and_1_are_torchs(device):
    """A saturated sigmoid gives exactly 0 or 1 in float32: the gradients stay finite. The
    input's are torch's (x - t) / max(x (1 - x), 1e-12) (checked against torch 2.13); the
    target's are log(1 - x) - log(x) with each log >= -100 as in the loss (torch: +-inf)."""
    x = eg.tensor([0.0, 1.0, 0.0, 1.0], device=device, requires_grad=True)
    target = eg.tensor([0.0, 1.0, 1.0, 0.0], device=device, requires_grad=True)
    F.binary_cross_entropy(x, target, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, -1e12, 1e12])
    np.testing.assert_allclose(target.grad.numpy(), [100, -100, 100, -100])


def test_pos_weight_scales_the_positive_term():
    x, target = t([[0.3, -1.2]]), t([[1.0, 0.0]])
    plain = F.binary_cross_entropy_with_logits(x, target, reduction="none").numpy()
    weighted = F.binary_cross_entropy_with_logits(x, target, reduction="none",
                                                  pos_weight=t([2.0, 5.0])).numpy()
    np.testing.assert_allclose(weighted, plain * [[2, 1]], rtol=1e-12)


def test_smooth_l1_and_huber_loss():
    x, y = t([0.0, 0.0, 0.0]), t([0.2, -1.0, 3.0])
    np.testing.assert_allclose(F.huber_loss(x, y, reduction="none", delta=1.0).numpy(),
                               [0.02, 0.5, 2.5])
    np.testing.assert_allclose(F.smooth_l1_loss(x, y, reduction="none", beta=0.5).numpy(),
                               [0.04, 0.75, 2.75])
    np.testing.assert_array_equal(F.smooth_l1_loss(x, y, beta=0.0).numpy(), F.l1_loss(x, y).numpy())


def test_kl_div_reductions_and_zero_targets():
    logp, target = t([[-1.0, -2.0], [-0.5, -3.0]]), t([[0.0, 1.0], [0.5, 0.5]])
    pointwise = F.kl_div(logp, target, reduction="none").numpy()
    np.testing.assert_allclose(pointwise, [[0, 2], [0.5 * (math.log(0.5) + 0.5),
                                                    0.5 * (math.log(0.5) + 3)]])
    assert F.kl_div(logp, target, reduction="batchmean").item() == pytest.approx(pointwise.sum() / 2)
    assert F.kl_div(logp, target).item() == pytest.approx(pointwise.mean())
    x = eg.tensor(target.numpy(), requires_grad=True)  # target 0: a finite gradient, as torch's
    F.kl_div(logp, x, reduction="sum").backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_norms_below_eps_are_raised_to_eps():
    zero, v = t([[0.0, 0.0]]), t([[3.0, 4.0]])
    np.testing.assert_array_equal(F.normalize(zero).numpy(), [[0, 0]])
    np.testing.assert_allclose(F.normalize(v).numpy(), [[0.6, 0.8]])
    np.testing.assert_allclose(F.normalize(v, p=1, dim=0).numpy(), [[1, 1]])
    assert eg.cosine_similarity(zero, v).item() == 0
    assert F.cosine_similarity(v, t([[-4.0, 3.0]])).item() == pytest.approx(0)
    # broadcasting over the leading dims, as torch's
    assert F.cosine_similarity(t([[1.0, 0.0], [0.0, 2.0]]), t([1.0, 1.0]), dim=-1).shape == (2,)


def test_gaussian_nll_loss_clamps_var_and_takes_a_variance_per_row():
    x, y = t([[1.0, 2.0]]), t([[0.0, 0.0]])
    loss = F.gaussian_nll_loss(x, y, t([0.0]), reduction="sum").item()
    assert loss == pytest.approx(math.log(1e-6) + 5 / 2e-6)
    np.testing.assert_allclose(F.gaussian_nll_loss(x, y, t([2.0]), full=True).item(),
                               ref.gaussian_nll_loss(x.numpy(), y.numpy(), [2.0], full=True))


def test_cosine_embedding_loss_values_torch_gives():
    # torch.nn.functional.cosine_embedding_loss on these pairs: cos = 0.6 and 1 (with 1e-12
    # added to each squared norm), one similar and one dissimilar pair, margin 0.5
    x1, x2 = t([[3.0, 4.0], [1.0, 0.0]]), t([[5.0, 0.0], [2.0, 0.0]])
    losses = F.cosine_embedding_loss(x1, x2, t([1, -1]), margin=0.5, reduction="none").numpy()
    np.testing.assert_allclose(losses, [0.4, 0.5], rtol=1e-10)
    one = F.cosine_embedding_loss(t([3.0, 4.0]), t([5.0, 0.0]), t(-1), margin=0.7)
    assert one.shape == () and one.item() == 0.0
    layer = nn.CosineEmbeddingLoss(margin=0.5, reduction="sum")
    assert layer(x1, x2, t([1, -1])).item() == pytest.approx(0.9)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 2)])
def test_zero_size_batches(shape):
    x, target = eg.zeros(*shape, dtype=np.float64), eg.zeros(*shape[:1] + shape[2:], dtype=np.int64)
    assert F.cross_entropy(x, target, reduction="sum").item() == 0
    assert F.nll_loss(x, target, reduction="none").shape == target.shape
    assert math.isnan(F.cross_entropy(x, target, weight=eg.ones(3, dtype=np.float64)).item())
    assert F.l1_loss(x, x, reduction="none").shape == shape


def test_layers_call_their_functionals_with_torch_defaults():
    rng = np.random.default_rng(1)
    x, y = eg.tensor(rng.normal(size=(3, 4))), eg.tensor(rng.uniform(size=(3, 4)))
    target, weight = eg.tensor([0, 3, 1]), eg.tensor(rng.uniform(0.5, 2, 4))
    pairs = [(nn.MSELoss(), F.mse_loss(x, y)), (nn.L1Loss(reduction="sum"), F.l1_loss(x, y, "sum")),
             (nn.SmoothL1Loss(beta=0.3), F.smooth_l1_loss(x, y, beta=0.3)),
             (nn.HuberLoss(delta=0.3), F.huber_loss(x, y, delta=0.3)),
             (nn.BCELoss(weight=weight), F.binary_cross_entropy(y, y, weight)),
             (nn.BCEWithLogitsLoss(pos_weight=weight), F.binary_cross_entropy_with_logits(x, y, pos_weight=weight)),
             (nn.KLDivLoss(reduction="batchmean", log_target=True), F.kl_div(x, y, "batchmean", True)),
             (nn.CosineSimilarity(dim=0), F.cosine_similarity(x, y, dim=0)),
             (nn.PoissonNLLLoss(full=True), F.poisson_nll_loss(x, y, full=True))]
    for layer, expected in pairs:
        args = (y, y) if isinstance(layer, nn.BCELoss) else (x, y)
        np.testing.assert_array_equal(layer(*args).numpy(), expected.numpy())
    for layer, fn in ((nn.CrossEntropyLoss(weight, ignore_index=3, label_smoothing=0.1),
                       lambda: F.cross_entropy(x, target, weight, 3, label_smoothing=0.1)),
                      (nn.NLLLoss(weight), lambda: F.nll_loss(x, target, weight))):
        np.testing.assert_array_equal(layer(x, target).numpy(), fn().numpy())
        assert "weight" in dict(layer.named_buffers())
    sign, var = eg.tensor(np.sign(rng.normal(size=(3, 4)))), eg.tensor(rng.uniform(1, 2, (3, 4)))
    np.testing.assert_array_equal(nn.MarginRankingLoss(0.2)(x, y, sign).numpy(),
                                  F.margin_ranking_loss(x, y, sign, 0.2).numpy())
    np.testing.assert_array_equal(nn.GaussianNLLLoss(full=True)(x, y, var).numpy(),
                                  F.gaussian_nll_loss(x, y, var, full=True).numpy())
    assert repr(nn.KLDivLoss(reduction="batchmean")) == "KLDivLoss(reduction='batchmean')"
    with pytest.raises(eg.ArgumentError, match=r"MSELoss: reduction must be one of"):
        nn.MSELoss(reduction="batchmean")


ERRORS = [
    (lambda: F.nll_loss(t([[-1, -2]]), eg.tensor([2])), eg.ShapeError,
     r"nll_loss: target values must lie in \[0, 2\), got values in \[2, 2\]"),
    (lambda: F.cross_entropy(t([[1, 2]]), eg.tensor([-1])), eg.ShapeError, r"must lie in \[0, 2\)"),
    (lambda: F.cross_entropy(t([[1, 2]]), eg.tensor([0]), weight=t([1, 2, 3])), eg.ShapeError,
     r"cross_entropy: weight has shape \(3,\); expected \(2,\)"),
    (lambda: F.cross_entropy(t([[1, 2]]), eg.tensor([0]), weight=t([1, 2], np.float32)),
     eg.DTypeError, r"weight has dtype float32; expected input's float64"),
    (lambda: F.cross_entropy(t([[1, 2]]), t([[0.5, 0.5, 0]])), eg.DTypeError,
     r"cross_entropy: target must hold integer class indices, got dtype float64"),
    (lambda: F.cross_entropy(t([[1, 2]]), eg.tensor([[0, 1]])), eg.DTypeError,
     r"holds class probabilities and must be floating point, got dtype int64"),
    (lambda: F.cross_entropy(t([[1, 2]]), eg.tensor([0]), label_smoothing=1.5), eg.ArgumentError,
     r"label_smoothing must lie in \[0, 1\]"),
    (lambda: F.nll_loss(t([[1, 2]]), eg.tensor([0]), reduction="avg"), eg.ArgumentError,
     r"nll_loss: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'"),
    (lambda: F.l1_loss(t([1, 2]), t([1])), eg.ShapeError, r"l1_loss: input has shape \(2,\)"),
    (lambda: F.binary_cross_entropy(t([1.5]), t([1])), eg.ArgumentError,
     r"binary_cross_entropy: input must hold probabilities in \[0, 1\]"),
    (lambda: F.kl_div(t([1]), t([1]), reduction="batchsum"), eg.ArgumentError, r"'batchmean'"),
    (lambda: F.huber_loss(t([1]), t([1]), delta=-1.0), eg.ArgumentError, r"non-negative"),
    (lambda: F.cosine_similarity(t([[1, 2]]), t([[1, 2, 3]])), eg.ShapeError, r"do not broadcast"),
    (lambda: F.gaussian_nll_loss(t([1, 2]), t([1, 2]), t([-1.0])), eg.ArgumentError, r"negative"),
    (lambda: F.cosine_embedding_loss(t([[1, 2]]), t([[1, 2]]), t([1, 1])), eg.ShapeError,
     r"cosine_embedding_loss: target of shape \(2,\) does not fit inputs of shape \(1, 2\)"),
    (lambda: F.cosine_embedding_loss(t([[[1, 2]]]), t([[[1, 2]]]), t([[1]])), eg.ShapeError,
     r"expected two \(N, D\) or \(D,\) inputs"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_on_cuda_the_composed_losses_match_cpu():
    rng = np.random.default_rng(2)
    x, target, weight = rng.normal(size=(2, 3)), np.array([2, 0]), rng.uniform(0.5, 2, 3)
    for device in ("cpu", "cuda"):
        loss = F.cross_entropy(t(x, device=device), eg.tensor(target, device=device),
                               t(weight, device=device), label_smoothing=0.1)
        np.testing.assert_allclose(loss.item(), ref.cross_entropy(x, target, weight, label_smoothing=0.1),
                                   rtol=1e-12)
