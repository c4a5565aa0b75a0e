"""The old import path of the client address behind trusted proxies, now
rempart.access.proxies (it serves the API and the web UI alike): re-exported for the tests
that import it from here."""

from __future__ import annotations

from rempart.access.proxies import ClientAddress as ClientAddress
from rempart.access.proxies import Network as Network
from rempart.access.proxies import client_address as client_address
from rempart.access.proxies import parse_networks as parse_networks
