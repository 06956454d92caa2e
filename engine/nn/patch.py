"""Padding, pixel-shuffle, patch and embedding layers, with PyTorch's constructor arguments."""

__all__ = []
