"""The catalogue cases of the resampling family: interpolate in 1, 2 and 3 dimensions and all its modes, adaptive average pooling, grid_sample and affine_grid."""
import numpy as np  # noqa: F401

import kernels.reference as ref  # noqa: F401

from ...nn import functional as F  # noqa: F401
from .drawing import Case  # noqa: F401

CASES = []
