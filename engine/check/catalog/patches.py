"""The catalogue cases of the patches family."""

CASES = []
