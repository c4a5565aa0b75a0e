"""The scan pipeline: source -> signals -> match -> results."""
