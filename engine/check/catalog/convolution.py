"""The catalogue cases of the convolution family: conv1d, conv3d and the transposed convolutions, padding='same' and padding modes."""
import numpy as np  # noqa: F401

import kernels.reference as ref  # noqa: F401

from ...nn import functional as F  # noqa: F401
from .drawing import Case  # noqa: F401

CASES = []
