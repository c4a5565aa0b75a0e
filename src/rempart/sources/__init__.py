"""Sources: each yields media items with their provenance."""
