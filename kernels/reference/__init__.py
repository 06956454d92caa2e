"""Naive, obviously correct versions of the kernels: the oracle every backend is tested against.

Speed is no concern here. Each function loops over elements (or applies the scalar formula
from the math module) so that its correctness can be read off the code. All work in float64
and return the input's dtype where the kernel would. One module per op family.
"""
from .core import *         # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .reductions import *   # noqa: F401,F403
from .shapes import *       # noqa: F401,F403
from .indexing import *     # noqa: F401,F403
from .activations import *    # noqa: F401,F403
from .losses import *         # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .patches import *        # noqa: F401,F403
from .convolution import *   # noqa: F401,F403
from .pooling import *       # noqa: F401,F403
from .resampling import *    # noqa: F401,F403
from .attention import *     # noqa: F401,F403
