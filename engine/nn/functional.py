"""The functional interface, imported as F, with PyTorch's names and defaults."""
from ..ops import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401
from ..ops.linalg import linear  # noqa: F401
from ..ops.norm import batch_norm, dropout  # noqa: F401
from ..ops import FAMILIES as _FAMILIES

for _family in _FAMILIES:  # each op family's F-only functions
    globals().update({_name: getattr(_family, _name) for _name in getattr(_family, "FUNCTIONAL", ())})
