"""Attention layers with PyTorch's constructor arguments, parameter names and initializations."""
import copy
import math

import numpy as np

from ..arguments import count, number
from ..errors import ArgumentError
from ..ops import attention as A
from . import functional as F
from . import init
from .container import ModuleList
from .layers import Dropout, Linear
from .module import Module, Parameter
from .normalization import LayerNorm

__all__ = ["Bilinear", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]


class Bilinear(Module):
    """y = x1^T A x2 + b; weight (out, in1, in2) and bias drawn from U(-k, k), k = 1/sqrt(in1)."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        self.in1_features = count("Bilinear", "in1_features", in1_features)
        self.in2_features = count("Bilinear", "in2_features", in2_features)
        self.out_features = count("Bilinear", "out_features", out_features)
        bound = 1 / math.sqrt(in1_features)
        self.weight = init.uniform_(
            Parameter(np.empty((out_features, in1_features, in2_features), dtype)), -bound, bound)
        self.bias = init.uniform_(Parameter(np.empty(out_features, dtype)), -bound, bound) \
            if bias else None

    def forward(self, input1, input2):
        return A.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return f"in1_features={self.in1_features}, in2_features={self.in2_features}, " \
               f"out_features={self.out_features}, bias={self.bias is not None}"


class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention. Its parameters: in_proj_weight (3E, E), or q_proj_weight,
    k_proj_weight and v_proj_weight when kdim or vdim differ from embed_dim (xavier uniform);
    in_proj_bias (zeros); out_proj (a Linear, bias zeros); bias_k and bias_v (1, 1, E) with
    add_bias_kv (xavier normal). Inputs are (L, N, E), (N, L, E) with batch_first, or (L, E)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, dtype=np.float32):
        super().__init__()
        owner = "MultiheadAttention"
        self.embed_dim = count(owner, "embed_dim", embed_dim)
        self.num_heads = count(owner, "num_heads", num_heads)
        if embed_dim % num_heads:
            raise ArgumentError(f"{owner}: embed_dim ({embed_dim}) must be divisible by "
                                f"num_heads ({num_heads})")
        self.kdim = embed_dim if kdim is None else count(owner, "kdim", kdim)
        self.vdim = embed_dim if vdim is None else count(owner, "vdim", vdim)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        self.dropout = number(owner, "dropout probability", dropout, high=1.0)
        self.batch_first, self.add_zero_attn = batch_first, add_zero_attn

        def weight(*shape):
            return init.xavier_uniform_(Parameter(np.empty(shape, dtype)))
        if self._qkv_same_embed_dim:
            self.in_proj_weight = weight(3 * embed_dim, embed_dim)
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.in_proj_weight = None
            self.q_proj_weight = weight(embed_dim, embed_dim)
            self.k_proj_weight = weight(embed_dim, self.kdim)
            self.v_proj_weight = weight(embed_dim, self.vdim)
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if bias:
            init.zeros_(self.out_proj.bias)
        if add_bias_kv:
            std = math.sqrt(2.0 / (2 * embed_dim))  # xavier normal of a (1, 1, E) tensor
            self.bias_k = init.normal_(Parameter(np.empty((1, 1, embed_dim), dtype)), 0.0, std)
            self.bias_v = init.normal_(Parameter(np.empty((1, 1, embed_dim), dtype)), 0.0, std)
        else:
            self.bias_k = self.bias_v = None

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """(output, attention weights averaged over the heads, or per head (N, heads, L, S) with
        average_attn_weights=False, or None without need_weights). Bool masks mark the keys
        masked OUT (True); float masks are added to the scores."""
        batched = query.ndim == 3
        if self.batch_first and batched:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        out, weights = A.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        return (out.transpose(0, 1) if self.batch_first and batched else out), weights

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual connection and
    a LayerNorm: after the sum (post-norm, the default) or on the block's input (norm_first)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 dtype=np.float32):
        super().__init__()
        if isinstance(activation, str):
            if activation not in ACTIVATIONS:
                raise ArgumentError(f"TransformerEncoderLayer: activation should be relu/gelu, "
                                    f"not {activation}")
            activation = ACTIVATIONS[activation]
        elif not callable(activation):
            raise ArgumentError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or "
                                f"a callable, got {activation!r}")
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.activation = activation

    def _attention_block(self, x, mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _feedforward_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._attention_block(self.norm1(x), src_mask, src_key_padding_mask,
                                          is_causal)
            return x + self._feedforward_block(self.norm2(x))
        x = self.norm1(x + self._attention_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._feedforward_block(x))


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer applied in turn, then norm (if given).
    enable_nested_tensor and mask_check only steer torch's fast paths: accepted, no effect."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise ArgumentError(f"TransformerEncoder: encoder_layer must be a Module, got "
                                f"{type(encoder_layer).__name__}")
        self.num_layers = count("TransformerEncoder", "num_layers", num_layers)
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """is_causal (None: False) is a hint that mask is the causal mask, passed to each layer."""
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)
