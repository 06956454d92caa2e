"""Normalization layers, with PyTorch's constructor arguments."""

__all__ = []
