"""Neural-network building blocks: Module, Parameter, layers, init and the functional interface."""
from . import functional, init, utils  # noqa: F401
from .layers import (AvgPool2d, Conv2d, ConvTranspose2d, Dropout, Flatten,  # noqa: F401
                     Linear, MaxPool2d, Sequential, Upsample)
from .module import Module, Parameter  # noqa: F401
from .activation import *     # noqa: F401,F403,E402
from .loss import *           # noqa: F401,F403,E402
from .normalization import *  # noqa: F401,F403,E402
from .patch import *          # noqa: F401,F403,E402
from .container import *      # noqa: F401,F403,E402
