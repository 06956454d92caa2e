"""The catalogue cases of the normalization family."""

CASES = []
