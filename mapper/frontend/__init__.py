"""The front end: the user's graph (format, validation), the inputs of a run, and the NumPy reference."""
