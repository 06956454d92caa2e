"""Kernel and training benchmarks; PyTorch (the `bench` extra) is timed side by side when present."""
