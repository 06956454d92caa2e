"""The catalogue cases of the pooling family: max/avg pooling in 1, 2 and 3 dimensions with their options, unpooling, adaptive and power-average pooling."""
import numpy as np  # noqa: F401

import kernels.reference as ref  # noqa: F401

from ...nn import functional as F  # noqa: F401
from .drawing import Case  # noqa: F401

CASES = []
