"""The references of the losses family."""
