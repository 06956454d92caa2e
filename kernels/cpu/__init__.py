"""The CPU kernel table: numpy, plus the C++ im2col extension for convolutions."""
from .array import *        # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .reduce import *       # noqa: F401,F403
from .shape import *        # noqa: F401,F403
from .linalg import *       # noqa: F401,F403
from .nn import *           # noqa: F401,F403
