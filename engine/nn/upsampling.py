"""Resampling layers with PyTorch's constructor arguments."""
from ..arguments import counts, number
from ..errors import ArgumentError
from . import functional as F
from .module import Module

__all__ = ["Upsample"]


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ArgumentError("Upsample: give exactly one of size and scale_factor")
        for factor in (scale_factor if isinstance(scale_factor, (tuple, list)) else
                       () if scale_factor is None else (scale_factor,)):
            number("Upsample", "scale_factor", factor, low_open=True)
        if size is not None:
            counts("Upsample", "size", size)
        self.size, self.scale_factor = size, scale_factor
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"
