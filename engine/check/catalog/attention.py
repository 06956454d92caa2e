"""The catalogue cases of the attention family: scaled dot-product attention, multi-head attention, the transformer encoder layer, bilinear."""
import numpy as np  # noqa: F401

import kernels.reference as ref  # noqa: F401

from ...nn import functional as F  # noqa: F401
from .drawing import Case  # noqa: F401

CASES = []
