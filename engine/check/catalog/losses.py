"""The catalogue cases of the losses family."""

CASES = []
