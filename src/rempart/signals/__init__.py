"""Signals: one module per signal type (pdq, exact, vpdq, ...), each declared once in
types.py's REGISTRY (docs/architecture.md, "Adding a signal type")."""
