"""The references of the attention family: scaled dot-product attention, multi-head attention,
bilinear. One query row at a time: its scores, the keys that take part, their softmax, the sum
of the values they weight."""
import math

import numpy as np

__all__ = ["scaled_dot_product_attention", "multi_head_attention", "bilinear"]


def _attend_row(q, keys, values, scale, bias, empty_row):
    """The attention of one query vector q over keys (S, E) and values (S, Ev), with bias[j]
    added to the score of key j (-inf: it takes no part). A row with no key gives empty_row."""
    scores = [scale * sum(q[e] * key[e] for e in range(len(q))) + bias[j]
              for j, key in enumerate(keys)]
    if all(s == -math.inf for s in scores):
        return np.full(values.shape[1], empty_row), np.full(len(keys), empty_row)
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    weights = np.array([x / sum(exps) for x in exps])
    return sum(w * value for w, value in zip(weights, values)), weights


def _as_bias(mask, allowed_when_true):
    """A bool mask (True: takes part, or True: masked out) or a float mask as a float bias."""
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        return np.where(mask == allowed_when_true, 0.0, -np.inf)
    return mask.astype(np.float64)


def scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal=False, scale=None,
                                 enable_gqa=False):
    q, k, v = (np.asarray(a, np.float64) for a in (query, key, value))
    length, source = q.shape[-2], k.shape[-2]
    if enable_gqa:  # key/value head h serves query heads h * group ... (h + 1) * group - 1
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    bias = np.zeros((length, source))
    if is_causal:
        bias = np.array([[0.0 if j <= i else -np.inf for j in range(source)]
                         for i in range(length)])
    if attn_mask is not None:
        bias = _as_bias(attn_mask, True)
    bias = np.broadcast_to(bias, bias.shape[:-2] + (length, source))
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2], bias.shape[:-2])
    q, k, v, bias = (np.broadcast_to(a, batch + a.shape[-2:]) for a in (q, k, v, bias))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    out = np.empty(batch + (length, v.shape[-1]))
    for b in np.ndindex(batch):
        for i in range(length):
            out[b + (i,)] = _attend_row(q[b][i], k[b], v[b], scale, bias[b][i], 0.0)[0]
    return out.astype(np.asarray(query).dtype)


def multi_head_attention(query, key, value, in_proj_weight, in_proj_bias, out_proj_weight,
                         out_proj_bias, num_heads, bias_k=None, bias_v=None, add_zero_attn=False,
                         key_padding_mask=None, attn_mask=None, need_weights=True,
                         average_attn_weights=True):
    """torch's multi-head attention, (L, N, E) inputs: (output (L, N, E), weights or None).
    in_proj_weight is (3E, E) or the three projections (E, E), (E, kdim), (E, vdim). Bool masks
    mark the keys masked out; float masks are added."""
    query, key, value = (np.asarray(a, np.float64) for a in (query, key, value))
    length, batch, embed_dim = query.shape
    heads, head_dim = num_heads, embed_dim // num_heads
    w = [np.asarray(wi, np.float64) for wi in (in_proj_weight if isinstance(
        in_proj_weight, (tuple, list)) else np.split(np.asarray(in_proj_weight), 3))]
    b = np.split(np.asarray(in_proj_bias, np.float64), 3) if in_proj_bias is not None \
        else [np.zeros(embed_dim)] * 3
    q, k, v = (x @ wi.T + bi for x, wi, bi in zip((query, key, value), w, b))
    if bias_k is not None:  # one more key and value, the same for every batch element
        k = np.concatenate([k, np.broadcast_to(bias_k, (1, batch, embed_dim))])
        v = np.concatenate([v, np.broadcast_to(bias_v, (1, batch, embed_dim))])
    if add_zero_attn:
        k = np.concatenate([k, np.zeros((1, batch, embed_dim))])
        v = np.concatenate([v, np.zeros((1, batch, embed_dim))])
    source, original = k.shape[0], key.shape[0]

    def bias(n, h, i, j):
        """The bias of key j for query i of head h of batch element n; added keys take part."""
        if j >= original:
            return 0.0
        total = 0.0
        if attn_mask is not None:
            mask = _as_bias(attn_mask, False)
            total += mask[i, j] if mask.ndim == 2 else mask[n * heads + h, i, j]
        if key_padding_mask is not None:
            total += _as_bias(key_padding_mask, False)[n, j]
        return total

    concat = np.empty((length, batch, embed_dim))
    weights = np.empty((batch, heads, length, source))
    for n in range(batch):
        for h in range(heads):
            part = slice(h * head_dim, (h + 1) * head_dim)
            for i in range(length):
                row = [bias(n, h, i, j) for j in range(source)]
                concat[i, n, part], weights[n, h, i] = _attend_row(
                    q[i, n, part], k[:, n, part], v[:, n, part], 1 / math.sqrt(head_dim), row,
                    np.nan if need_weights else 0.0)
    out = concat @ np.asarray(out_proj_weight, np.float64).T
    if out_proj_bias is not None:
        out = out + out_proj_bias
    if not need_weights:
        return out, None
    return out, weights.mean(1) if average_attn_weights else weights


def bilinear(input1, input2, weight, bias=None):
    x1, x2 = np.asarray(input1, np.float64), np.asarray(input2, np.float64)
    weight = np.asarray(weight, np.float64)
    outputs, in1, in2 = weight.shape
    out = np.empty(x1.shape[:-1] + (outputs,))
    for index in np.ndindex(x1.shape[:-1]):
        for o in range(outputs):
            out[index + (o,)] = sum(x1[index + (i,)] * weight[o, i, j] * x2[index + (j,)]
                                    for i in range(in1) for j in range(in2))
            if bias is not None:
                out[index + (o,)] += bias[o]
    return out.astype(np.asarray(input1).dtype)
