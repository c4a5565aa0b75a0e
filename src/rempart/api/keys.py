"""The old import path of the key store, now rempart.access.keys (the web UI signs in with
the same keys): every name is re-exported for the `rempart apikey` command, tests and
benchmarks that import it from here."""

from __future__ import annotations

from rempart.access.keys import KEY_PATTERN as KEY_PATTERN
from rempart.access.keys import TENANT_KIND as TENANT_KIND
from rempart.access.keys import TENANT_NAME as TENANT_NAME
from rempart.access.keys import KeyInfo as KeyInfo
from rempart.access.keys import create_key as create_key
from rempart.access.keys import digest as digest
from rempart.access.keys import get_or_create_tenant as get_or_create_tenant
from rempart.access.keys import get_tenant as get_tenant
from rempart.access.keys import list_keys as list_keys
from rempart.access.keys import revoke_key as revoke_key
