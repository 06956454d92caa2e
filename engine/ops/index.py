"""Gathering, scattering, sorting and selecting along a dimension."""

__all__ = []
METHODS = ()
