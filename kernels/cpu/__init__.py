"""The CPU backend: numpy, plus the C++ extension (im2col, Winograd, pooling, optimizers)."""
import os

# OpenMP threads that spin after the extension's parallel loops steal the cores OpenBLAS's
# threads need for the GEMM that follows (measured: conv2d forward 23 ms -> 17 ms). Read by
# libgomp when it loads, i.e. with the extension below.
os.environ.setdefault("GOMP_SPINCOUNT", "0")

import numpy as np  # noqa: E402

from ..layout import primitives  # noqa: E402
from .array import *        # noqa: F401,F403,E402
from .elementwise import *  # noqa: F401,F403,E402
from .reduce import *       # noqa: F401,F403,E402
from .scan import *         # noqa: F401,F403,E402
from .index import *        # noqa: F401,F403,E402
from .linalg import *       # noqa: F401,F403,E402
from .dropout import *      # noqa: F401,F403,E402
from .pool import *         # noqa: F401,F403,E402
from . import conv, fused, optim, threads, workspace  # noqa: E402

globals().update(primitives(np))
KEEPS_FREED_MEMORY = workspace.keep_freed_memory()

# named implementations, the default first (see kernels/contract.py)
VARIANTS = {"conv2d": conv.CONV2D_VARIANTS, "conv3d": conv.CONV3D_VARIANTS,
            "matmul": {"blas": matmul},  # noqa: F405
            "sgd_step": {"fused": optim.sgd_step}, "adam_step": {"fused": optim.adam_step},
            **fused.VARIANTS}
AUTO = {"conv2d": conv.choose_conv2d}
