"""Hash-list formats: the hash-submission file, imports and exports."""
