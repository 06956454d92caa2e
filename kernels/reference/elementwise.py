"""The references of the elementwise family."""
