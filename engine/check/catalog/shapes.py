"""The catalogue cases of the shapes family."""

CASES = []
