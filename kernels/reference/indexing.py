"""The references of the indexing family."""
