"""The catalogue cases of the indexing family."""

CASES = []
