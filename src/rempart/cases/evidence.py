"""Evidence packages: a signed ZIP proving one confirmed match, for police or a lawyer.

Contents: `match.json` (the match, the found item's hashes, where and when it was found, the
bank entry and case, who confirmed it and why), `report.html` and `report.pdf` (the same for
people), the media file as found only when asked and allowed (`media/`), `manifest.json`
(every file with its SHA-256 and size) and `signature.json` (Ed25519 signature of the
manifest, with the public key and its fingerprint). `verify_package` checks the signature,
then every file against the manifest: a changed, missing or extra file, a changed manifest
or signature, an unsafe or damaged ZIP are all reported.

The signing key is REMPART_HOME/keys/evidence-signing.pem (mode 0600), made on first use;
give its public key (`rempart evidence public-key`) to whoever will check packages.

A valid signature proves only that the package was not changed since someone signed it:
anyone can rebuild a manifest and sign it with a key of their own. So a package is accepted
only when its signer is trusted: this instance's signing key, its former keys
(`rotate_key` keeps their public halves in keys/evidence-signing-retired.json), and the
keys added with `trust_add` (keys/evidence-trusted.json: other instances, a partner).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import zipfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from rempart import __version__
from rempart.cases import media_rules
from rempart.cases.pdf import text_pdf
from rempart.cases.review import get, match_row
from rempart.config import Policy
from rempart.errors import SetupError
from rempart.scan import synthetic
from rempart.signals.synthetic import derivation, schematic
from rempart.store import audit, media_store
from rempart.store.db import Database
from rempart.store.models import BankItem, Match, ScanItem, ScanRun
from rempart.store.repository import StoreError

KEY_FILE = "evidence-signing.pem"
RETIRED_FILE = "evidence-signing-retired.json"
TRUST_FILE = "evidence-trusted.json"
FORMAT = "rempart-evidence-package"
MAX_PACKAGE_BYTES = 2 * 1024**3
MAX_MEMBER_BYTES = 1024**3


def _key_path(home: Path) -> Path:
    return home / "keys" / KEY_FILE


def signing_key(home: Path) -> Ed25519PrivateKey:
    path = _key_path(home)
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise SetupError(
                f"{path}: the signing key is readable by other users of this machine (mode "
                f"{mode:o}); refusing to sign with it: fix with chmod 600 {path} (and "
                "consider it exposed: rotate it with `rempart keys rotate --signing`)"
            )
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise StoreError(f"{path}: not an Ed25519 key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def rotate_key(home: Path) -> tuple[str | None, str]:
    """Retire the signing key (its public half stays trusted, so packages it signed still
    verify here) and make a new one. Returns (old public key or None, new public key)."""
    path = _key_path(home)
    old = public_key_hex(signing_key(home)) if path.exists() else None
    if old is not None:
        retired = _read_keys(home / "keys" / RETIRED_FILE)
        retired.append(
            {"public_key": old, "retired_at": datetime.now(UTC).isoformat(timespec="seconds")}
        )
        _write_keys(home / "keys" / RETIRED_FILE, retired)
        path.unlink()
    return old, public_key_hex(signing_key(home))


def normal_key(text: str) -> str:
    """An Ed25519 public key as `rempart evidence public-key` prints it (64 hex digits,
    lower case); StoreError for anything else."""
    key = text.strip().lower()
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key))
    except ValueError as exc:
        raise StoreError(
            f"{text.strip()[:80]!r} is not an Ed25519 public key (64 hex digits, "
            "as `rempart evidence public-key` prints it)"
        ) from exc
    return key


def _read_keys(path: Path) -> list[dict[str, str]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: cannot read the list of keys ({exc})") from exc
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        raise StoreError(f"{path}: not a list of keys")
    return [k for k in keys if isinstance(k, dict) and isinstance(k.get("public_key"), str)]


def _write_keys(path: Path, keys: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"keys": keys}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def trusted_keys(home: Path) -> dict[str, str]:
    """Every trusted signer: public key -> why it is trusted."""
    out: dict[str, str] = {}
    for k in _read_keys(home / "keys" / TRUST_FILE):
        label = f": {k['label']}" if k.get("label") else ""
        out[k["public_key"]] = f"added with `evidence trust add` on {k.get('added_at')}{label}"
    for k in _read_keys(home / "keys" / RETIRED_FILE):
        out[k["public_key"]] = (
            f"a former signing key of this instance (retired {k.get('retired_at')})"
        )
    if _key_path(home).exists():
        out[public_key_hex(signing_key(home))] = "this instance's signing key"
    return out


def trust_add(home: Path, key: str, label: str = "") -> str:
    """Trust packages signed by `key` (another instance, a partner). Returns the key."""
    pub = normal_key(key)
    path = home / "keys" / TRUST_FILE
    keys = [k for k in _read_keys(path) if k["public_key"] != pub]
    keys.append(
        {
            "public_key": pub,
            "label": label.strip()[:200],
            "added_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    _write_keys(path, keys)
    return pub


def trust_remove(home: Path, key: str) -> None:
    """Stop trusting a key added with trust_add (this instance's own keys stay trusted)."""
    pub = normal_key(key)
    path = home / "keys" / TRUST_FILE
    keys = _read_keys(path)
    if not any(k["public_key"] == pub for k in keys):
        raise StoreError(f"key {pub} was not added with `evidence trust add`")
    _write_keys(path, [k for k in keys if k["public_key"] != pub])


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def fingerprint(public_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:32]


def _report_lines(doc: dict[str, Any]) -> list[str]:
    m, found = doc["match"], doc["found"]
    lines = [
        f"Evidence package {doc['package_id']}",
        f"Made {doc['created_at']} by {doc['created_by']} with {doc['generator']}",
        "",
        "MATCH",
        f"  Reference: {m['ref']}   kind: {m['kind']}   {m.get('measure') or m['distance']}",
        f"  Case: {m['case']}",
        f"  Review: {m['review']['status']} by {m['review']['by']} on {m['review']['at']}",
        f"  Reason: {m['review']['reason']}",
    ]
    for k, v in sorted((m.get("details") or {}).items()):
        lines.append(f"  {k}: {json.dumps(v, ensure_ascii=False)}")
    lines += [
        "",
        "FOUND ITEM",
        f"  Location: {found['locator']}",
        f"  Media type: {found['media_type']}   size: {found['width']} x {found['height']}",
        f"  SHA-256: {found['sha256']}",
        f"  MD5: {found['md5']}",
        f"  PDQ: {found['pdq']} (quality {found['pdq_quality']})",
        f"  Scanned in scan {found['scan_id']} on {found['scanned_at']}",
        "",
        "WHERE IT CAME FROM",
    ]
    for k, v in sorted((found.get("provenance") or {}).items()):
        lines.append(f"  {k}: {v}")
    lines += [
        "",
        "This package holds no image unless media/ is listed in the manifest.",
        "Check it with: rempart evidence verify PACKAGE.zip",
    ]
    return lines


def _html(lines: list[str]) -> str:
    body = "\n".join(html.escape(line) for line in lines)
    return (
        "<!doctype html><meta charset='utf-8'><title>Rempart evidence</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{white-space:pre-wrap}</style>"
        f"<h1>Rempart evidence package</h1><pre>{body}</pre>\n"
    )


def export_package(
    db: Database,
    home: Path,
    ref: str,
    out: Path,
    *,
    include_media: bool = False,
    media_allowed: bool = False,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """Write the package for a confirmed match; returns its manifest. `policy`: the
    organisation's (the settings' `policy`; default: read now)."""
    item = get(db, ref)
    if item.status != "confirmed":
        raise StoreError(
            f"{ref} is {item.status}: only a confirmed match gets an evidence "
            "package (rempart review decide)"
        )
    if include_media:
        media_rules.check_package_media(item, policy)
        if not media_allowed:
            raise media_rules.MediaRefused(
                "this organisation's evidence mode does not allow storing media "
                "(set REMPART_EVIDENCE_MEDIA=allowed where the law permits it)",
                "evidence-mode",
            )
    with db.session() as s:
        row = match_row(s, ref)
        assert row is not None
        scan_item = s.get(ScanItem, row.scan_item_id)
        assert scan_item is not None
        run = s.get(ScanRun, scan_item.scan_id)
        found = {
            "locator": scan_item.locator,
            "media_type": scan_item.media_type,
            "width": scan_item.width,
            "height": scan_item.height,
            "sha256": scan_item.sha256,
            "md5": scan_item.md5,
            "pdq": scan_item.pdq,
            "pdq_quality": scan_item.pdq_quality,
            "duration": scan_item.duration,
            "provenance": scan_item.provenance or {},
            "scan_id": scan_item.scan_id,
            "scanned_at": run.started_at.isoformat(timespec="seconds") if run else None,
        }
        banked = s.get(BankItem, row.bank_item_id) if isinstance(row, Match) else None
        frame = (banked.width or 0, banked.height or 0) if banked is not None else (0, 0)
        review = {
            "status": row.review_status,
            "by": row.reviewed_by,
            "at": row.reviewed_at.isoformat(timespec="seconds") if row.reviewed_at else None,
            "reason": row.review_reason,
        }
    now = datetime.now(UTC)
    doc = {
        "format": FORMAT,
        "version": 1,
        "package_id": hashlib.sha256(f"{ref}|{now.isoformat()}".encode()).hexdigest()[:16],
        "created_at": now.isoformat(timespec="seconds"),
        "created_by": audit.current_actor(),
        "generator": f"rempart {__version__}",
        "match": {
            "ref": ref,
            "kind": item.kind,
            "distance": item.distance,
            "case": item.case,
            "measure": item.measure,
            "agreeing_keypoints": item.keypoints,
            "details": item.details,
            "review": review,
        },
        "found": found,
    }
    files: dict[str, bytes] = {
        "match.json": json.dumps(doc, indent=2, ensure_ascii=False, default=str).encode(),
    }
    lines = _report_lines(doc)
    files["report.html"] = _html(lines).encode()
    files["report.pdf"] = text_pdf("Rempart evidence", lines)
    # a region or keypoint match of an altered copy: which part of her photo is unchanged,
    # as the finding's JSON and a schematic (outlines only, no pixel of any picture)
    derived = derivation.from_details(item.details)  # None for whole, video and face matches
    if derived is not None:
        files["derivation.json"] = json.dumps(derived.as_json(), indent=2).encode()
        scale = 400 / max(frame) if min(frame) > 0 else 0.0
        size = (round(frame[0] * scale), round(frame[1] * scale)) if scale else (400, 300)
        files["derivation.png"] = schematic.draw(derived.evidence, size)
    # synthetic-media signals (scan/synthetic.py): the findings, and for a C2PA finding the
    # raw manifest store and its validation report, from the media as it was scanned
    findings = synthetic.match_findings(scan_item.synthetic, item.details)
    if findings:
        files["synthetic.json"] = json.dumps(findings, indent=2, ensure_ascii=False).encode()
    if any(f.get("type") == "c2pa" for f in findings):
        scanned = _scanned_bytes(home, scan_item.locator, scan_item.sha256)
        if scanned is not None:
            files.update(synthetic.c2pa_files(scanned, Path(scan_item.locator).suffix))
    if include_media:
        path = Path(scan_item.locator.split("!")[-1].split("#")[0])
        data = media_store.load(home, scan_item.sha256 or "") if scan_item.sha256 else None
        if data is None:  # not preserved: the file as it is now, if unchanged
            try:
                data = media_rules.file_of(scan_item.locator).read_bytes()
            except OSError as exc:
                raise StoreError(
                    f"{ref}: the media is no longer at {scan_item.locator} and was not preserved"
                ) from exc
            if hashlib.sha256(data).hexdigest() != scan_item.sha256:
                raise StoreError(
                    f"{scan_item.locator}: the file changed since it was scanned (SHA-256 differs)"
                )
        files[f"media/{path.name}"] = data
    manifest = write_signed(home, files, str(doc["package_id"]), str(doc["created_at"]), out)
    with db.session() as s:
        audit.record(
            s,
            "evidence-export",
            case=item.case,
            details={
                "match": ref,
                "package": doc["package_id"],
                "file": str(out),
                "media_included": include_media,
            },
        )
    return manifest


def _scanned_bytes(home: Path, locator: str, sha256: str | None) -> bytes | None:
    """The media as it was scanned: preserved, or the file as it is now if unchanged; None
    when neither is at hand (the package then goes without the C2PA files)."""
    if not sha256:
        return None
    data = media_store.load(home, sha256)
    if data is None:
        try:
            data = media_rules.file_of(locator).read_bytes()
        except OSError:
            return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def write_signed(
    home: Path, files: dict[str, bytes], package_id: str, created_at: str, out: Path
) -> dict[str, Any]:
    """Write `files` to the ZIP `out` with manifest.json (each file's SHA-256 and size) and
    signature.json (this instance's Ed25519 signature of the manifest); returns the
    manifest. Every signed package (a match's, a room's: rempart.cases.room_evidence) is
    written here, so `verify_package` checks them all the same way."""
    manifest = {
        "format": FORMAT,
        "version": 1,
        "package_id": package_id,
        "created_at": created_at,
        "files": [
            {"name": n, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
            for n, b in sorted(files.items())
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    key = signing_key(home)
    pub = public_key_hex(key)
    signature = {
        "algorithm": "Ed25519",
        "public_key": pub,
        "key_fingerprint": fingerprint(pub),
        "signed_file": "manifest.json",
        "signature": key.sign(manifest_bytes).hex(),
    }
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
        zf.writestr("manifest.json", manifest_bytes)
        zf.writestr("signature.json", json.dumps(signature, indent=2))
    tmp.replace(out)
    return manifest


@dataclass(frozen=True)
class Check:
    """`ok`: the package is intact (signature over the manifest, every file) and, when a key
    was expected, signed by it. `trusted`: whether its signer is trusted (see
    `trusted_keys`; False when no trust list was given); `trust` says why or why not."""

    ok: bool
    problems: list[str]
    key_fingerprint: str | None
    files: int
    public_key: str | None = None
    trusted: bool = False
    trust: str = ""

    @property
    def accepted(self) -> bool:
        return self.ok and self.trusted


def verify_package(
    path: Path, expected_public_key: str | None = None, trusted: dict[str, str] | None = None
) -> Check:
    """Check a package; with `trusted` (public key -> why), also whether its signer is one
    of them (a key given as `expected_public_key` is trusted too)."""
    check = _verify(path, expected_public_key)
    if check.public_key is None:
        return check
    why = (trusted or {}).get(check.public_key)
    if expected_public_key and check.public_key == expected_public_key.strip().lower():
        why = why or "the key given with --public-key"
    return replace(
        check,
        trusted=why is not None,
        trust=why or "UNKNOWN: not this instance's key nor a trusted one",
    )


def _verify(path: Path, expected_public_key: str | None = None) -> Check:
    problems: list[str] = []
    try:
        if path.stat().st_size > MAX_PACKAGE_BYTES:
            return Check(False, [f"{path}: larger than {MAX_PACKAGE_BYTES} bytes"], None, 0)
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            for name, info in infos.items():
                p = PurePosixPath(name)
                if name.startswith("/") or ".." in p.parts or "\\" in name:
                    problems.append(f"{path}: unsafe member name {name!r}")
                if info.file_size > MAX_MEMBER_BYTES:
                    problems.append(f"{path}: member {name!r} too large")
            if problems:
                return Check(False, problems, None, 0)
            for needed in ("manifest.json", "signature.json"):
                if needed not in infos:
                    return Check(
                        False, [f"{path}: no {needed}: not a signed evidence package"], None, 0
                    )
            manifest_bytes = zf.read("manifest.json")
            signature = json.loads(zf.read("signature.json"))
            pub_hex = str(signature.get("public_key", ""))
            try:
                pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub_hex))
                pub.verify(bytes.fromhex(str(signature.get("signature", ""))), manifest_bytes)
            except (ValueError, InvalidSignature):
                return Check(
                    False,
                    [
                        f"{path}: the signature does not match the manifest "
                        "(manifest or signature altered)"
                    ],
                    None,
                    0,
                )
            if expected_public_key and pub_hex != expected_public_key.strip().lower():
                problems.append(
                    f"{path}: signed by key {fingerprint(pub_hex)}, not the expected key"
                )
            manifest = json.loads(manifest_bytes)
            listed = {f["name"]: f for f in manifest.get("files", [])}
            for name, entry in listed.items():
                if name not in infos:
                    problems.append(f"{path}: {name} is listed in the manifest but missing")
                    continue
                digest = hashlib.sha256(zf.read(name)).hexdigest()
                if digest != entry.get("sha256"):
                    problems.append(f"{path}: {name} was altered (SHA-256 differs)")
            extra = set(infos) - set(listed) - {"manifest.json", "signature.json"}
            problems += [f"{path}: {name} is not in the manifest (added)" for name in sorted(extra)]
            return Check(not problems, problems, fingerprint(pub_hex), len(listed), pub_hex.lower())
    except FileNotFoundError:
        return Check(False, [f"{path}: no such file"], None, 0)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        return Check(False, [f"{path}: damaged or truncated package ({exc})"], None, 0)
