"""The client's address, for the limits that key on it (wrong keys at the web UI's
sign-in): the connection's peer, unless that peer is a reverse proxy the operator named
(REMPART_TRUSTED_PROXIES: addresses or networks, comma-separated; default none). Only then
is X-Forwarded-For read, from its end: the right-most address that is not itself a trusted
proxy. Anyone can send an X-Forwarded-For header: trusted from any peer, one client could
pose as many (never locked out) or as another (locking her out). `rempart serve` turns
uvicorn's own handling of the header off, so this is the only one."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """'10.0.0.1, 192.168.0.0/16' -> networks; ValueError naming a bad entry."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError as exc:
                raise ValueError(
                    f"REMPART_TRUSTED_PROXIES: {part!r} is not an address or network"
                ) from exc
    return tuple(out)


def _trusted(host: str, proxies: Iterable[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in proxies)


def client_address(peer: str | None, forwarded: str | None, proxies: tuple[Network, ...]) -> str:
    """Who is calling: the peer, or, behind trusted proxies, the last address they saw."""
    host = peer or "?"
    if not proxies or not _trusted(host, proxies) or not forwarded:
        return host
    for hop in reversed([h.strip() for h in forwarded.split(",")][-16:]):
        if not hop:
            continue
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return host  # garbage: the proxy's own address counts
        host = hop
    return host


class ClientAddress:
    """ASGI middleware: scope["client"] becomes the address above (so request.client.host
    is the caller, never a header the caller chose)."""

    def __init__(self, app: Any, proxies: tuple[Network, ...]) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.proxies:
            peer = scope.get("client")
            forwarded = next(
                (
                    v.decode("latin-1")
                    for k, v in scope.get("headers", [])
                    if k == b"x-forwarded-for"
                ),
                None,
            )
            host = client_address(peer[0] if peer else None, forwarded, self.proxies)
            scope = {**scope, "client": (host, peer[1] if peer else 0)}
        await self.app(scope, receive, send)
