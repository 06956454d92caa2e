"""The course application: its data sets, networks and `python -m engine train`."""
