"""The references of the patches family."""
