"""The references of the shapes family."""
