"""Scans along one axis: cumulative sums, products, extrema and log-sum-exps."""

__all__ = []
