"""Database models, migrations and repositories."""
