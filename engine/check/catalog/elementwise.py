"""The catalogue cases of the elementwise family."""

CASES = []
