"""Gathering, scattering and sorting along one axis."""

__all__ = []
