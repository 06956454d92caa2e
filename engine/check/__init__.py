"""Verification tools: the gradient checker and the op catalogue that it, the tests and the
benchmarks share."""
from .gradcheck import gradcheck  # noqa: F401
