"""The CPU kernel table: numpy, plus the C++ im2col extension for convolutions."""
import os

# OpenMP threads that spin after the extension's parallel loops steal the cores OpenBLAS's
# threads need for the GEMM that follows (measured: conv2d forward 23 ms -> 17 ms). Read by
# libgomp when it loads, i.e. with the extension below.
os.environ.setdefault("GOMP_SPINCOUNT", "0")

from .array import *        # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .reduce import *       # noqa: F401,F403
from .shape import *        # noqa: F401,F403
from .linalg import *       # noqa: F401,F403
from .nn import *           # noqa: F401,F403
from .conv import *         # noqa: F401,F403
from .pool import *         # noqa: F401,F403
from .norm import *         # noqa: F401,F403
from .optim import *        # noqa: F401,F403

# named implementations, default first
VARIANTS = {"conv2d": CONV2D_VARIANTS, "matmul": MATMUL_VARIANTS}  # noqa: F405
