"""Padding, pixel-shuffle, patch and embedding layers, with PyTorch's constructor arguments."""
import numbers

import numpy as np

from ..arguments import count
from ..errors import ArgumentError
from ..ops import patch as P
from . import init
from .module import Module, Parameter

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d", "PixelShuffle", "PixelUnshuffle", "Unfold", "Fold",
           "Embedding"]


# --- padding ------------------------------------------------------------------------------------
class _Pad(Module):
    """Pads the last `dims` dims: padding is an int (every side) or 2*dims ints (left, right,
    top, bottom, front, back), as torch."""
    mode, dims = "constant", 1

    def __init__(self, padding, value=0.0):
        super().__init__()
        layer = type(self).__name__
        sides = (padding,) * 2 * self.dims if isinstance(padding, numbers.Integral) else padding
        if not isinstance(sides, (tuple, list)) or len(sides) != 2 * self.dims or not all(
                isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in sides):
            raise ArgumentError(f"{layer}: padding must be an int or {2 * self.dims} ints, got "
                                f"{padding!r}")
        self.padding = tuple(int(p) for p in sides)
        self.value = value

    def forward(self, input):
        value = self.value if self.mode == "constant" else None
        return P.pad(input, self.padding, self.mode, value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}" if type(self).__name__.startswith(
            "Constant") else f"{self.padding}"


def _pad_layer(name, mode, dims, takes_value=False):
    if takes_value:
        def __init__(self, padding, value):
            _Pad.__init__(self, padding, value)
    else:
        def __init__(self, padding):
            _Pad.__init__(self, padding)
    return type(name, (_Pad,), {"mode": mode, "dims": dims, "__init__": __init__,
                                "__doc__": f"torch.nn.{name}: {mode} padding of the last "
                                           f"{dims} dims."})


ZeroPad1d, ZeroPad2d, ZeroPad3d = (_pad_layer(f"ZeroPad{n}d", "constant", n) for n in (1, 2, 3))
ConstantPad1d, ConstantPad2d, ConstantPad3d = (
    _pad_layer(f"ConstantPad{n}d", "constant", n, takes_value=True) for n in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (
    _pad_layer(f"ReflectionPad{n}d", "reflect", n) for n in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (
    _pad_layer(f"ReplicationPad{n}d", "replicate", n) for n in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (
    _pad_layer(f"CircularPad{n}d", "circular", n) for n in (1, 2, 3))


# --- pixel shuffles -----------------------------------------------------------------------------
class PixelShuffle(Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = count("PixelShuffle", "upscale_factor", upscale_factor)

    def forward(self, input):
        return P.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = count("PixelUnshuffle", "downscale_factor", downscale_factor)

    def forward(self, input):
        return P.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


# --- patches ------------------------------------------------------------------------------------
class Unfold(Module):
    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        return P.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, " \
               f"padding={self.padding}, stride={self.stride}"


class Fold(Module):
    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size, self.dilation = output_size, kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        return P.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return f"output_size={self.output_size}, kernel_size={self.kernel_size}, " \
               f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}"


# --- embeddings ---------------------------------------------------------------------------------
class Embedding(Module):
    """A lookup table of num_embeddings vectors of embedding_dim, drawn from N(0, 1); the row
    padding_idx starts at zero and gets no gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float32):
        super().__init__()
        self.num_embeddings = count("Embedding", "num_embeddings", num_embeddings, 0)
        self.embedding_dim = count("Embedding", "embedding_dim", embedding_dim, 0)
        if padding_idx is not None:
            if not isinstance(padding_idx, numbers.Integral) or isinstance(padding_idx, bool) \
                    or not -num_embeddings <= padding_idx < num_embeddings:
                raise ArgumentError(f"Embedding: padding_idx must be an int within "
                                    f"num_embeddings ({num_embeddings}), got {padding_idx!r}")
            padding_idx = int(padding_idx) % num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype))
        init.normal_(self.weight)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding whose weight is (a copy of) the 2-D tensor embeddings, frozen unless
        freeze=False."""
        if embeddings.ndim != 2:
            raise ArgumentError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                                f"{embeddings.shape}")
        layer = cls(*embeddings.shape, padding_idx, dtype=embeddings.dtype)
        layer.weight = Parameter(embeddings, requires_grad=not freeze)
        return layer

    def forward(self, input):
        return P.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}" + (
            "" if self.padding_idx is None else f", padding_idx={self.padding_idx}")
