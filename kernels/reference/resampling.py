"""The references of the resampling family: interpolate in 1, 2 and 3 dimensions and all its modes, adaptive average pooling, grid_sample and affine_grid."""
import numpy as np  # noqa: F401

__all__ = []
