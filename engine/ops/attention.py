"""Attention: scaled dot-product attention and the bilinear form, composed of differentiable ops."""

__all__ = []  # F.<name> only
METHODS = ()
FUNCTIONAL = ()
