"""The HTTP protocol `rempart serve` gives uvicorn (api/httpproto.py): a response's head and
body in one write, and otherwise the same behaviour as uvicorn's own (HEAD answers,
streamed answers whose head goes before a slow body, 100 Continue, pipelined requests,
keep-alive). The API's real-server tests (tests/api/conftest.py: `rempart serve`) run
through it too."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from rempart.api.httpproto import HeadWithBody, OneWriteHttpToolsProtocol


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_head_and_body_in_one_write() -> None:
    async def run() -> FakeTransport:
        t = FakeTransport()
        w = HeadWithBody(t, asyncio.get_running_loop())  # type: ignore[arg-type]
        w.write(HEAD)
        assert t.writes == []  # held
        w.write(b"{}")
        assert t.writes == [HEAD + b"{}"]
        await asyncio.sleep(0)  # the scheduled flush finds nothing held
        assert t.writes == [HEAD + b"{}"]
        assert w.get_extra_info("peername") == "info:peername"  # the rest is the transport's
        return t

    asyncio.run(run())


def test_a_held_head_goes_at_the_next_turn_or_on_close() -> None:
    async def run() -> None:
        t = FakeTransport()
        w = HeadWithBody(t, asyncio.get_running_loop())  # type: ignore[arg-type]
        w.write(HEAD)
        await asyncio.sleep(0)
        assert t.writes == [HEAD]  # a body that does not follow at once: the head goes alone
        w.write(HEAD)
        w.close()
        assert t.writes == [HEAD, HEAD] and t.closed

    asyncio.run(run())


def test_interim_heads_and_other_bytes_are_never_held() -> None:
    async def run() -> None:
        t = FakeTransport()
        w = HeadWithBody(t, asyncio.get_running_loop())  # type: ignore[arg-type]
        w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        w.write(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n")
        w.write(b"some body bytes")
        assert len(t.writes) == 3

    asyncio.run(run())


# ---- over a socket, with uvicorn


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/slow":  # a streamed answer: its head must not wait for its body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(1.0)
        await send({"type": "http.response.body", "body": b"late", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = b"echo:" + body if body else b"hello " + path.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(answer)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = int(s.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free, http=OneWriteHttpToolsProtocol, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield free
    server.should_exit = True
    thread.join(10)


def _read_answers(sock: socket.socket, count: int) -> list[bytes]:
    """`count` answers with content-length off a socket, as bytes (head and body)."""
    data, out = b"", list[bytes]()
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(rest) < length:
            rest += sock.recv(65536)
        out.append(head + b"\r\n\r\n" + rest[:length])
        data = rest[length:]
    return out


def test_keep_alive_and_pipelined_requests(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        first, second = _read_answers(sock, 2)
        sock.sendall(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
        (third,) = _read_answers(sock, 1)
    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"hello /a")
    assert second.endswith(b"hello /b") and third.endswith(b"hello /c")


def test_head_request_answered(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n")
        sock.sendall(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")  # the connection goes on
        (answer,) = _read_answers(sock, 1)
    assert answer.endswith(b"hello /after")


def test_expect_100_continue(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue")  # not held: the client waits
        sock.sendall(b"body")
        (answer,) = _read_answers(sock, 1)
    assert answer.endswith(b"echo:body")


def test_streamed_answer_head_goes_before_its_slow_body(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        t0 = time.monotonic()
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        head = sock.recv(65536)
        took = time.monotonic() - t0
        assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head
        assert took < 0.8  # the body comes 1 s later
        rest = head
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(65536)
    assert b"late" in rest
