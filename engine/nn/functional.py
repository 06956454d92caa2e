"""The functional interface, imported as F, with PyTorch's names and defaults."""
from ..ops import (binary_cross_entropy_with_logits, cross_entropy, leaky_relu,  # noqa: F401
                   log_softmax, matmul, mse_loss, relu, sigmoid, softmax, tanh)
from ..ops.conv import conv2d, conv_transpose2d  # noqa: F401
from ..ops.norm import batch_norm, dropout  # noqa: F401
from ..ops.pool import avg_pool2d, max_pool2d  # noqa: F401
from ..ops.resample import interpolate  # noqa: F401
from ..ops.shape import pad, transpose  # noqa: F401


def linear(x, weight, bias=None):
    """x @ weight.T + bias, with weight of shape (out_features, in_features)."""
    y = matmul(x, transpose(weight, 0, 1))
    return y if bias is None else y + bias
