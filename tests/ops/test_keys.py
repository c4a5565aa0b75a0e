"""`rempart keys status` and `rempart keys rotate`: fingerprints and permissions shown, never
a key; templates and preserved media re-encrypted under a new key, readable at every
point of an interrupted rotation; a new signing key with the old one still trusted; a
missing key or one open to other users refused with a clear error, not a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rempart.cases import evidence
from rempart.cli import app
from rempart.config import load_settings
from rempart.errors import SetupError
from rempart.faces import crypto
from rempart.ops import keys as ops_keys
from rempart.store import face_templates, media_store
from rempart.store.db import Database
from rempart.store.models import Case

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.output


@pytest.fixture
def instance(rempart_env: Path, consent_file: Path) -> tuple[Database, Path, np.ndarray]:
    """Two enrolled templates, one preserved file, a signing key."""
    home = rempart_env / "home"
    db = Database(load_settings().db_url)
    from rempart.exchange.consent import ConsentRecord
    from rempart.store import repository

    with db.session() as s:
        case: Case = repository.get_or_create_case(s, "C-1")
        consent = ConsentRecord.parse(json.loads(consent_file.read_text()), "consent")
        repository.record_consent(s, case.id, consent)
    vectors = np.random.default_rng(3).normal(size=(2, 128)).astype(np.float32)
    face_templates.enroll(
        db, home, "C-1", [face_templates.NewTemplate(v, "a.jpg", 80) for v in vectors], None
    )
    media_store.preserve(home, b"found media bytes (an ordinary photo)")
    evidence.signing_key(home)
    return db, home, vectors


def test_status_and_rotations(instance: tuple[Database, Path, np.ndarray]) -> None:
    db, home, vectors = instance
    before = json.loads(run("keys", "status", "--json"))
    assert before["ok"]
    by_name = {k["name"]: k for k in before["keys"]}
    assert {"templates", "media", "signing", "ledger"} <= set(by_name)
    assert by_name["templates"]["protects"] == 2 and by_name["media"]["protects"] == 1
    assert by_name["templates"]["mode"] == "600"
    key = crypto.key_path(home).read_bytes()
    assert key.hex() not in json.dumps(before)  # fingerprints, never keys
    sha = media_store.preserve(home, b"found media bytes (an ordinary photo)")
    old_signing = evidence.public_key_hex(evidence.signing_key(home))

    rotated = json.loads(run("keys", "rotate", "--templates", "--media", "--signing", "--json"))[
        "rotated"
    ]
    assert [r["key"] for r in rotated] == ["templates", "media", "signing"]
    assert rotated[0]["reencrypted"] == 2 and rotated[1]["reencrypted"] == 1
    assert all(r["old_fingerprint"] != r["new_fingerprint"] for r in rotated)
    assert crypto.key_path(home).read_bytes() != key
    assert not crypto.pending_path(home).exists()
    assert np.allclose(face_templates.load(db, home).vectors, vectors)
    assert media_store.load(home, sha) == b"found media bytes (an ordinary photo)"
    trusted = evidence.trusted_keys(home)
    assert "former signing key" in trusted[old_signing]  # old packages still verify
    assert len(trusted) == 2
    actions = json.loads(run("audit", "list", "--format", "json"))
    assert [a["details"]["key"] for a in actions if a["action"] == "key-rotate"] == [
        "templates",
        "media",
        "signing",
    ]
    after = {k["name"]: k for k in json.loads(run("keys", "status", "--json"))["keys"]}
    assert after["templates"]["fingerprint"] != by_name["templates"]["fingerprint"]
    assert after["signing"]["extra"]["retired"] == [evidence.fingerprint(old_signing)]
    assert "templates" in run("keys", "status")  # the table


def test_interrupted_rotations_lose_nothing(
    instance: tuple[Database, Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, home, vectors = instance
    sha = media_store.preserve(home, b"found media bytes (an ordinary photo)")
    real_replace = os.replace

    def crash_on_key(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        if str(src).endswith(".key.new"):
            raise OSError("power cut")  # after the commit, before the new key takes over
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_key)
    with pytest.raises(OSError):
        ops_keys.rotate_templates(db, home)
    with pytest.raises(OSError):
        ops_keys.rotate_media(db, home)
    monkeypatch.setattr(os, "replace", real_replace)
    # both keys are kept: everything still opens
    assert crypto.pending_path(home).exists() and media_store.pending_path(home).exists()
    assert np.allclose(face_templates.load(db, home).vectors, vectors)
    assert media_store.load(home, sha) == b"found media bytes (an ordinary photo)"
    assert "rotation not finished" in run("keys", "status", code=1)
    # running it again finishes it
    run("keys", "rotate", "--templates", "--media")
    assert not crypto.pending_path(home).exists() and not media_store.pending_path(home).exists()
    assert np.allclose(face_templates.load(db, home).vectors, vectors)
    assert media_store.load(home, sha) == b"found media bytes (an ordinary photo)"
    run("keys", "status")


def test_missing_or_exposed_keys_are_refused(
    instance: tuple[Database, Path, np.ndarray],
) -> None:
    db, home, _ = instance
    path = crypto.key_path(home)
    path.chmod(0o644)
    out = run("keys", "status", code=1)
    assert "readable by other users" in out
    with pytest.raises(SetupError, match="chmod 600"):
        face_templates.load(db, home)
    with pytest.raises(SetupError, match="templates key"):
        ops_keys.check(home, db)  # what `rempart serve` runs before it listens
    out = run("keys", "rotate", "--templates", code=1)
    assert "error:" in out and "chmod 600" in out and "Traceback" not in out
    path.chmod(0o600)
    evidence_key = home / "keys" / evidence.KEY_FILE
    evidence_key.chmod(0o640)
    out = run("evidence", "public-key", code=1)
    assert "error:" in out and "chmod 600" in out
    evidence_key.chmod(0o600)
    # missing: the templates cannot be read, and nothing makes a new key over them
    path.rename(path.with_name("moved-away"))
    out = run("keys", "status", code=1)
    assert "missing" in out and "2 item(s) need it" in out
    with pytest.raises(SetupError, match="no face-template key"):
        face_templates.load(db, home)
    media_key = media_store.key_path(home)
    media_key.rename(media_key.with_name("moved-too"))
    with pytest.raises(SetupError, match="put the key back"):
        media_store.preserve(home, b"other bytes")
    assert not media_key.exists()
