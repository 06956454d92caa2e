"""Verification tools: the gradient checker and the op catalogue that it, the tests and the
benchmarks share."""
from .gradcheck import GradcheckResult, gradcheck, gradgradcheck  # noqa: F401
