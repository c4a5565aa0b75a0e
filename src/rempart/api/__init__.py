"""Rempart's HTTP API (FastAPI): lookups for platforms, banks and cases for caseworkers, the
victim's status check; API keys with roles and tenants. See docs/api.md."""
