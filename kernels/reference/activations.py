"""The references of the activations family."""
