"""Signals: one module per signal type (pdq, exact, ...)."""
