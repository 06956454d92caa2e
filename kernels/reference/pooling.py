"""The references of the pooling family: max/avg pooling in 1, 2 and 3 dimensions with their options, unpooling, adaptive and power-average pooling."""
import numpy as np  # noqa: F401

__all__ = []
