"""The functional interface, imported as F, with PyTorch's names and defaults."""
from ..ops import (binary_cross_entropy_with_logits, cross_entropy, leaky_relu,  # noqa: F401
                   log_softmax, mse_loss, relu, sigmoid, softmax, tanh)
from ..ops.linalg import linear  # noqa: F401
from ..ops.conv import conv2d, conv_transpose2d  # noqa: F401
from ..ops.norm import batch_norm, dropout  # noqa: F401
from ..ops.pool import avg_pool2d, max_pool2d  # noqa: F401
from ..ops.resample import interpolate  # noqa: F401
from ..ops import FAMILIES as _FAMILIES

for _family in _FAMILIES:  # each op family's F-only functions
    globals().update({_name: getattr(_family, _name) for _name in getattr(_family, "FUNCTIONAL", ())})
