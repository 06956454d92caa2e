"""Kernel and training benchmarks; PyTorch (the `bench` extra) is timed side by side when present."""
import engine  # noqa: F401  (first, so that its OpenBLAS thread settings apply before numpy loads)
