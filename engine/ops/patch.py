"""Padding modes, pixel shuffles, patches (unfold/fold), embeddings and one-hot codes."""

__all__ = []
METHODS = ()
FUNCTIONAL = ()  # F.<name>
