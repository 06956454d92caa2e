"""Containers and small utility layers, with PyTorch's constructor arguments."""

__all__ = []
