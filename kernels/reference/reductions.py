"""The references of the reductions family."""
