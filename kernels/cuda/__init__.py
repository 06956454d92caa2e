"""The cuda kernel table: Numba CUDA kernels on CuPy arrays (numpy arrays in the simulator)."""
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

VARIANTS = {"conv2d": CONV2D_VARIANTS, "matmul": MATMUL_VARIANTS}  # noqa: F405
