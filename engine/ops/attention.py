"""Attention: scaled dot-product attention, multi-head attention and the bilinear form, composed
of differentiable ops (matmul, softmax, where, dropout), so their gradients to any order come
free. Masks become an additive bias: 0 where a key takes part, -inf where it does not."""
import math

import numpy as np

from ..arguments import count, number
from ..errors import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor
from . import _checks
from .activation import softmax
from .index import masked_fill
from .linalg import linear, matmul
from .norm import dropout
from .patch import pad
from .shape import cat, where


def _bias(op, name, mask, dtype, allowed_when_true):
    """A bool mask (True: the key takes part if allowed_when_true, else it is masked out) or a
    float mask (added as it is) as an additive float bias of dtype."""
    _checks.require_tensor(op, name, mask)
    if mask.dtype == np.bool_:
        zero = Tensor(np.zeros((), dtype), device=mask.device)
        minus_inf = Tensor(np.asarray(-np.inf, dtype), device=mask.device)
        return where(mask, zero, minus_inf) if allowed_when_true else where(mask, minus_inf, zero)
    if np.dtype(mask.dtype).kind != "f":
        raise DTypeError(f"{op}: {name} must be a bool or floating-point tensor, got dtype "
                         f"{mask.dtype}")
    return mask.astype(dtype)


def _attend(query, key, value, bias, dropout_p, scale, empty_rows_to_zero):
    """softmax(query @ key^T * scale + bias) @ value and the weights (after dropout). A row whose
    every key is masked out gives NaN, as torch's softmax, or zeros (torch's SDPA): its scores are
    then zeroed before the softmax, so that no NaN reaches a gradient either."""
    scores = matmul(query, key.transpose(-2, -1)) * scale
    if bias is not None:
        scores = scores + bias
    if bias is not None and empty_rows_to_zero:
        empty = (bias == -np.inf).all(-1, keepdim=True)
        weights = masked_fill(softmax(masked_fill(scores, empty, 0.0), -1), empty, 0.0)
    else:
        weights = softmax(scores, -1)
    weights = dropout(weights, dropout_p)
    return matmul(weights, value), weights


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over (..., L, E), (..., S, E), (..., S, Ev)
    with batch dims broadcast. attn_mask: bool (True: the key takes part) or float (added);
    is_causal masks the keys after each query (top-left aligned); scale defaults to
    1/sqrt(E); enable_gqa shares each key/value head among query.shape[-3] // heads query heads.
    Dropout always applies (pass dropout_p=0.0 in evaluation), as torch."""
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _checks.require_tensor(op, name, t)
        if t.ndim < 2:
            raise ShapeError(f"{op}: {name} must have at least 2 dims (..., length, features), "
                             f"got shape {t.shape}")
    _checks.require_float(op, query.dtype)
    if not key.dtype == value.dtype == query.dtype:
        raise DTypeError(f"{op}: query, key and value must have one dtype, got {query.dtype}, "
                         f"{key.dtype} and {value.dtype}")
    if key.shape[-1] != query.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"{op}: expected query (..., L, E), key (..., S, E) and value "
                         f"(..., S, Ev), got shapes {query.shape}, {key.shape} and {value.shape}")
    if is_causal and attn_mask is not None:
        raise ArgumentError(f"{op}: explicit attn_mask should not be set when is_causal=True")
    dropout_p = number(op, "dropout probability", dropout_p, high=1.0)
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else \
        number(op, "scale", scale, low=-math.inf)
    if enable_gqa:
        heads = tuple(t.shape[-3] if t.ndim >= 3 else 0 for t in (query, key, value))
        if min(heads) == 0 or heads[0] % heads[1] or heads[0] % heads[2]:
            raise ShapeError(f"{op}: enable_gqa needs inputs (..., heads, L, E) whose number of "
                             f"query heads is a multiple of the key and value heads, got shapes "
                             f"{query.shape}, {key.shape} and {value.shape}")
        key = key.repeat_interleave(heads[0] // heads[1], dim=-3)
        value = value.repeat_interleave(heads[0] // heads[2], dim=-3)
    length, source = query.shape[-2], key.shape[-2]
    bias = None
    if is_causal:
        causal = np.where(np.tri(length, source, dtype=bool), 0, -np.inf).astype(query.dtype)
        bias = Tensor(causal, device=query.device)
    elif attn_mask is not None:
        bias = _bias(op, "attn_mask", attn_mask, query.dtype, True)
        scores = _checks.broadcast_shapes(op, query.shape[:-2], key.shape[:-2]) + (length, source)
        if _checks.broadcast_shapes(op, bias.shape, scores) != scores:
            raise ShapeError(f"{op}: attn_mask of shape {bias.shape} does not broadcast to the "
                             f"scores' shape {scores}")
    return _attend(query, key, value, bias, dropout_p, scale, True)[0]


# --- multi-head attention, in torch's layout: (L, N, E), or (L, E) unbatched --------------------
def _require_shape(op, name, t, shape):
    _checks.require_tensor(op, name, t)
    if t.shape != shape:
        raise ShapeError(f"{op}: {name} has shape {t.shape}; expected {shape}")


def _heads(t, batch, heads):
    """(length, N, E) -> (N * heads, length, E // heads)."""
    return t.reshape(t.shape[0], batch * heads, -1).transpose(0, 1)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """torch.nn.functional.multi_head_attention_forward: query (L, N, E), key (S, N, kdim) and
    value (S, N, vdim), or without N. Bool masks mark the positions masked OUT (True), float
    masks are added; attn_mask is (L, S) or (N * num_heads, L, S), key_padding_mask (N, S).
    Returns (output (L, N, E), weights (N, [num_heads,] L, S) or None)."""
    op = "multi_head_attention_forward"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _checks.require_tensor(op, name, t)
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ShapeError(f"{op}: expected query, key and value all (L, N, E) or all unbatched "
                         f"(L, E), got shapes {query.shape}, {key.shape} and {value.shape}")
    _checks.require_float(op, query.dtype)
    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            _checks.require_tensor(op, "key_padding_mask", key_padding_mask)
            key_padding_mask = key_padding_mask.unsqueeze(0)
    length, batch, embed_dim = query.shape
    source = key.shape[0]
    heads = count(op, "num_heads", num_heads)
    if embed_dim != embed_dim_to_check or embed_dim % heads:
        raise ShapeError(f"{op}: query has embed_dim {embed_dim}; expected embed_dim_to_check "
                         f"({embed_dim_to_check}), divisible by num_heads ({heads})")
    if key.shape[:2] != (source, batch) or value.shape[:2] != (source, batch):
        raise ShapeError(f"{op}: key and value must be (S, N, *) with the batch N of query "
                         f"{query.shape}, got shapes {key.shape} and {value.shape}")
    if is_causal and attn_mask is None:
        raise ArgumentError(f"{op}: is_causal is a hint that attn_mask is the causal mask; it "
                            f"needs attn_mask")
    dropout_p = number(op, "dropout probability", dropout_p, high=1.0)
    dropout_p = dropout_p if training else 0.0

    # the input projections
    if use_separate_proj_weight:
        _require_shape(op, "q_proj_weight", q_proj_weight, (embed_dim, embed_dim))
        _require_shape(op, "k_proj_weight", k_proj_weight, (embed_dim, key.shape[-1]))
        _require_shape(op, "v_proj_weight", v_proj_weight, (embed_dim, value.shape[-1]))
        weights = (q_proj_weight, k_proj_weight, v_proj_weight)
    else:
        _require_shape(op, "in_proj_weight", in_proj_weight, (3 * embed_dim, embed_dim))
        weights = in_proj_weight.chunk(3)
    if in_proj_bias is not None:
        _require_shape(op, "in_proj_bias", in_proj_bias, (3 * embed_dim,))
    biases = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
    # on (length * N, features): one 2-D matrix product, not one per position
    q, k, v = (linear(x.reshape(-1, x.shape[-1]), w, b).reshape(x.shape[0], batch, embed_dim)
               for x, w, b in zip((query, key, value), weights, biases))

    # the masks, as float biases: attn_mask (1 or N * heads, L, S), key_padding_mask (N, S)
    if attn_mask is not None:
        attn_mask = _bias(op, "attn_mask", attn_mask, q.dtype, False)
        if attn_mask.ndim == 2 and attn_mask.shape == (length, source):
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.shape != (batch * heads, length, source):
            raise ShapeError(f"{op}: attn_mask has shape {attn_mask.shape}; expected "
                             f"{(length, source)} or {(batch * heads, length, source)}")
    if key_padding_mask is not None:
        key_padding_mask = _bias(op, "key_padding_mask", key_padding_mask, q.dtype, False)
        if key_padding_mask.shape != (batch, source):
            raise ShapeError(f"{op}: key_padding_mask has shape {key_padding_mask.shape}; "
                             f"expected {(batch, source) if batched else (source,)}")

    def one_more_key(k, v, k_extra, v_extra, axis):
        """k and v with a key more along axis, which every mask lets take part."""
        masks = [None if m is None else pad(m, (0, 1)) for m in (attn_mask, key_padding_mask)]
        return cat([k, k_extra], axis), cat([v, v_extra], axis), masks

    if (bias_k is None) != (bias_v is None):
        raise ArgumentError(f"{op}: give both bias_k and bias_v, or neither")
    if bias_k is not None:
        _require_shape(op, "bias_k", bias_k, (1, 1, embed_dim))
        _require_shape(op, "bias_v", bias_v, (1, 1, embed_dim))
        k, v, (attn_mask, key_padding_mask) = one_more_key(
            k, v, bias_k.expand(1, batch, embed_dim), bias_v.expand(1, batch, embed_dim), 0)
    q, k, v = (_heads(t, batch, heads) for t in (q, k, v))
    head_dim = embed_dim // heads
    for name, static in (("static_k", static_k), ("static_v", static_v)):
        if static is not None:
            if bias_k is not None:
                raise ArgumentError(f"{op}: bias_k and bias_v cannot be added to {name}")
            _checks.require_tensor(op, name, static)
            if static.ndim != 3 or static.shape[0] != batch * heads or static.shape[2] != head_dim:
                raise ShapeError(f"{op}: {name} has shape {static.shape}; expected "
                                 f"({batch * heads}, S, {head_dim})")
    k = k if static_k is None else static_k
    v = v if static_v is None else static_v
    if k.shape[1] != v.shape[1]:
        raise ShapeError(f"{op}: keys ({k.shape[1]}) and values ({v.shape[1]}) differ in length")
    if add_zero_attn:
        zeros = Tensor(np.zeros((batch * heads, 1, head_dim), k.dtype), device=k.device)
        k, v, (attn_mask, key_padding_mask) = one_more_key(k, v, zeros, zeros, 1)
    source = k.shape[1]
    for name, mask in (("attn_mask", attn_mask), ("key_padding_mask", key_padding_mask)):
        if mask is not None and mask.shape[-1] != source:
            raise ShapeError(f"{op}: {name} has {mask.shape[-1]} keys; the attention has "
                             f"{source}")

    bias = attn_mask  # (1 or N * heads, L, S), then key_padding_mask added per batch element
    if key_padding_mask is not None:
        padding = key_padding_mask.reshape(batch, 1, 1, source).expand(batch, heads, 1, source)
        padding = padding.reshape(batch * heads, 1, source)
        bias = padding if bias is None else bias + padding
    # torch gives the weights through its softmax (NaN for a row with no key) and otherwise
    # calls scaled_dot_product_attention (zeros for such a row)
    out, weights = _attend(q, k, v, bias, dropout_p, 1 / math.sqrt(head_dim), not need_weights)
    out = out.transpose(0, 1).reshape(length * batch, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(length, batch, embed_dim)
    if need_weights:
        weights = weights.reshape(batch, heads, length, source)
        if average_attn_weights:
            weights = weights.mean(1)
    else:
        weights = None
    if not batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights


# --- the bilinear form ----------------------------------------------------------------------------
def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]."""
    op = "bilinear"
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        _checks.require_tensor(op, name, t)
    _checks.require_tensor(op, "bias", bias, optional=True)
    if weight.ndim != 3 or input1.ndim < 1 or input2.ndim < 1 or \
            input1.shape[:-1] != input2.shape[:-1] or \
            (input1.shape[-1], input2.shape[-1]) != weight.shape[1:]:
        raise ShapeError(f"{op}: expected input1 (*, in1), input2 (*, in2) and weight "
                         f"(out, in1, in2), got shapes {input1.shape}, {input2.shape} and "
                         f"{weight.shape}")
    out, in1, in2 = weight.shape
    if bias is not None and bias.shape != (out,):
        raise ShapeError(f"{op}: bias has shape {bias.shape}; expected ({out},)")
    # a linear layer on the outer products input1[..., i] * input2[..., j], one row each
    batch = input1.shape[:-1]
    outer = (input1.unsqueeze(-1) * input2.unsqueeze(-2)).reshape(math.prod(batch), in1 * in2)
    return linear(outer, weight.reshape(out, in1 * in2), bias).reshape(*batch, out)


__all__ = ["bilinear"]  # torch.<name> (also F.<name>)
METHODS = ()
FUNCTIONAL = ("scaled_dot_product_attention", "multi_head_attention_forward", "bilinear")
