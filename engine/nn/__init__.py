"""Neural-network building blocks: Module, Parameter, layers, init and the functional interface."""
from . import functional, init, utils  # noqa: F401
from .layers import Dropout, Flatten, Linear, Sequential  # noqa: F401
from .module import Module, Parameter  # noqa: F401
from .activation import *     # noqa: F401,F403,E402
from .loss import *           # noqa: F401,F403,E402
from .normalization import *  # noqa: F401,F403,E402
from .patch import *          # noqa: F401,F403,E402
from .container import *      # noqa: F401,F403,E402
from .conv import *           # noqa: F401,F403,E402
from .pooling import *        # noqa: F401,F403,E402
from .upsampling import *     # noqa: F401,F403,E402
from .attention import *      # noqa: F401,F403,E402
