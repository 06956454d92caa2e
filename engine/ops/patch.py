"""Padding modes, pixel shuffles, patches (unfold/fold), embeddings and one-hot codes.

All are compositions of GetItem, IndexAdd, Pad, Reshape, Permute and Where, so their gradients
(to any order) come free. Gathers use host index arrays, built once per call from the shapes.
"""
import numbers

import numpy as np

from kernels.geometry import window_output_size

from ..errors import ArgumentError, DTypeError, IndexOutOfRangeError, ShapeError
from ..tensor import Tensor
from . import _checks
from .shape import GetItem, IndexAdd, Pad, getitem, permute, reshape, where

PAD_MODES = ("constant", "reflect", "replicate", "circular")


# --- padding ------------------------------------------------------------------------------------
def _source_index(mode, n, before, after):
    """The input position each output position of a padded axis reads (negative widths crop)."""
    j = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if mode == "circular":
        return j % n
    j = np.abs(j)  # reflect: mirror about the first element, then about the last
    return np.where(j >= n, 2 * (n - 1) - j, j)


def _check_mode_widths(mode, shape, pairs):
    """torch's limits on the widths of reflect and circular padding."""
    for dim, (n, (before, after)) in enumerate(zip(shape[-len(pairs):], pairs),
                                               len(shape) - len(pairs)):
        if mode == "reflect" and max(before, after) >= n:
            raise ShapeError(f"pad: reflect padding must be smaller than the padded dimension, "
                             f"got padding ({before}, {after}) at dimension {dim} of input "
                             f"shape {tuple(shape)}")
        if mode == "circular" and max(before, after) > n:
            raise ShapeError(f"pad: circular padding wraps around more than once: padding "
                             f"({before}, {after}) at dimension {dim} of input shape "
                             f"{tuple(shape)}")


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: (left, right) of the last dim, then (top, bottom) of the one
    before it, and so on; negative widths crop. "constant" fills with value (0 by default) and
    pads any number of dims; "reflect", "replicate" and "circular" pad the last 1 to 3 dims of
    a tensor with one or two dims more (a batch and a channel)."""
    _checks.require_tensor("pad", "input", input)
    if not (isinstance(pad, (tuple, list)) or (isinstance(pad, np.ndarray) and pad.ndim == 1)):
        raise ShapeError(f"pad: expected a tuple of ints (left, right, top, bottom, ...), got "
                         f"{pad!r}")
    if any(not isinstance(p, numbers.Integral) or isinstance(p, bool) for p in pad):
        raise ShapeError(f"pad: widths must be ints, got {tuple(pad)}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ShapeError(f"pad: expected an even number of at most {2 * input.ndim} widths for "
                         f"a tensor of shape {input.shape}, got {tuple(pad)}")
    if mode not in PAD_MODES:
        raise ArgumentError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)][::-1]
    x, shape = input, input.shape
    padded = shape[:len(shape) - len(pairs)] + tuple(
        n + before + after for n, (before, after) in zip(shape[len(shape) - len(pairs):], pairs))
    for dim, (n, (before, after)) in enumerate(zip(shape[len(shape) - len(pairs):], pairs),
                                               len(shape) - len(pairs)):
        if max(-before, 0) + max(-after, 0) > n:
            raise ShapeError(f"pad: negative widths ({before}, {after}) crop more than the "
                             f"size {n} of dimension {dim} of shape {shape}")
    size = int(np.prod(padded, dtype=object))
    limit = max(_checks.MAX_ELEMENTS, 64 * input.numel())
    if max(padded, default=0) > _checks.MAX_SIZE:
        raise ShapeError(f"pad: padding {tuple(pad)} makes the shape {shape} into {padded}; "
                         f"expected extents of at most {_checks.MAX_SIZE}")
    if size > limit:
        raise ShapeError(f"pad: padding {tuple(pad)} makes the shape {shape} into {padded}, "
                         f"{size} elements; expected at most {limit}")
    if mode != "constant":
        if value is not None and value != 0:
            raise ArgumentError(f"pad: mode {mode!r} takes no value, got value={value!r}")
        if len(pairs) not in (1, 2, 3) or input.ndim not in (len(pairs) + 1, len(pairs) + 2):
            raise ShapeError(f"pad: mode {mode!r} pads the last 1, 2 or 3 dims of a tensor with "
                             f"1 or 2 dims more, got {len(pad)} widths for shape {shape}")
        _check_mode_widths(mode, shape, pairs)
        first = input.ndim - len(pairs)
        for dim, (n, (before, after)) in enumerate(zip(shape[first:], pairs), first):
            if before or after:
                index = (slice(None),) * dim + (_source_index(mode, n, before, after),)
                x = GetItem.apply(x, index)
        return x
    if any(before < 0 or after < 0 for before, after in pairs):  # crop first, then pad
        x = getitem(x, (Ellipsis,) + tuple(slice(max(-before, 0), n - max(-after, 0))
                                           for n, (before, after) in
                                           zip(shape[len(shape) - len(pairs):], pairs)))
        pairs = [(max(before, 0), max(after, 0)) for before, after in pairs]
    if not any(before or after for before, after in pairs):
        return reshape(x, x.shape)
    widths = ((0, 0),) * (x.ndim - len(pairs)) + tuple(pairs)
    y = Pad.apply(x, widths)
    if value is None or value == 0:
        return y
    inside = np.zeros(y.shape, bool)
    inside[tuple(slice(before, before + n) for n, (before, _) in zip(x.shape, widths))] = True
    fill = Tensor(np.asarray(value).astype(y.dtype), device=y.device)
    return where(Tensor(inside, device=y.device), y, fill)


# --- pixel shuffles -----------------------------------------------------------------------------
def _factor(op, name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ArgumentError(f"{op}: {name} must be a positive int, got {value!r}")
    return int(value)


def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r): each group of r*r channels becomes an r x r block."""
    r = _factor("pixel_shuffle", "upscale_factor", upscale_factor)
    _checks.require_tensor("pixel_shuffle", "input", input)
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ShapeError(f"pixel_shuffle: expected an input (*, C*r*r, H, W) with channels "
                         f"divisible by r*r = {r * r}, got shape {input.shape}")
    *batch, c, h, w = input.shape
    lead = len(batch)
    x = reshape(input, *batch, c // (r * r), r, r, h, w)
    x = permute(x, *range(lead), lead, lead + 3, lead + 1, lead + 4, lead + 2)
    return reshape(x, *batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of pixel_shuffle."""
    r = _factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    _checks.require_tensor("pixel_unshuffle", "input", input)
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise ShapeError(f"pixel_unshuffle: expected an input (*, C, H*r, W*r) with height and "
                         f"width divisible by r = {r}, got shape {input.shape}")
    *batch, c, h, w = input.shape
    lead = len(batch)
    x = reshape(input, *batch, c, h // r, r, w // r, r)
    x = permute(x, *range(lead), lead, lead + 2, lead + 4, lead + 1, lead + 3)
    return reshape(x, *batch, c * r * r, h // r, w // r)


# --- patches: unfold (im2col) and its adjoint fold (col2im) ------------------------------------
def _patch_arguments(op, kernel_size, dilation, padding, stride):
    return (_checks.size_pair(op, "kernel_size", kernel_size, 1),
            _checks.size_pair(op, "dilation", dilation, 1),
            _checks.size_pair(op, "padding", padding, 0),
            _checks.size_pair(op, "stride", stride, 1))


def _blocks(op, size, kernel, dilation, padding, stride):
    """The block positions along each spatial axis, each at least 1."""
    blocks = tuple(window_output_size(*a) for a in zip(size, kernel, stride, padding, dilation))
    if min(blocks) < 1:
        raise ShapeError(f"{op}: spatial size {tuple(size)} with kernel_size {kernel}, dilation "
                         f"{dilation}, padding {padding} and stride {stride} gives "
                         f"{blocks} sliding blocks; each must be at least 1")
    return blocks


def _patch_index(kernel, dilation, stride, blocks):
    """(rows, columns) of the padded input that block element (kh*kw, L) reads."""
    rows = (np.arange(kernel[0]) * dilation[0])[:, None, None, None] + \
        (np.arange(blocks[0]) * stride[0])[None, None, :, None]
    cols = (np.arange(kernel[1]) * dilation[1])[None, :, None, None] + \
        (np.arange(blocks[1]) * stride[1])[None, None, None, :]
    shape = (kernel[0] * kernel[1], blocks[0] * blocks[1])
    return (np.broadcast_to(rows, kernel + blocks).reshape(shape),
            np.broadcast_to(cols, kernel + blocks).reshape(shape))


def _batched(op, x, rank, what):
    """x with a batch dim (and whether it had none), else ShapeError."""
    _checks.require_tensor(op, "input", x)
    if x.ndim not in (rank, rank + 1) or any(n == 0 for n in x.shape[x.ndim - rank:]):
        raise ShapeError(f"{op}: expected a non-empty input {what} (the batch N optional), "
                         f"got shape {x.shape}")
    return (reshape(x, 1, *x.shape), True) if x.ndim == rank else (x, False)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """The sliding blocks of input (N, C, H, W) as columns: (N, C*kh*kw, L), L blocks."""
    op = "unfold"
    kernel, dilation, padding, stride = _patch_arguments(op, kernel_size, dilation, padding,
                                                         stride)
    x, unbatched = _batched(op, input, 3, "(N, C, H, W)")
    n, c, h, w = x.shape
    blocks = _blocks(op, (h, w), kernel, dilation, padding, stride)
    _checks.require_output(op, (n, c * kernel[0] * kernel[1], blocks[0] * blocks[1]),
                           input_size=x.numel())
    if any(padding):
        x = Pad.apply(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    cols = GetItem.apply(x, (slice(None), slice(None)) + _patch_index(kernel, dilation, stride,
                                                                       blocks))
    cols = reshape(cols, n, c * kernel[0] * kernel[1], blocks[0] * blocks[1])
    return cols[0] if unbatched else cols


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold: columns (N, C*kh*kw, L) summed into (N, C, H, W) where their
    blocks overlap."""
    op = "fold"
    out_hw = _checks.size_pair(op, "output_size", output_size, 1)
    kernel, dilation, padding, stride = _patch_arguments(op, kernel_size, dilation, padding,
                                                         stride)
    x, unbatched = _batched(op, input, 2, "(N, C*kh*kw, L)")
    n, ck, length = x.shape
    blocks = _blocks(op, out_hw, kernel, dilation, padding, stride)
    if ck % (kernel[0] * kernel[1]):
        raise ShapeError(f"fold: input dimension 1 ({ck}) must be divisible by the product of "
                         f"kernel_size {kernel}")
    if length != blocks[0] * blocks[1]:
        raise ShapeError(f"fold: output_size {out_hw} with kernel_size {kernel}, dilation "
                         f"{dilation}, padding {padding} and stride {stride} has "
                         f"{blocks[0] * blocks[1]} sliding blocks, but input dimension 2 is "
                         f"{length}")
    c = ck // (kernel[0] * kernel[1])
    padded = (n, c, out_hw[0] + 2 * padding[0], out_hw[1] + 2 * padding[1])
    _checks.require_output(op, padded, input_size=x.numel())
    cols = reshape(x, n, c, kernel[0] * kernel[1], length)
    y = IndexAdd.apply(cols, (slice(None), slice(None)) + _patch_index(kernel, dilation, stride,
                                                                        blocks), padded)
    if any(padding):
        y = GetItem.apply(y, (Ellipsis, slice(padding[0], padding[0] + out_hw[0]),
                              slice(padding[1], padding[1] + out_hw[1])))
    return y[0] if unbatched else y


# --- embeddings and one-hot codes ---------------------------------------------------------------
def _int64_indices(op, name, t):
    _checks.require_tensor(op, name, t)
    if np.dtype(t.dtype) not in (np.int64, np.int32):
        raise DTypeError(f"{op}: {name} must be an int64 (or int32) tensor of indices, got "
                         f"{t.dtype}")
    return t.numpy().astype(np.int64)


def embedding(input, weight, padding_idx=None):
    """The rows of weight (num_embeddings, embedding_dim) that input's indices pick, of shape
    input.shape + (embedding_dim,); the row padding_idx gets no gradient."""
    _checks.require_tensor("embedding", "weight", weight)
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    index = _int64_indices("embedding", "input", input)
    rows = weight.shape[0]
    if index.size and not (0 <= index.min() and index.max() < rows):
        bad = index[(index < 0) | (index >= rows)].flat[0]
        raise IndexOutOfRangeError(f"embedding: index {bad} is out of range for a weight of "
                                   f"{rows} rows (num_embeddings)")
    out = GetItem.apply(weight, (index,))
    if padding_idx is None:
        return out
    if not isinstance(padding_idx, numbers.Integral) or not -rows <= padding_idx < rows:
        raise ArgumentError(f"embedding: padding_idx must be an int within num_embeddings "
                            f"({rows}), got {padding_idx!r}")
    padding_idx = int(padding_idx) % rows
    keep = Tensor((index != padding_idx)[..., None], device=weight.device)
    return where(keep, out, GetItem.apply(weight.detach(), (padding_idx,)))


def one_hot(tensor, num_classes=-1):
    """int64 (*, num_classes): 1 at each value's class, else 0; num_classes=-1 means max + 1."""
    _checks.require_tensor("one_hot", "tensor", tensor)
    if np.dtype(tensor.dtype) != np.int64:
        raise DTypeError(f"one_hot: expected an int64 tensor of class indices, got {tensor.dtype}")
    values = tensor.numpy()
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool) or \
            num_classes < -1:
        raise ArgumentError(f"one_hot: num_classes must be a non-negative int or -1, got "
                            f"{num_classes!r}")
    if num_classes == -1:
        if not values.size:
            raise ShapeError("one_hot: cannot infer num_classes from an empty tensor; pass "
                             "num_classes=")
        num_classes = int(values.max()) + 1
    if values.size and values.min() < 0:
        raise IndexOutOfRangeError(f"one_hot: class values must be non-negative, got "
                                   f"{values.min()}")
    if values.size and values.max() >= num_classes:
        raise IndexOutOfRangeError(f"one_hot: class values must be smaller than num_classes "
                                   f"({num_classes}), got {values.max()}")
    classes = Tensor(np.arange(num_classes), device=tensor.device)
    return (reshape(tensor, *tensor.shape, 1) == classes).astype(np.int64)


# torch.nn.functional.<name> only
FUNCTIONAL = ("pad", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold", "embedding",
              "one_hot")
# eg.<name>, as torch.<name>
__all__ = ["pixel_shuffle", "pixel_unshuffle"]
METHODS = ()
