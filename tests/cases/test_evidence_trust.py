"""Who signed an evidence package, and whether that signer is trusted: a package edited,
re-manifested and signed with a new key once verified as "intact" (exit 0)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rempart.cases import evidence
from tests.cases.test_evidence import confirmed, rempart


def forge(src: Path, dst: Path, key: Ed25519PrivateKey) -> str:
    """The package with its reviewer changed, the manifest rebuilt and signed with `key`;
    returns the forger's public key."""
    with zipfile.ZipFile(src) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(files["match.json"])
    doc["match"]["review"]["by"] = "someone-else"
    files["match.json"] = json.dumps(doc).encode()
    manifest = json.loads(files["manifest.json"])
    manifest["files"] = [
        {"name": n, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
        for n, b in sorted(files.items())
        if n not in ("manifest.json", "signature.json")
    ]
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    pub = evidence.public_key_hex(key)
    files["manifest.json"] = manifest_bytes
    files["signature.json"] = json.dumps(
        {
            "algorithm": "Ed25519",
            "public_key": pub,
            "key_fingerprint": evidence.fingerprint(pub),
            "signed_file": "manifest.json",
            "signature": key.sign(manifest_bytes).hex(),
        }
    ).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return pub


def test_a_forged_package_is_signed_by_an_unknown_key(
    rempart_env: Path, consent_file: Path
) -> None:
    ref = confirmed(rempart_env, consent_file)
    pkg = rempart_env / "p.zip"
    rempart("evidence", "export", ref, "--out", str(pkg))
    own = rempart("evidence", "public-key").strip()
    out = rempart("evidence", "verify", str(pkg))
    assert "intact" in out and f"Signed by key {own}" in out
    assert "this instance's signing key" in out
    forged = rempart_env / "forged.zip"
    stranger = forge(pkg, forged, Ed25519PrivateKey.generate())
    out = rempart("evidence", "verify", str(forged), code=1)
    assert f"Signed by key {stranger}" in out and "signature valid, signer UNKNOWN" in out
    assert "intact" in out  # the signature itself is valid: say so, and who signed
    # The forger's key given as the expected one: accepted only for that key.
    assert "intact" in rempart("evidence", "verify", str(forged), "--public-key", stranger)
    assert "not the expected key" in rempart(
        "evidence", "verify", str(forged), "--public-key", own, code=1
    )
    # A partner's key, once added, is trusted; removed, it is not any more.
    rempart("evidence", "trust", "add", stranger, "--label", "partner helpline")
    listed = json.loads(rempart("evidence", "trust", "list", "--format", "json"))
    assert {k["public_key"] for k in listed} == {own, stranger}
    out = rempart("evidence", "verify", str(forged))
    assert "Signer trusted" in out and "partner helpline" in out
    rempart("evidence", "trust", "remove", stranger)
    rempart("evidence", "verify", str(forged), code=1)
    rempart("evidence", "trust", "remove", own, code=1)  # her own key is not in the list
    assert "not an Ed25519 public key" in rempart("evidence", "trust", "add", "xyz", code=1)
    # After a rotation the old key still vouches for the packages it signed.
    rempart("evidence", "rotate-key")
    assert rempart("evidence", "public-key").strip() != own
    out = rempart("evidence", "verify", str(pkg))
    assert "former signing key of this instance" in out
    actions = [e["action"] for e in json.loads(rempart("audit", "list", "--format", "json"))]
    assert {"evidence-trust-add", "evidence-trust-remove", "evidence-key-rotate"} <= set(actions)
