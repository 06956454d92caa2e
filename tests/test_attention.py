"""The attention family beyond the catalogue: values worked by hand, the masks and their
equivalences, grouped-query attention, dropout in training and evaluation, torch's parameter
names and initializations of the layers, unbatched and batch_first inputs, errors."""
import math

import numpy as np
import pytest

import engine as eg
from engine import nn
from engine.nn import functional as F

E = math.e


def _rand(*shape, seed=0):
    return eg.tensor(np.random.default_rng(seed).uniform(-1, 1, shape))


# --- scaled_dot_product_attention ---------------------------------------------------------------
def test_sdpa_by_hand():
    q, k = eg.tensor([[1.0, 0.0]]), eg.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = eg.tensor([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([E, 1.0]) / (E + 1)  # scores [1, 0] with scale 1
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, scale=1.0).numpy(),
                               [w @ v.numpy()], rtol=1e-6)
    s = math.exp(2 ** -0.5)  # the default scale, 1/sqrt(2)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v).numpy(),
                               [np.array([s, 1.0]) / (s + 1) @ v.numpy()], rtol=1e-6)


def test_sdpa_masks_bool_float_and_causal_agree():
    q, k, v = _rand(2, 3, 4, seed=1), _rand(2, 3, 4, seed=2), _rand(2, 3, 5, seed=3)
    allowed = np.tril(np.ones((3, 3), bool))
    causal = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    as_bool = F.scaled_dot_product_attention(q, k, v, attn_mask=eg.tensor(allowed))
    as_float = F.scaled_dot_product_attention(
        q, k, v, attn_mask=eg.tensor(np.where(allowed, 0.0, -np.inf)))
    np.testing.assert_allclose(as_bool.numpy(), causal.numpy())
    np.testing.assert_allclose(as_float.numpy(), causal.numpy())
    np.testing.assert_allclose(causal.numpy()[:, 0], v.numpy()[:, 0])  # the first sees itself


def test_sdpa_causal_is_top_left_aligned_for_more_keys_than_queries():
    q, k, v = _rand(2, 3, seed=1), _rand(4, 3, seed=2), _rand(4, 2, seed=3)
    mask = eg.tensor(np.tri(2, 4, dtype=bool))
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy(),
                               F.scaled_dot_product_attention(q, k, v, mask).numpy())


def test_sdpa_float_mask_is_added_to_the_scores():
    q, k, v = _rand(1, 2, 3), _rand(1, 4, 3, seed=1), _rand(1, 4, 2, seed=2)
    bias = np.random.default_rng(3).uniform(-1, 1, (2, 4))
    out = F.scaled_dot_product_attention(q, k, v, eg.tensor(bias), scale=1.0)
    scores = q.numpy()[0] @ k.numpy()[0].T + bias
    w = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(out.numpy()[0], w @ v.numpy()[0])


def test_sdpa_query_with_every_key_masked_gives_zeros_and_finite_gradients():
    q = eg.tensor(np.ones((2, 2)), requires_grad=True)
    k, v = _rand(3, 2), _rand(3, 2, seed=1)
    mask = eg.tensor([[True, False, True], [False, False, False]])
    out = F.scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_array_equal(out.numpy()[1], [0, 0])
    out.sum().backward()
    assert np.isfinite(q.grad.numpy()).all() and not q.grad.numpy()[1].any()


def test_sdpa_broadcasts_batch_dims():
    q, k, v = _rand(2, 3, 4, 5), _rand(3, 6, 5, seed=1), _rand(1, 1, 6, 2, seed=2)
    out = F.scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 4, 2)
    one = F.scaled_dot_product_attention(q[1, 2], k[2], v[0, 0])
    np.testing.assert_allclose(out.numpy()[1, 2], one.numpy())


def test_sdpa_grouped_query_attention_shares_key_value_heads():
    q, k, v = _rand(2, 4, 3, 2), _rand(2, 2, 5, 2, seed=1), _rand(2, 2, 5, 3, seed=2)
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    repeated = F.scaled_dot_product_attention(q, k.repeat_interleave(2, dim=1),
                                              v.repeat_interleave(2, dim=1))
    np.testing.assert_allclose(out.numpy(), repeated.numpy())
    np.testing.assert_allclose(out.numpy()[:, 1],  # query head 1 reads key/value head 0
                               F.scaled_dot_product_attention(q[:, 1], k[:, 0], v[:, 0]).numpy())


def test_sdpa_dropout_applies_whatever_the_mode():
    q, k, v = _rand(3, 2), _rand(4, 2, seed=1), _rand(4, 2, seed=2)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy(),
                                  np.zeros((3, 2)))
    eg.manual_seed(0)
    dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    assert not np.allclose(dropped, F.scaled_dot_product_attention(q, k, v).numpy())


@pytest.mark.parametrize("call, error, match", [
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, eg.ones(2, 3, dtype=bool),
                                                    is_causal=True),
     eg.ArgumentError, "is_causal"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k[:, :1], v), eg.ShapeError, "key"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v[:2]), eg.ShapeError, "value"),
    (lambda q, k, v: F.scaled_dot_product_attention(q[0], k, v), eg.ShapeError, "2 dims"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, eg.ones(3, 3)), eg.ShapeError,
     "broadcast"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, eg.ones(2, 3, dtype=np.int64)),
     eg.DTypeError, "bool or floating"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k.astype(np.float32), v),
     eg.DTypeError, "one dtype"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=1.5), eg.ArgumentError,
     "dropout"),
    (lambda q, k, v: F.scaled_dot_product_attention(q[None].expand(3, 2, 2),
                                                    k[None].expand(2, 3, 2),
                                                    v[None].expand(2, 3, 2), enable_gqa=True),
     eg.ShapeError, "enable_gqa"),
])
def test_sdpa_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(_rand(2, 2), _rand(3, 2), _rand(3, 2))


def test_sdpa_integer_inputs_are_rejected():
    x = eg.tensor([[1, 2]])
    with pytest.raises(eg.DTypeError):
        F.scaled_dot_product_attention(x, x, x)


# --- bilinear -----------------------------------------------------------------------------------
def test_bilinear_by_hand():
    weight = eg.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [-1.0, 0.0]]])
    x1, x2 = eg.tensor([1.0, 2.0]), eg.tensor([3.0, -1.0])
    # x1 A x2: [1 2] [[1 2] [3 4]] [3 -1] = [7 10] . [3 -1] = 11; [-2 1] . [3 -1] = -7
    np.testing.assert_allclose(F.bilinear(x1, x2, weight).numpy(), [11, -7])
    np.testing.assert_allclose(F.bilinear(x1[None], x2[None], weight, eg.tensor([1.0, 2.0]))
                               .numpy(), [[12, -5]])


def test_bilinear_layer_parameters_and_init():
    eg.manual_seed(0)
    layer = nn.Bilinear(4, 3, 2)
    assert layer.weight.shape == (2, 4, 3) and layer.bias.shape == (2,)
    assert set(layer.state_dict()) == {"weight", "bias"}
    bound = 1 / math.sqrt(4)  # torch's: 1/sqrt(in1_features) for the weight and the bias
    assert np.abs(layer.weight.numpy()).max() <= bound and np.abs(layer.bias.numpy()).max() <= bound
    assert layer(_rand(5, 4), _rand(5, 3)).shape == (5, 2)
    assert nn.Bilinear(2, 2, 1, bias=False).bias is None
    assert "in1_features=4, in2_features=3, out_features=2" in repr(layer)


@pytest.mark.parametrize("shapes", [((2, 3), (3, 4), (5, 3, 4)), ((2, 3), (2, 4), (5, 2, 4)),
                                    ((2, 3), (2, 4), (5, 3)), ((), (4,), (5, 1, 4))])
def test_bilinear_shape_errors(shapes):
    x1, x2, w = (eg.zeros(*s) for s in shapes)
    with pytest.raises(eg.ShapeError, match="bilinear"):
        F.bilinear(x1, x2, w)
    with pytest.raises(eg.ShapeError, match="bias"):
        F.bilinear(eg.zeros(3), eg.zeros(4), eg.zeros(5, 3, 4), eg.zeros(4))


# --- MultiheadAttention --------------------------------------------------------------------------
def test_mha_parameters_have_torch_names_shapes_and_init():
    eg.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2)
    shapes = {k: v.shape for k, v in mha.state_dict().items()}
    assert shapes == {"in_proj_weight": (24, 8), "in_proj_bias": (24,),
                      "out_proj.weight": (8, 8), "out_proj.bias": (8,)}
    assert not mha.in_proj_bias.numpy().any() and not mha.out_proj.bias.numpy().any()
    bound = math.sqrt(6 / (24 + 8))  # xavier uniform of (3E, E)
    assert np.abs(mha.in_proj_weight.numpy()).max() <= bound
    separate = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True, bias=False)
    shapes = {k: v.shape for k, v in separate.state_dict().items()}
    assert shapes == {"q_proj_weight": (8, 8), "k_proj_weight": (8, 3), "v_proj_weight": (8, 5),
                      "bias_k": (1, 1, 8), "bias_v": (1, 1, 8), "out_proj.weight": (8, 8)}
    out, weights = separate(_rand(4, 2, 8), _rand(6, 2, 3), _rand(6, 2, 5))
    assert out.shape == (4, 2, 8) and weights.shape == (2, 4, 7)  # bias_k: a key more


def test_mha_by_hand():
    """E = 1, one head, every projection 1: q = 1, keys 0 and 1, so the weights are
    softmax([0, 1]) and the output their average of the values 0 and 1."""
    mha = nn.MultiheadAttention(1, 1, dtype=np.float64)
    mha.in_proj_weight.data, mha.out_proj.weight.data = np.ones((3, 1)), np.ones((1, 1))
    out, weights = mha(eg.tensor([[1.0]]), eg.tensor([[0.0], [1.0]]), eg.tensor([[0.0], [1.0]]))
    np.testing.assert_allclose(weights.numpy(), [[1 / (1 + E), E / (1 + E)]])
    np.testing.assert_allclose(out.numpy(), [[E / (1 + E)]])


def _mha(**options):
    eg.manual_seed(0)
    mha = nn.MultiheadAttention(6, 3, dtype=np.float64, **options)
    mha.in_proj_bias.data = _rand(18, seed=9).numpy()  # non-zero, so that it is exercised
    return mha


def test_mha_weights_are_averaged_over_heads_or_per_head():
    mha = _mha()
    q, kv = _rand(4, 2, 6), _rand(5, 2, 6, seed=1)
    out, mean = mha(q, kv, kv)
    out_heads, heads = mha(q, kv, kv, average_attn_weights=False)
    assert out.shape == (4, 2, 6) and mean.shape == (2, 4, 5) and heads.shape == (2, 3, 4, 5)
    np.testing.assert_allclose(heads.numpy().sum(-1), 1.0)
    np.testing.assert_allclose(mean.numpy(), heads.numpy().mean(1))
    np.testing.assert_allclose(out_heads.numpy(), out.numpy())
    out_none, none = mha(q, kv, kv, need_weights=False)
    assert none is None
    np.testing.assert_allclose(out_none.numpy(), out.numpy())


def test_mha_matches_sdpa_over_the_projected_heads():
    mha = _mha()
    q, k, v = _rand(4, 2, 6), _rand(5, 2, 6, seed=1), _rand(5, 2, 6, seed=2)
    w, b = mha.in_proj_weight.chunk(3), mha.in_proj_bias.chunk(3)

    def heads(x, i):  # (L, N, E) -> (N, heads, L, E / heads)
        return F.linear(x, w[i], b[i]).reshape(x.shape[0], 2, 3, 2).permute(1, 2, 0, 3)
    attended = F.scaled_dot_product_attention(heads(q, 0), heads(k, 1), heads(v, 2))
    expected = mha.out_proj(attended.permute(2, 0, 1, 3).reshape(4, 2, 6))
    np.testing.assert_allclose(mha(q, k, v)[0].numpy(), expected.numpy(), atol=1e-12)


def test_mha_batch_first_and_unbatched_inputs():
    mha, first = _mha(), _mha(batch_first=True)
    q, kv = _rand(4, 2, 6), _rand(5, 2, 6, seed=1)
    out, weights = mha(q, kv, kv)
    out_first, weights_first = first(q.transpose(0, 1), kv.transpose(0, 1), kv.transpose(0, 1))
    np.testing.assert_allclose(out_first.numpy(), out.numpy().transpose(1, 0, 2))
    np.testing.assert_allclose(weights_first.numpy(), weights.numpy())
    mask = eg.tensor([False, True, False, False, True])
    one, one_weights = first(q[:, 1], kv[:, 1], kv[:, 1], key_padding_mask=mask)
    batch, batch_weights = mha(q, kv, kv, key_padding_mask=mask[None].expand(2, 5))
    assert one.shape == (4, 6) and one_weights.shape == (4, 5)
    np.testing.assert_allclose(one.numpy(), batch.numpy()[:, 1])
    np.testing.assert_allclose(one_weights.numpy(), batch_weights.numpy()[1])


def test_mha_masks_mark_the_keys_left_out():
    mha = _mha()
    q, kv = _rand(3, 2, 6), _rand(4, 2, 6, seed=1)
    padding = np.array([[False, False, True, False], [True, False, False, False]])
    _, weights = mha(q, kv, kv, key_padding_mask=eg.tensor(padding))
    assert not weights.numpy()[padding[:, None, :].repeat(3, 1)].any()
    as_float = mha(q, kv, kv, key_padding_mask=eg.tensor(np.where(padding, -np.inf, 0.0)))[1]
    np.testing.assert_allclose(as_float.numpy(), weights.numpy())
    causal = np.triu(np.ones((3, 4), bool), 1)
    per_head = eg.tensor(np.broadcast_to(causal, (6, 3, 4)).copy())
    _, masked = mha(q, kv, kv, attn_mask=eg.tensor(causal), average_attn_weights=False)
    assert not masked.numpy()[:, :, causal].any()
    np.testing.assert_allclose(mha(q, kv, kv, attn_mask=per_head)[1].numpy(),
                               masked.numpy().mean(1))


def test_mha_row_with_no_key_gives_nan_weights_or_zero_attention_as_torch():
    mha = _mha()
    q, kv = _rand(2, 1, 6), _rand(3, 1, 6, seed=1)
    mask = eg.tensor([[True, True, True], [False, True, False]])
    with np.errstate(invalid="ignore"):  # softmax of a row of -inf
        out, weights = mha(q, kv, kv, attn_mask=mask)
    assert np.isnan(weights.numpy()[0, 0]).all() and np.isnan(out.numpy()[0]).all()
    out, _ = mha(q, kv, kv, attn_mask=mask, need_weights=False)
    np.testing.assert_allclose(out.numpy()[0, 0], mha.out_proj.bias.numpy())  # zero attention


def test_mha_add_zero_attn_and_bias_kv_add_a_key():
    mha = _mha(add_zero_attn=True)
    q, kv = _rand(2, 1, 6), _rand(3, 1, 6, seed=1)
    padding = eg.tensor([[True, True, True]])  # only the zero key is left
    out, weights = mha(q, kv, kv, key_padding_mask=padding)
    np.testing.assert_allclose(weights.numpy(), [[[0, 0, 0, 1]] * 2])
    np.testing.assert_allclose(out.numpy()[:, 0], np.tile(mha.out_proj.bias.numpy(), (2, 1)))


def test_mha_dropout_in_training_only():
    mha = _mha(dropout=0.5)
    q, kv = _rand(4, 2, 6), _rand(5, 2, 6, seed=1)
    eg.manual_seed(1)
    _, trained = mha(q, kv, kv, average_attn_weights=False)
    assert (trained.numpy() == 0).any() and not np.allclose(trained.numpy().sum(-1), 1.0)
    mha.eval()
    out, weights = mha(q, kv, kv)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0)
    np.testing.assert_array_equal(mha(q, kv, kv)[0].numpy(), out.numpy())


def test_mha_static_keys_and_values_replace_the_projected_ones():
    mha = _mha()
    q, kv = _rand(2, 1, 6), _rand(3, 1, 6, seed=1)
    w, b = mha.in_proj_weight.chunk(3), mha.in_proj_bias.chunk(3)

    def heads(i):  # (S, 1, E) -> (heads, S, E / heads), as the function splits them
        return F.linear(kv, w[i], b[i]).reshape(3, 3, 2).transpose(0, 1)

    def forward(**static):
        return F.multi_head_attention_forward(
            q, kv, kv, 6, 3, mha.in_proj_weight, mha.in_proj_bias, mha.bias_k, mha.bias_v,
            False, 0.0, mha.out_proj.weight, mha.out_proj.bias, **static)
    static = forward(static_k=heads(1), static_v=heads(2) * 2.0)
    np.testing.assert_allclose(static[1].numpy(), forward()[1].numpy())  # the same keys
    np.testing.assert_allclose(static[0].numpy(), 2 * forward()[0].numpy())  # out_proj.bias 0
    with pytest.raises(eg.ShapeError, match="static_k"):
        forward(static_k=heads(1)[:, :, :1])
    with pytest.raises(eg.ArgumentError, match="bias_k"):
        F.multi_head_attention_forward(q, kv, kv, 6, 3, mha.in_proj_weight, None, _rand(1, 1, 6),
                                       _rand(1, 1, 6), False, 0.0, mha.out_proj.weight, None,
                                       static_k=heads(1))


@pytest.mark.parametrize("call, error, match", [
    (lambda: nn.MultiheadAttention(6, 4), eg.ArgumentError, "divisible"),
    (lambda: _mha()(_rand(2, 1, 5), _rand(2, 1, 5), _rand(2, 1, 5)), eg.ShapeError,
     "embed_dim"),
    (lambda: _mha()(_rand(2, 1, 6), _rand(3, 2, 6), _rand(3, 2, 6)), eg.ShapeError, "batch"),
    (lambda: _mha()(_rand(2, 1, 6), _rand(3, 1, 6), _rand(3, 1, 6), is_causal=True),
     eg.ArgumentError, "needs attn_mask"),
    (lambda: _mha()(_rand(2, 1, 6), _rand(3, 1, 6), _rand(3, 1, 6), attn_mask=eg.zeros(3, 3)),
     eg.ShapeError, "attn_mask"),
    (lambda: _mha()(_rand(2, 1, 6), _rand(3, 1, 6), _rand(3, 1, 6),
                    key_padding_mask=eg.zeros(1, 2, dtype=bool)), eg.ShapeError,
     "key_padding_mask"),
    (lambda: _mha()(_rand(2, 1, 6), _rand(3, 1, 6), _rand(3, 1, 6),
                    key_padding_mask=eg.zeros(1, 3, dtype=np.int64)), eg.DTypeError,
     "key_padding_mask"),
    (lambda: _mha()(_rand(2, 6), _rand(3, 1, 6), _rand(3, 1, 6)), eg.ShapeError, "unbatched"),
])
def test_mha_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- TransformerEncoderLayer, TransformerEncoder -------------------------------------------------
def test_encoder_layer_parameters_and_shapes():
    layer = nn.TransformerEncoderLayer(6, 2, dim_feedforward=8, batch_first=True)
    names = set(layer.state_dict())
    assert names == {"self_attn.in_proj_weight", "self_attn.in_proj_bias",
                     "self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear1.weight",
                     "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight",
                     "norm1.bias", "norm2.weight", "norm2.bias"}
    assert layer(_rand(3, 5, 6).astype(np.float32)).shape == (3, 5, 6)
    assert layer(_rand(5, 6).astype(np.float32)).shape == (5, 6)
    assert "bias" not in "".join(nn.TransformerEncoderLayer(6, 2, bias=False).state_dict())


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_by_its_blocks(norm_first):
    """Eval mode (no dropout): post-norm norm2(x + ff(x)) after norm1(src + attention(src)), or
    pre-norm x + ff(norm2(x)) after x = src + attention(norm1(src))."""
    eg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=5, activation="gelu",
                                       norm_first=norm_first, dtype=np.float64).eval()
    src = _rand(3, 2, 4)

    def attention(x):
        return layer.self_attn(x, x, x)[0]

    def ff(x):
        return layer.linear2(F.gelu(layer.linear1(x)))
    if norm_first:
        x = src + attention(layer.norm1(src))
        expected = x + ff(layer.norm2(x))
    else:
        x = layer.norm1(src + attention(src))
        expected = layer.norm2(x + ff(x))
    np.testing.assert_allclose(layer(src).numpy(), expected.numpy(), atol=1e-12)


def test_encoder_layer_masks_and_dropout():
    eg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=5, dtype=np.float64)
    src = _rand(3, 2, 4)
    padding = eg.tensor([[False, False, True], [False, False, False]])
    changed = src.numpy().copy()
    changed[2, 0] += 1.0  # a padded position: the others do not see it
    layer.eval()
    out = layer(src, src_key_padding_mask=padding).numpy()
    out_changed = layer(eg.tensor(changed), src_key_padding_mask=padding).numpy()
    np.testing.assert_allclose(out_changed[:2, 0], out[:2, 0], atol=1e-12)
    causal = eg.tensor(np.triu(np.ones((3, 3), bool), 1))
    assert not np.allclose(layer(src, src_mask=causal, is_causal=True).numpy(), layer(src).numpy())
    layer.train()
    assert not np.allclose(layer(src).numpy(), layer(src).numpy())  # dropout 0.1


def test_encoder_layer_activations():
    nn.TransformerEncoderLayer(4, 2, activation=F.tanh)(_rand(2, 1, 4).astype(np.float32))
    for bad in ("swish", 3):
        with pytest.raises(eg.ArgumentError, match="activation"):
            nn.TransformerEncoderLayer(4, 2, activation=bad)


def test_encoder_stacks_deep_copies_then_norm():
    eg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=5, dtype=np.float64)
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(4, dtype=np.float64)).eval()
    first, second = encoder.layers
    assert first is not layer and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(first.linear1.weight.numpy(), layer.linear1.weight.numpy())
    assert len(list(encoder.parameters())) == 2 * len(list(layer.parameters())) + 2
    src = _rand(3, 2, 4)
    np.testing.assert_allclose(encoder(src).numpy(),
                               encoder.norm(second(first(src))).numpy(), atol=1e-12)
    with pytest.raises(eg.ArgumentError):
        nn.TransformerEncoder(F.relu, 2)
