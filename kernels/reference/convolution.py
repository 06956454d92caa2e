"""The references of the convolution family: conv1d, conv3d and the transposed convolutions, padding='same' and padding modes."""
import numpy as np  # noqa: F401

__all__ = []
