"""The HTTP/1.1 protocol `rempart serve` gives uvicorn: its httptools protocol, writing a
response's head and its body to the socket in one write instead of two.

Why: uvicorn writes the status line and headers when the application sends
`http.response.start`, then the body when it sends `http.response.body`: two send() system
calls and two TCP segments per answer, the first of them the costliest line of a single
lookup on the server (a quarter of its CPU, profiled with py-spy at 1,000,000 hashes; issue
22 item 3), and two reads for the client. Here the head is held until the next write of the
same connection, which then carries both: for an answer whose body follows at once (every
JSON answer: Starlette's Response sends the two messages one after the other) that is one
write. A head is never held longer than the current turn of the event loop (a flush is
scheduled when it is held), nor past the end of a response (a HEAD answer, or one without
a body) or the connection's close, so streamed answers still start when they did. Interim
heads (`100 Continue`, `101 Switching Protocols`) are never held.

Used by `rempart serve` (uvicorn's `http` setting, as an import string so that uvicorn's
supervisor does not import the application); `uvicorn rempart.server:create_app --factory`
alone keeps uvicorn's own protocol, which answers the same bytes."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

NAME = "rempart.api.httpproto:OneWriteHttpToolsProtocol"


class HeadWithBody:
    """A transport that holds a final response head until the next write (see above);
    everything else is the transport's own."""

    __slots__ = ("_transport", "_loop", "_head")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + bytes(data))
        elif (
            isinstance(data, bytes)
            and data[:9] == b"HTTP/1.1 "
            and data[9:10] != b"1"  # never an interim head (100 Continue, 101)
            and data[-4:] == b"\r\n\r\n"
        ):
            self._head = data
            self._loop.call_soon(self.flush)  # at the latest at the loop's next turn
        else:
            self._transport.write(data)

    def flush(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a HeadWithBody transport."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(HeadWithBody(transport, self.loop))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        flush = getattr(self.transport, "flush", None)
        if flush is not None:
            flush()  # a head without a body (HEAD, 204, 304) goes now
        super().on_response_complete()
