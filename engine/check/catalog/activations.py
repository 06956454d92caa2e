"""The catalogue cases of the activations family."""

CASES = []
