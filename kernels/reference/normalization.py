"""The references of the normalization family."""
