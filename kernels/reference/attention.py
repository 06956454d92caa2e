"""The references of the attention family: scaled dot-product attention, multi-head attention, the transformer encoder layer, bilinear."""
import numpy as np  # noqa: F401

__all__ = []
