"""Every differentiable op with its reference and the inputs it is checked on.

One catalogue serves the test suite (which draws inputs with hypothesis) and
`python -m engine gradcheck` (which draws them with numpy's generator): each case draws its
inputs through a `Drawer`, so both use the same domains, away from kinks and ties. The cases
live beside their op family, one module each.
"""
from . import (activations, attention, convolution, core, elementwise, indexing, losses,
               normalization, patches, pooling, reductions, resampling, shapes)
from .drawing import SIDE, Case, RandomDrawer  # noqa: F401

FAMILIES = {"first ops (arithmetic, nn, convolution)": core.CASES,
            "elementwise": elementwise.CASES, "reductions and scans": reductions.CASES,
            "shapes": shapes.CASES, "indexing and sorting": indexing.CASES,
            "activations": activations.CASES, "losses": losses.CASES,
            "normalization": normalization.CASES, "padding, patches, embeddings": patches.CASES,
            "convolution": convolution.CASES, "pooling": pooling.CASES,
            "resampling": resampling.CASES, "attention": attention.CASES}
CASES = [case for cases in FAMILIES.values() for case in cases]

BY_NAME = {case.name: case for case in CASES}
