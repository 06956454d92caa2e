"""The catalogue cases of the attention family: scaled dot-product attention (plain, with bool
and float masks, causal, grouped-query), multi-head attention as a function of its inputs and
weights, bilinear. Softmax and products are smooth: any values do; they are drawn in [-1, 1]
so that no softmax saturates. Bool masks are parameters, float masks inputs (differentiable)."""
import numpy as np

import kernels.reference as ref

from ... import ops
from ...nn import functional as F
from ...tensor import Tensor
from .drawing import Case


def _uniform(d, shape):
    return d.uniform(shape, -1.0, 1.0)


def _few(d):
    """The most batch elements or heads along one dim: 2, and 1 on the simulated cuda device,
    where each one is another block of every matrix product, and the products dominate."""
    return max(1, d.side // 2)


def _broadcasting(d, count):
    """count batch shapes that broadcast together: a common one, each dropping leading dims or
    using 1s."""
    full = d.shape(0, 2, max_side=_few(d))

    def side():
        return tuple(1 if d.integer(0, 2) == 0 else n for n in full[d.integer(0, len(full)):])
    return [side() for _ in range(count)]


def _mask_shape(d, shape):
    """A shape that broadcasts to shape: its last dims, some of them 1."""
    return tuple(1 if d.integer(0, 3) == 0 else n for n in shape[d.integer(0, len(shape) - 2):])


def _draw_sdpa(d):
    """Masks of every kind in one case (each simulated-cuda case costs seconds): none, bool
    (a query with no key gives zeros), float, causal, or grouped-query (causal or not)."""
    side = min(d.side, 3)
    length, source, features, value_features = (d.integer(1, side) for _ in range(4))
    params = {"scale": d.choice([None, 0.5])}
    mask = d.choice([None, "bool", "float", "causal", "gqa"])
    if mask == "gqa":
        batch, kv_heads = d.shape(0, 1, max_side=_few(d)), d.integer(1, _few(d))
        q_batch, k_batch = batch + (kv_heads * d.integer(1, 2),), batch + (kv_heads,)
        v_batch = k_batch
        params.update(enable_gqa=True, is_causal=d.choice([False, True]))
    else:
        q_batch, k_batch, v_batch = _broadcasting(d, 3)
    arrays = [_uniform(d, q_batch + (length, features)),
              _uniform(d, k_batch + (source, features)),
              _uniform(d, v_batch + (source, value_features))]
    if mask == "causal":
        params["is_causal"] = True
    elif mask in ("bool", "float"):
        shape = _mask_shape(d, np.broadcast_shapes(q_batch, k_batch) + (length, source))
        if mask == "bool":
            params["bool_mask"] = d.booleans(shape)
        else:
            arrays.append(_uniform(d, shape))
    return arrays, params


def _sdpa(query, key, value, float_mask=None, bool_mask=None, **options):
    mask = float_mask if bool_mask is None else Tensor(bool_mask, device=query.device)
    return F.scaled_dot_product_attention(query, key, value, mask, **options)


def _sdpa_reference(query, key, value, float_mask=None, bool_mask=None, **options):
    mask = float_mask if bool_mask is None else bool_mask
    return ref.scaled_dot_product_attention(query, key, value, mask, **options)


def _draw_mha(d):
    """A small multi-head attention (L, N, E): one vector packing query, key, value and every
    weight (each input costs the simulated-cuda gradient check forward passes), masks and
    options. Bool masks leave key 0 to every query, so that no row of the weights is empty
    (NaN, as torch)."""
    heads, side = d.integer(1, _few(d)), min(d.side, 3)
    embed = heads * d.integer(1, 2)
    length, source, batch = d.integer(1, side), d.integer(1, side), d.integer(1, _few(d))
    params = {"sizes": (length, source, batch, embed), "bias_kv": d.choice([False, True]),
              "num_heads": heads, "add_zero_attn": d.choice([False, True]),
              "need_weights": d.choice([False, True]),
              "average_attn_weights": d.choice([False, True])}
    size = sum(int(np.prod(shape)) for shape in _mha_shapes(params["sizes"], params["bias_kv"]))
    mask_shape = d.choice([(length, source), (batch * heads, length, source)])
    kind = d.choice([None, "bool", "float"])
    if kind == "bool":
        params["attn_mask"] = d.booleans(mask_shape)
        params["attn_mask"][..., 0] = False
    elif kind == "float":
        params["attn_mask"] = _uniform(d, mask_shape)
    if d.choice([False, True]):
        params["key_padding_mask"] = d.booleans((batch, source))
        params["key_padding_mask"][:, 0] = False
    return [_uniform(d, (size,))], params


def _mha_shapes(sizes, bias_kv):
    """query, key, value, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, then
    bias_k and bias_v with bias_kv."""
    length, source, batch, embed = sizes
    return [(length, batch, embed), (source, batch, embed), (source, batch, embed),
            (3 * embed, embed), (3 * embed,), (embed, embed), (embed,)] + \
        [(1, 1, embed)] * 2 * bias_kv


def _unpack(packed, sizes, bias_kv):
    """The inputs and weights packed in a vector (a Tensor or an array); bias_k and bias_v None
    without bias_kv."""
    parts, start = [], 0
    for shape in _mha_shapes(sizes, bias_kv):
        size = int(np.prod(shape))
        parts.append(packed[start:start + size].reshape(shape))
        start += size
    return parts + [None, None] * (not bias_kv)


def _mha(packed, *, sizes, bias_kv, num_heads, add_zero_attn, need_weights,
         average_attn_weights, attn_mask=None, key_padding_mask=None):
    """The output, and the weights after it (flattened) when need_weights."""
    def mask(m):
        return None if m is None else Tensor(m, device=packed.device)
    query, key, value, in_w, in_b, out_w, out_b, bias_k, bias_v = _unpack(packed, sizes, bias_kv)
    out, weights = F.multi_head_attention_forward(
        query, key, value, sizes[-1], num_heads, in_w, in_b, bias_k, bias_v, add_zero_attn, 0.0,
        out_w, out_b, key_padding_mask=mask(key_padding_mask), need_weights=need_weights,
        attn_mask=mask(attn_mask), average_attn_weights=average_attn_weights)
    return out if weights is None else ops.cat([out.reshape(-1), weights.reshape(-1)])


def _mha_reference(packed, *, sizes, bias_kv, **options):
    query, key, value, in_w, in_b, out_w, out_b, bias_k, bias_v = _unpack(packed, sizes, bias_kv)
    out, weights = ref.multi_head_attention(query, key, value, in_w, in_b, out_w, out_b,
                                            bias_k=bias_k, bias_v=bias_v, **options)
    return out if weights is None else np.concatenate([out.ravel(), weights.ravel()])


def _draw_bilinear(d):
    batch = d.shape(0, 2, max_side=_few(d))
    in1, in2, out = (d.integer(1, 3) for _ in range(3))
    arrays = [_uniform(d, batch + (in1,)), _uniform(d, batch + (in2,)),
              _uniform(d, (out, in1, in2))]
    return arrays + [_uniform(d, (out,))] * d.integer(0, 1), {}


CASES = [
    Case("scaled_dot_product_attention", _sdpa, _sdpa_reference, _draw_sdpa,
         simulator_examples=1),
    Case("multi_head_attention", _mha, _mha_reference, _draw_mha, simulator_examples=1),
    Case("bilinear", F.bilinear, ref.bilinear, _draw_bilinear, simulator_examples=1),
]
