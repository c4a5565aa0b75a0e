"""C2PA trust lists: which certificate authorities vouch for the signer of a manifest.

Why lists as data, with dates and digests: a valid C2PA signature only proves that the file
and its claims are unchanged since signing; anyone can make a certificate. "Trusted" means
the signer chains to an anchor on a list someone vouches for, so a caseworker's report must
be able to say WHICH list, taken WHEN, and that the file used is the file that was taken.
Every list is a PEM bundle named in a TOML file (`[[list]]` with name, file, date, sha256);
the digest is checked before each use, and a file that differs is refused, never used
silently.

Where lists come from, in this order:
- `REMPART_C2PA_TRUST` (a TOML of that form, or one PEM file) replaces everything else:
  for tests and for an organisation that manages its anchors elsewhere;
- otherwise the lists vendored with Rempart (`rempart/data/c2pa/trust.toml`: the C2PA trust
  list, CC BY 4.0, taken from the C2PA conformance programme's public repository), plus the
  organisation's own lists in `REMPART_HOME/c2pa-trust/trust.toml`, managed with
  `rempart c2pa-trust add|remove|list` (a newer C2PA list, a national list, a newsroom's
  own CA) without editing the installed package.

A list older than STALE_DAYS is flagged by `rempart c2pa-trust list`: the C2PA list changes
as members join and certificates are revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rempart.config import default_home
from rempart.errors import InvalidInput, NotFound, SetupError

TRUST_ENV = "REMPART_C2PA_TRUST"
VENDORED_TRUST = Path(__file__).resolve().parents[2] / "data" / "c2pa" / "trust.toml"
ORG_DIR = "c2pa-trust"
STALE_DAYS = 180
MAX_LIST_BYTES = 4 << 20  # a trust list is tens of kilobytes; refuse anything absurd
_PEM_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s+([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----"
)
_NAME_OK = re.compile(r"^[\w .()/,+-]{1,80}$")


@dataclass(frozen=True)
class TrustList:
    """One list in effect: where it came from and what it holds."""

    name: str
    path: Path
    date: str
    sha256: str
    origin: str  # "vendored", "organisation" or "REMPART_C2PA_TRUST"

    def label(self) -> str:
        return f"{self.name} ({self.date or 'undated'})"


@dataclass(frozen=True)
class ListStatus:
    """A list as `rempart c2pa-trust list` shows it."""

    trust_list: TrustList
    certificates: int
    digest_ok: bool
    age_days: int | None
    stale: bool
    earliest_expiry: str | None  # the first certificate on it to expire (ISO date)


def org_toml(home: Path | None = None) -> Path:
    return (home or default_home()) / ORG_DIR / "trust.toml"


def _read_toml(source: Path, origin: str) -> list[TrustList]:
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise SetupError(f"C2PA trust list {source}: {exc.strerror or exc}") from exc
    try:
        entries = tomllib.loads(raw.decode("utf-8")).get("list", [])
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SetupError(f"C2PA trust list {source}: not valid TOML: {exc}") from exc
    if not isinstance(entries, list):
        raise SetupError(f"C2PA trust list {source}: `list` must be an array of tables")
    lists: list[TrustList] = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("file"):
            raise SetupError(f"C2PA trust list {source}: an entry has no `file`")
        file = source.parent / str(entry["file"])
        lists.append(
            TrustList(
                name=str(entry.get("name") or file.name),
                path=file,
                date=str(entry.get("date") or ""),
                sha256=str(entry.get("sha256") or "").lower(),
                origin=origin,
            )
        )
    return lists


def configured_lists(source: Path | None = None, home: Path | None = None) -> list[TrustList]:
    """The lists in effect: `source` or REMPART_C2PA_TRUST alone when given, otherwise the
    vendored lists and the organisation's (REMPART_HOME/c2pa-trust/trust.toml)."""
    if source is None:
        env = os.environ.get(TRUST_ENV, "").strip()
        source = Path(env) if env else None
    if source is not None:
        if source.suffix.lower() != ".toml":  # one PEM file: no digest to check against
            return [TrustList(source.name, source, "", "", TRUST_ENV)]
        return _read_toml(source, TRUST_ENV)
    lists = _read_toml(VENDORED_TRUST, "vendored")
    org = org_toml(home)
    if org.is_file():
        lists += _read_toml(org, "organisation")
    return lists


def list_pem(t: TrustList) -> bytes:
    """The list's PEM bytes, refused (SetupError) when its digest differs from the record."""
    try:
        data = t.path.read_bytes()
    except OSError as exc:
        raise SetupError(f"C2PA trust list {t.path}: {exc.strerror or exc}") from exc
    if t.sha256 and hashlib.sha256(data).hexdigest() != t.sha256:
        raise SetupError(f"C2PA trust list {t.path}: SHA-256 differs from its record; refused")
    if not t.sha256 and t.origin != TRUST_ENV:
        raise SetupError(f"C2PA trust list {t.path}: no sha256 recorded; refused")
    return data


def load_anchors(lists: list[TrustList]) -> tuple[str, list[str]]:
    """The anchors (PEM text, certificate blocks only) and the labels of the lists used."""
    pems: list[str] = []
    for t in lists:
        blocks = _PEM_BLOCK.finditer(list_pem(t))
        pems += [m.group(0).decode("ascii") for m in blocks]
    return "\n".join(pems), [t.label() for t in lists]


def cache_key(source: Path | None = None, home: Path | None = None) -> str:
    """Changes whenever the lists in effect may have changed (for a cached reader)."""
    env = os.environ.get(TRUST_ENV, "").strip()
    if source is not None or env:
        return f"source:{source or env}"
    org = org_toml(home)
    try:
        stamp = org.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return f"default:{org}:{stamp}"


def _certificates(data: bytes, where: str) -> list[tuple[str, dt.datetime]]:
    """(subject, not_after) of each certificate in a PEM bundle; InvalidInput for garbage."""
    from cryptography import x509

    found: list[tuple[str, dt.datetime]] = []
    for n, m in enumerate(_PEM_BLOCK.finditer(data), 1):
        try:
            cert = x509.load_pem_x509_certificate(m.group(0))
        except ValueError as exc:
            raise InvalidInput(f"{where}: certificate {n} is not readable: {exc}") from exc
        found.append((cert.subject.rfc4514_string(), cert.not_valid_after_utc))
    return found


def status(lists: list[TrustList], today: dt.date | None = None) -> list[ListStatus]:
    today = today or dt.datetime.now(dt.UTC).date()
    rows: list[ListStatus] = []
    for t in lists:
        try:
            data = list_pem(t)
            ok = True
        except SetupError:
            data, ok = b"", False
        try:
            certs = _certificates(data, str(t.path))
        except InvalidInput:
            certs, ok = [], False
        try:
            age: int | None = (today - dt.date.fromisoformat(t.date)).days
        except ValueError:
            age = None
        expiry = min((c[1] for c in certs), default=None)
        rows.append(
            ListStatus(
                trust_list=t,
                certificates=len(certs),
                digest_ok=ok,
                age_days=age,
                stale=age is None or age > STALE_DAYS,
                earliest_expiry=expiry.date().isoformat() if expiry else None,
            )
        )
    return rows


def _write_org(entries: list[TrustList], home: Path | None) -> None:
    path = org_toml(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# The organisation's C2PA trust lists (rempart c2pa-trust add/remove; docs/synthetic.md).",
        "",
    ]
    for t in entries:
        lines += [
            "[[list]]",
            f'name = "{t.name}"',
            f'file = "{t.path.name}"',
            f'date = "{t.date}"',
            f'sha256 = "{t.sha256}"',
            "",
        ]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".trust-", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    os.replace(tmp, path)


def _org_lists(home: Path | None) -> list[TrustList]:
    path = org_toml(home)
    return _read_toml(path, "organisation") if path.is_file() else []


def add_list(
    pem_file: Path, name: str, date: str | None = None, home: Path | None = None
) -> TrustList:
    """Copy a PEM bundle into the organisation's lists, with its date and SHA-256. Refuses a
    file that is not a readable bundle of certificates, and a name already used."""
    name = name.strip()
    if not _NAME_OK.match(name) or '"' in name:
        raise InvalidInput(
            f"trust list name {name!r}: use 1-80 letters, digits, spaces or .()/,+-_"
        )
    try:
        taken = dt.date.fromisoformat(date) if date else dt.datetime.now(dt.UTC).date()
    except ValueError as exc:
        raise InvalidInput(f"--date {date!r}: not a date (YYYY-MM-DD)") from exc
    try:
        if pem_file.stat().st_size > MAX_LIST_BYTES:
            raise InvalidInput(f"{pem_file}: over {MAX_LIST_BYTES >> 20} MB; not a trust list")
        data = pem_file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{pem_file}: {exc.strerror or exc}") from exc
    certs = _certificates(data, str(pem_file))
    if not certs:
        raise InvalidInput(f"{pem_file}: no PEM certificate in it; not a trust list")
    existing = _org_lists(home)
    if any(t.name == name for t in existing):
        raise InvalidInput(f"a trust list named {name!r} exists; remove it first")
    folder = org_toml(home).parent
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    target = folder / f"{digest[:16]}.pem"
    target.write_bytes(data)
    added = TrustList(name, target, taken.isoformat(), digest, "organisation")
    _write_org([*existing, added], home)
    return added


def remove_list(name: str, home: Path | None = None) -> TrustList:
    """Take one of the organisation's lists out (the vendored ones cannot be removed: point
    REMPART_C2PA_TRUST elsewhere to replace them)."""
    existing = _org_lists(home)
    gone = [t for t in existing if t.name == name]
    if not gone:
        vendored = any(t.name == name for t in _read_toml(VENDORED_TRUST, "vendored"))
        hint = " (a vendored list: set REMPART_C2PA_TRUST to replace them)" if vendored else ""
        raise NotFound(f"no organisation trust list named {name!r}{hint}")
    kept = [t for t in existing if t.name != name]
    _write_org(kept, home)
    if not any(t.path == gone[0].path for t in kept):
        gone[0].path.unlink(missing_ok=True)
    return gone[0]
