"""The catalogue cases of the reductions family."""

CASES = []
