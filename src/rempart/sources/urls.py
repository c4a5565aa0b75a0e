"""URL lists: fetch each link (httpx) safely and hand the media on as bytes.

Safety (SSRF): only http and https; every address a host name resolves to must be public
(not private, loopback, link-local, multicast, reserved or unspecified) unless it lies in a
network the caller explicitly allows; redirects are followed by hand, each hop checked the
same way (at most MAX_REDIRECTS); and the address actually connected to is checked again
before any byte of the body is read (a DNS answer that changed in between is caught).
Limits: a size cap (from Content-Length, and while reading), connect/read timeouts and an
overall deadline per URL (a server that drips bytes forever is cut off), and the content type
must be an image or video (or octet-stream whose first bytes are media).
`fetch_answer` gives any final answer (a 404, a platform's page) under the same guard and
limits: what a removal check (rempart.cases.removal_check) reads.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import httpx

from rempart.errors import RempartError
from rempart.media.kinds import sniff
from rempart.sources.base import MediaRef, SourceProblem

MAX_REDIRECTS = 5
MAX_URL_LIST_BYTES = 64 * 1024 * 1024
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class FetchOptions:
    max_bytes: int = 256 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 120.0  # seconds for one URL, all hops and the body
    allowed_networks: tuple[Network, ...] = field(default_factory=tuple)
    concurrency: int = 4
    user_agent: str = "Rempart (finding non-consensual intimate images; abuse reports only)"


class Refused(RempartError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def read_url_list(path: Path) -> tuple[list[str], list[SourceProblem]]:
    """The URLs of a list file (one per line; blank lines and # comments skipped)."""
    try:
        if path.stat().st_size > MAX_URL_LIST_BYTES:
            return [], [
                SourceProblem(
                    str(path), "too-large", f"{path}: URL list over {MAX_URL_LIST_BYTES} bytes"
                )
            ]
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return [], [SourceProblem(str(path), "unreadable", f"{path}: cannot read ({exc})")]
    urls: list[str] = []
    problems: list[SourceProblem] = []
    for n, line in enumerate(text.splitlines(), 1):
        url = line.strip()
        if not url or url.startswith("#"):
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(
                SourceProblem(
                    f"{path}:{n}", "bad-url", f"{path}: line {n}: not an http(s) URL: {url[:200]!r}"
                )
            )
            continue
        urls.append(url)
    return urls, problems


def _blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, options: FetchOptions) -> bool:
    if any(ip in net for net in options.allowed_networks):
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def check_host(url: str, options: FetchOptions) -> None:
    """Refused unless every address the URL's host resolves to may be fetched."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("bad-url", f"not an http(s) URL: {url[:200]}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused("dns-error", f"{parts.hostname}: cannot resolve ({exc})") from exc
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if _blocked(ip, options):
            raise Refused(
                "private-address",
                f"{parts.hostname} resolves to {ip}, a private, loopback or "
                "link-local address: refused (server-side request forgery guard)",
            )


def _peer_ok(response: httpx.Response, options: FetchOptions) -> None:
    stream = response.extensions.get("network_stream")
    addr = stream.get_extra_info("server_addr") if stream is not None else None
    if addr:
        ip = ipaddress.ip_address(str(addr[0]).split("%")[0])
        if _blocked(ip, options):
            raise Refused("private-address", f"connected to {ip}, a private address: refused")


@dataclass(frozen=True)
class Answer:
    """The final answer to a URL, whatever its status and content type (a removal check
    reads 404s and a platform's pages too)."""

    status: int
    final_url: str
    content_type: str
    body: bytes
    fetched_at: str


def _follow(
    client: httpx.Client,
    url: str,
    options: FetchOptions,
    accept: Callable[[httpx.Response, str], None] | None = None,
) -> Answer:
    """Follow redirects by hand, each hop's host checked, the peer checked, then read the
    final body within the size and time limits; `accept` may refuse the final answer from
    its status and headers before any byte of the body is read."""
    start = time.monotonic()
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        check_host(current, options)
        left = options.deadline - (time.monotonic() - start)
        if left <= 0:
            raise Refused("timeout", f"no answer within {options.deadline:.0f} s")
        with client.stream("GET", current) as response:
            _peer_ok(response, options)
            if response.is_redirect:
                location = response.headers.get("location", "")
                if not location:
                    raise Refused("http-error", f"redirect without a location ({current})")
                current = urljoin(current, location)
                continue
            if accept is not None:
                accept(response, current)
            ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
            length = response.headers.get("content-length")
            if length and length.isdigit() and int(length) > options.max_bytes:
                raise Refused(
                    "too-large",
                    f"{current}: {int(length)} bytes announced, over the {options.max_bytes} limit",
                )
            body = bytearray()
            for chunk in response.iter_bytes():  # as received: a slow drip hits the deadline
                body += chunk
                if len(body) > options.max_bytes:
                    raise Refused("too-large", f"{current}: more than {options.max_bytes} bytes")
                if time.monotonic() - start > options.deadline:
                    raise Refused(
                        "timeout", f"{current}: still sending after {options.deadline:.0f} s"
                    )
            return Answer(
                response.status_code,
                current,
                ctype,
                bytes(body),
                datetime.now(UTC).isoformat(timespec="seconds"),
            )
    raise Refused("too-many-redirects", f"more than {MAX_REDIRECTS} redirects from {url}")


def fetch_answer(client: httpx.Client, url: str, options: FetchOptions) -> Answer:
    """The final answer to a URL, whatever its status or content type, under the same guard
    and limits as `fetch` (every hop's address public unless allowed, the peer checked, at
    most MAX_REDIRECTS, size cap, deadline); Refused with a reason otherwise."""
    return _follow(client, url, options)


def _media_only(response: httpx.Response, current: str) -> None:
    if response.status_code >= 400:
        raise Refused("http-error", f"HTTP {response.status_code} from {current}")
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if (
        ctype
        and not ctype.startswith(("image/", "video/"))
        and ctype not in ("application/octet-stream", "binary/octet-stream")
    ):
        raise Refused("not-media", f"{current}: content type {ctype!r} is not media")


def fetch(client: httpx.Client, url: str, options: FetchOptions) -> tuple[bytes, dict[str, str]]:
    """The body of a media URL and facts about the fetch; Refused with a reason otherwise."""
    answer = _follow(client, url, options, _media_only)
    data, ctype, current = answer.body, answer.content_type, answer.final_url
    if sniff(data[:16]) is None and not ctype.startswith("video/"):
        raise Refused("not-media", f"{current}: the content is not a picture or video")
    facts = {
        "final_url": current,
        "content_type": ctype,
        "status": str(answer.status),
        "fetched_at": answer.fetched_at,
    }
    return data, facts


def _one(client: httpx.Client, url: str, options: FetchOptions) -> MediaRef | SourceProblem:
    try:
        data, facts = fetch(client, url, options)
    except Refused as exc:
        return SourceProblem(url, exc.reason, f"{url}: {exc.detail}", {"source": "url", "url": url})
    except httpx.TimeoutException:
        return SourceProblem(url, "timeout", f"{url}: timed out", {"source": "url", "url": url})
    except httpx.HTTPError as exc:
        return SourceProblem(
            url, "http-error", f"{url}: {type(exc).__name__}: {exc}", {"source": "url", "url": url}
        )
    name = PurePosixPath(urlsplit(facts["final_url"]).path).name or "download"
    prov = {"source": "url", "url": url, **facts}
    return MediaRef(url, Path(name), prov, data)


def iter_urls(
    urls: Iterable[str], options: FetchOptions | None = None
) -> Iterator[MediaRef | SourceProblem]:
    """Fetch the URLs (a few at a time), yielding media or the reason each was refused."""
    options = options or FetchOptions()
    timeout = httpx.Timeout(options.read_timeout, connect=options.connect_timeout)
    with httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": options.user_agent},
    ) as client:
        with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as pool:
            pending = list(urls)
            for start in range(0, len(pending), 16):
                yield from pool.map(lambda u: _one(client, u, options), pending[start : start + 16])
