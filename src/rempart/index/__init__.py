"""Near-duplicate index for binary hashes."""
