"""Kernel and training benchmarks; PyTorch (the `bench` extra) is timed side by side when present.

The timing API: Timer (statement or callable, adaptive repeats, CUDA events on the GPU) and
measure (median and IQR after warm-up)."""
from .timing import Measurement, Timer, measure  # noqa: F401
