"""The CPU kernel table: numpy, plus the C++ im2col extension for convolutions."""
from .array import *        # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .reduce import *       # noqa: F401,F403
from .shape import *        # noqa: F401,F403
from .linalg import *       # noqa: F401,F403
from .nn import *           # noqa: F401,F403
from .conv import *         # noqa: F401,F403
from .pool import *         # noqa: F401,F403
from .norm import *         # noqa: F401,F403

VARIANTS = {"conv2d": CONV2D_VARIANTS}  # noqa: F405  (named implementations, default first)
