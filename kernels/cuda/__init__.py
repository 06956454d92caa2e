"""The cuda backend: Numba CUDA kernels on CuPy arrays (numpy arrays in Numba's simulator)."""
from ..layout import primitives
from .array import *        # noqa: F401,F403
from .device import xp
from .elementwise import *  # noqa: F401,F403
from .reduce import *       # noqa: F401,F403
from .scan import *         # noqa: F401,F403
from .index import *        # noqa: F401,F403
from .linalg import *       # noqa: F401,F403
from .nn import *           # noqa: F401,F403
from .pool import *         # noqa: F401,F403
from . import conv, linalg, nn, norm, optim

globals().update(primitives(xp))

# named implementations, the default first (see kernels/contract.py)
VARIANTS = {
    "conv2d": conv.CONV2D_VARIANTS, "conv3d": conv.CONV3D_VARIANTS, "matmul": linalg.MATMUL_VARIANTS,
    "log_softmax": {"fused": nn.log_softmax}, "softmax": {"fused": nn.softmax},
    "log_softmax_backward": {"fused": nn.log_softmax_backward},
    "softmax_backward": {"fused": nn.softmax_backward},
    "cross_entropy": {"fused": nn.cross_entropy},
    "cross_entropy_backward": {"fused": nn.cross_entropy_backward},
    "sgd_step": {"fused": optim.sgd_step}, "adam_step": {"fused": optim.adam_step},
    "batch_norm_forward": {"fused": norm.batch_norm_forward},
    "batch_norm_backward": {"fused": norm.batch_norm_backward},
}
