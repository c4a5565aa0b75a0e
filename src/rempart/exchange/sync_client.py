"""The pulling side of sync (docs/sync.md): fetch a partner's bank page by page since the
last checkpoint, import each page through the consent-checked list import (hashlist.py),
apply its withdrawals, then store the page's checkpoint. An interrupted pull starts again
from the last page stored; a page applied twice changes nothing (imports skip what the
case already has; a withdrawal of what is gone deletes nothing).

Safe by default: https only (plain http to this machine's loopback addresses, or with
`insecure`), no redirect to another host (same-host redirects are followed, at most 3),
timeouts on connecting and reading, and a bounded page size."""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart import __version__
from rempart.errors import RempartError
from rempart.exchange import rempart_list
from rempart.exchange.consent import ConsentRecord, FormatError
from rempart.exchange.hashlist import ParsedList, import_list
from rempart.exchange.sync_feed import CHECKPOINT, DEFAULT_LIMIT
from rempart.store import audit, repository
from rempart.store.bank_index import BankIndex
from rempart.store.changefeed import SyncCheckpoint
from rempart.store.db import Database
from rempart.store.models import utcnow
from rempart.store.repository import BANK_NAME, StoreError

MAX_PAGE_BYTES = 64 * 1024 * 1024  # a page's JSON, as the list import's own limit
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
PAGE_DEADLINE = 300.0  # a whole page, however slowly it trickles in
MAX_REDIRECTS = 3
MAX_RETRIES_429 = 3
KEY_PATTERN = re.compile(r"^rmp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")


class SyncError(RempartError):
    """A pull that stopped: the message says why; the checkpoint of the last page applied
    is kept."""


@dataclass
class PullResult:
    remote: str
    remote_bank: str
    local_bank: str
    case: str
    pages: int = 0
    changes: int = 0
    received: int = 0  # items received
    added: int = 0
    duplicates: int = 0  # already in the bank for this case
    low_quality: int = 0
    withdrawn_received: int = 0
    withdrawn: int = 0  # local entries deleted
    withdrawn_elsewhere_kept: int = 0
    withheld_by_partner: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    consent_recorded: bool = False
    checkpoint: str = "0"
    restarted: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, insecure: bool = False) -> str:
    """The partner's base URL, normalised; SyncError if refused."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SyncError(f"{url!r} is not an http(s) URL of a Rempart server")
    if parts.username or parts.password:
        raise SyncError("the URL may not carry a user name or password: the key goes in --key-file")
    if parts.query or parts.fragment:
        raise SyncError("give the server's base URL, without a query or fragment")
    if parts.scheme == "http" and not insecure and not _loopback(parts.hostname):
        raise SyncError(
            f"{url}: plain http would send the key and the hashes in clear; use "
            "https (plain http is accepted only for this machine's loopback "
            "addresses, or with --insecure)"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise SyncError(f"{url!r}: bad port") from exc
    netloc = parts.hostname.lower()
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None:
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def read_key(text: str, where: str) -> str:
    key = text.strip()
    if not KEY_PATTERN.match(key):
        raise SyncError(f"{where}: does not hold a Rempart API key (rmp_...)")
    return key


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _detail(response: httpx.Response, body: bytes) -> str:
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return ""
    return f" ({detail})" if isinstance(detail, str) else ""


class PageFetcher:
    """GETs of one partner's sync pages, with the checks above."""

    def __init__(
        self,
        base: str,
        key: str,
        *,
        insecure: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base = base
        self.insecure = insecure
        self.client = httpx.Client(
            headers={
                "Authorization": f"Bearer {key}",
                "Accept": "application/json",
                "User-Agent": f"rempart/{__version__} sync",
            },
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def page(self, bank: str, since: str, limit: int) -> dict[str, Any]:
        url = f"{self.base}/v1/sync/{quote(bank, safe='')}"
        params: dict[str, Any] | None = {"since": since, "limit": limit}
        retries = 0
        for _ in range(MAX_REDIRECTS + MAX_RETRIES_429 + 1):
            status, headers, body = self._get(url, params)
            if status in (301, 302, 303, 307, 308):
                target = urljoin(url, headers.get("location", ""))
                if _origin(target) != _origin(url):
                    raise SyncError(
                        f"{self.base} redirected to another place ({target}): "
                        "refused; give that server's URL if it is the right one"
                    )
                url, params = target, None  # the query is in the Location already
                continue
            if status == 429 and retries < MAX_RETRIES_429:
                retries += 1
                try:
                    wait = float(headers.get("retry-after", "1"))
                except ValueError:
                    wait = 1.0
                time.sleep(min(max(wait, 0.5), 30.0))
                continue
            return self._check(status, headers, body, bank)
        raise SyncError(f"{self.base}: too many redirects or refusals")

    def _get(self, url: str, params: dict[str, Any] | None) -> tuple[int, httpx.Headers, bytes]:
        deadline = time.monotonic() + PAGE_DEADLINE
        try:
            with self.client.stream("GET", url, params=params) as response:
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > MAX_PAGE_BYTES:
                    raise SyncError(
                        f"{self.base}: a page of {declared} bytes, over the "
                        f"{MAX_PAGE_BYTES} byte limit"
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_PAGE_BYTES:
                        raise SyncError(f"{self.base}: a page over the {MAX_PAGE_BYTES} byte limit")
                    if time.monotonic() > deadline:
                        raise SyncError(f"{self.base}: a page took over {PAGE_DEADLINE:.0f} s")
                    chunks.append(chunk)
                return response.status_code, response.headers, b"".join(chunks)
        except httpx.ConnectError as exc:
            raise SyncError(
                f"cannot reach {self.base}: the server is down or the address is wrong ({exc})"
            ) from exc
        except httpx.TimeoutException as exc:
            raise SyncError(f"{self.base} did not answer in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise SyncError(
                f"{self.base}: the connection failed ({type(exc).__name__}: {exc})"
            ) from exc

    def _check(self, status: int, headers: httpx.Headers, body: bytes, bank: str) -> dict[str, Any]:
        detail = _detail(httpx.Response(status), body)
        if status == 401:
            raise SyncError(
                f"{self.base} refused the key: unknown or revoked{detail}; check --key-file"
            )
        if status == 403:
            raise SyncError(
                f"{self.base}: this key may not pull{detail}; the partner must "
                "give a key with the role 'partner'"
            )
        if status == 404:
            raise SyncError(f"{self.base} has no bank {bank!r} shared with this key{detail}")
        if status == 429:
            raise SyncError(f"{self.base}: still over the key's rate limit; try later")
        if status == 503:
            raise SyncError(f"{self.base} is not ready (index loading){detail}; try again")
        if status != 200:
            raise SyncError(f"{self.base} answered {status}{detail}")
        ctype = headers.get("content-type", "")
        if not ctype.startswith("application/json"):
            raise SyncError(f"{self.base}: malformed page (content type {ctype!r}, not JSON)")
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise SyncError(f"{self.base}: malformed page (not JSON: {exc})") from exc
        if not isinstance(doc, dict):
            raise SyncError(f"{self.base}: malformed page (not a JSON object)")
        return doc


@dataclass(frozen=True)
class Page:
    parsed: ParsedList
    checkpoint: str
    has_more: bool
    changes: int
    withheld: int
    restarted: str | None


def read_page(doc: dict[str, Any], source: str, bank: str, since: str) -> Page:
    """Check a page: a Rempart hash list of that bank with a sync block answering `since`.
    SyncError when malformed; per-record problems are kept in the parsed list."""
    sync = doc.get("sync")
    if not isinstance(sync, dict):
        raise SyncError(f"{source}: malformed page (no 'sync' block)")
    checkpoint = sync.get("checkpoint")
    if not isinstance(checkpoint, str) or not CHECKPOINT.match(checkpoint):
        raise SyncError(f"{source}: malformed page (bad checkpoint {checkpoint!r})")
    if sync.get("since") != since:
        raise SyncError(
            f"{source}: malformed page (answers since={sync.get('since')!r}, asked {since!r})"
        )
    has_more, changes, withheld = sync.get("has_more"), sync.get("changes"), sync.get("withheld")
    restarted = sync.get("restarted")
    if (
        not isinstance(has_more, bool)
        or not isinstance(changes, int)
        or not isinstance(withheld, int)
        or not (restarted is None or isinstance(restarted, str))
    ):
        raise SyncError(f"{source}: malformed page (bad 'sync' block)")
    if restarted is None and since != "0":
        (feed, seq), (old_feed, old_seq) = (checkpoint.split("-"), since.split("-"))
        if feed != old_feed or int(seq) < int(old_seq):
            raise SyncError(
                f"{source}: malformed page (checkpoint {checkpoint!r} does not follow {since!r})"
            )
    if has_more and changes == 0:
        raise SyncError(f"{source}: malformed page (more to come, but no progress)")
    remote_bank = doc.get("bank")
    if not isinstance(remote_bank, dict) or remote_bank.get("name") != bank:
        raise SyncError(f"{source}: malformed page (not bank {bank!r})")
    try:
        parsed = rempart_list.parse(doc, source)
    except FormatError as exc:
        raise SyncError(f"malformed page: {exc}") from exc
    return Page(parsed, checkpoint, has_more, changes, withheld, restarted)


def _checkpoint_row(
    s: Session, remote: str, remote_bank: str, local_bank: str
) -> SyncCheckpoint | None:
    return s.scalar(
        select(SyncCheckpoint).where(
            SyncCheckpoint.remote == remote,
            SyncCheckpoint.remote_bank == remote_bank,
            SyncCheckpoint.local_bank == local_bank,
        )
    )


def load_checkpoint(db: Database, remote: str, remote_bank: str, local_bank: str) -> str:
    with db.session() as s:
        row = _checkpoint_row(s, remote, remote_bank, local_bank)
        return row.checkpoint if row is not None else "0"


def save_checkpoint(
    db: Database,
    remote: str,
    remote_bank: str,
    local_bank: str,
    checkpoint: str,
    result: dict[str, Any],
) -> None:
    """In one transaction: a checkpoint is stored whole or not at all."""
    with db.session() as s:
        row = _checkpoint_row(s, remote, remote_bank, local_bank)
        if row is None:
            s.add(
                SyncCheckpoint(
                    remote=remote,
                    remote_bank=remote_bank,
                    local_bank=local_bank,
                    checkpoint=checkpoint,
                    last_result=result,
                )
            )
        else:
            row.checkpoint = checkpoint
            row.last_result = result
            row.updated_at = utcnow()


def list_checkpoints(db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        return [
            {
                "remote": r.remote,
                "remote_bank": r.remote_bank,
                "local_bank": r.local_bank,
                "checkpoint": r.checkpoint,
                "updated_at": r.updated_at.isoformat(timespec="seconds"),
                "last_result": r.last_result,
            }
            for r in s.scalars(select(SyncCheckpoint).order_by(SyncCheckpoint.id))
        ]


def pull(
    bank_index: BankIndex,
    fetcher: PageFetcher,
    remote_bank: str,
    local_bank: str,
    *,
    case_number: str,
    consent: ConsentRecord | None = None,
    limit: int = DEFAULT_LIMIT,
    withdraw_everywhere: bool = False,
    on_page: Callable[[PullResult], None] | None = None,
) -> PullResult:
    """Pull every page since the stored checkpoint. SyncError stops it (the result so far
    is in the exception's `result`); the pages applied before keep their checkpoint."""
    db = bank_index.db
    remote = fetcher.base
    if not BANK_NAME.match(remote_bank):
        raise SyncError(f"invalid remote bank name {remote_bank!r}")
    try:  # an unknown local bank is refused before anything is fetched
        with db.session() as s:
            repository.get_bank(s, local_bank)
    except StoreError as exc:
        raise SyncError(str(exc)) from exc
    result = PullResult(remote, remote_bank, local_bank, case_number)
    if consent is not None and _on_file(db, case_number, consent):
        consent = None  # the same record is the case's current one: not recorded again
    since = load_checkpoint(db, remote, remote_bank, local_bank)
    result.checkpoint = since
    source = f"sync:{urlsplit(remote).netloc}:{remote_bank}"
    try:
        while True:
            page = read_page(fetcher.page(remote_bank, since, limit), source, remote_bank, since)
            if page.restarted:
                result.restarted.append(page.restarted)
            parsed = page.parsed
            result.problem_count += parsed.problem_count
            result.problems += parsed.problems[: max(0, 1000 - len(result.problems))]
            try:
                applied = import_list(
                    bank_index,
                    local_bank,
                    parsed,
                    case_number=case_number,
                    consent=None if result.consent_recorded else consent,
                    withdraw_everywhere=withdraw_everywhere,
                )
            except StoreError as exc:
                raise SyncError(str(exc)) from exc
            result.pages += 1
            result.changes += page.changes
            result.received += len(parsed.items)
            result.withdrawn_received += len(parsed.withdrawn_digests)
            result.added += applied.added
            result.duplicates += applied.duplicates
            result.low_quality += applied.low_quality
            result.withdrawn += applied.withdrawn
            result.withdrawn_elsewhere_kept += applied.withdrawn_elsewhere_kept
            result.withheld_by_partner += page.withheld
            result.consent_recorded = result.consent_recorded or applied.consent_recorded
            since = result.checkpoint = page.checkpoint
            save_checkpoint(db, remote, remote_bank, local_bank, since, _summary(result))
            if on_page is not None:
                on_page(result)
            if not page.has_more:
                return result
    except SyncError as exc:
        result.error = str(exc)
        exc.result = result  # type: ignore[attr-defined]
        save_checkpoint(db, remote, remote_bank, local_bank, result.checkpoint, _summary(result))
        raise
    finally:
        with db.session() as s:
            audit.record(s, "sync-pull", case=case_number, details=_summary(result))


def _on_file(db: Database, case_number: str, consent: ConsentRecord) -> bool:
    """Whether this consent record is already the case's active one (a pull run every few
    minutes with the same --consent records it once)."""
    with db.session() as s:
        case = repository.get_case(s, case_number)
        row = repository.active_consent(s, case) if case is not None else None
        return row is not None and row.document == consent.to_json()


def _summary(result: PullResult) -> dict[str, Any]:
    out = result.to_json()
    out.pop("problems")
    return out
