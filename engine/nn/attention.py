"""Attention layers with PyTorch's constructor arguments and initializations."""

__all__ = []
