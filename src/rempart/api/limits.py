"""Request size limits, enforced before and while the body is read: a body announced or
found larger than the limit is refused with 413 (uploads of media have their own limit).

Bytes alone do not bound memory: 16 MB of `[{},{},...]` is 5.6 million Python objects
(1.6 GB). So a JSON body is also counted while it streams in: every `{`, `[` and `,` may
become an object or a list element, and a body holding more of them than its route allows
(a batch lookup: a few per hash) is refused with 413 before anything is parsed. The count
is cheap (bytes.count on each chunk) and conservative (such bytes inside strings count too;
no valid request has many)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException

Scope = dict[str, Any]
STRUCTURAL = (b"{", b"[", b",")


def structural_count(chunk: bytes) -> int:
    """How many JSON values a chunk may open or separate (an upper bound on new objects)."""
    return sum(chunk.count(c) for c in STRUCTURAL)


class BodyLimit:
    def __init__(
        self,
        app: Any,
        default: int,
        uploads: int,
        upload_paths: frozenset[str],
        json_items: int = 1_000_000,
        item_caps: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default = default
        self.uploads = uploads
        self.upload_paths = upload_paths
        self.json_items = json_items  # structural bytes in any other request body
        self.item_caps = item_caps or {}  # stricter caps, per path

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path")
        upload = path in self.upload_paths
        limit = self.uploads if upload else self.default
        items = None if upload else self.item_caps.get(str(path), self.json_items)
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _refuse(send, limit)
            return
        received = 0
        counted = 0

        async def limited() -> Any:
            nonlocal received, counted
            message = await receive()
            if message.get("type") == "http.request":
                body = message.get("body", b"")
                received += len(body)
                if received > limit:
                    raise HTTPException(413, f"request body over the {limit} byte limit")
                if items is not None:
                    counted += structural_count(body)
                    if counted > items:
                        raise HTTPException(
                            413,
                            "request body holds too many JSON items "
                            f"(over {items} values or list elements)",
                        )
            return message

        await self.app(scope, limited, send)


async def _refuse(send: Any, limit: int) -> None:
    body = json.dumps({"detail": f"request body over the {limit} byte limit"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
