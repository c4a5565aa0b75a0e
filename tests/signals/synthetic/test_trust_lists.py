"""The C2PA trust lists an organisation manages (`rempart c2pa-trust`): a list added for
the instance makes its CA's signers trusted without replacing the vendored list; a list
whose file changed is refused; garbage is refused with a message naming the file; removal
takes the signer's trust away; stale lists are flagged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cli import app
from rempart.errors import InvalidInput, NotFound, SetupError
from rempart.samples import photo_like
from rempart.signals.synthetic import inspect_file, trust
from tests.signals.synthetic import c2pa_signing


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a JPEG declaring trainedAlgorithmicMedia, signed under a CA made here; the CA's PEM)."""
    chain = c2pa_signing.make_chain()
    folder = tmp_path_factory.mktemp("trust-signed")
    photo_like(12, (160, 120)).save(folder / "photo.jpg", quality=90)
    c2pa_signing.sign(
        folder / "photo.jpg", folder / "ai.jpg", "image/jpeg", chain, "trainedAlgorithmicMedia"
    )
    (folder / "ca.pem").write_text(chain.ca_pem, encoding="ascii")
    return folder / "ai.jpg", folder / "ca.pem"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(trust.TRUST_ENV, raising=False)
    monkeypatch.setenv("REMPART_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _trusted(path: Path) -> tuple[bool, str]:
    [finding] = inspect_file(path)[0]
    return finding.evidence["signer_trusted"], finding.evidence["trust_list"]


def test_organisation_list_added_then_removed(signed: tuple[Path, Path], home: Path) -> None:
    photo, ca = signed
    assert _trusted(photo) == (False, "C2PA trust list (2026-08-14)")
    added = trust.add_list(ca, "Our newsroom CA", "2026-12-01")
    assert added.path.parent == home / "c2pa-trust" and added.path.is_file()
    assert _trusted(photo) == (
        True,
        "C2PA trust list (2026-08-14), Our newsroom CA (2026-12-01)",
    )
    with pytest.raises(InvalidInput, match="exists"):
        trust.add_list(ca, "Our newsroom CA")
    trust.remove_list("Our newsroom CA")
    assert not added.path.exists()
    assert _trusted(photo)[0] is False
    with pytest.raises(NotFound, match="vendored"):
        trust.remove_list("C2PA trust list")


def test_changed_list_file_is_refused(signed: tuple[Path, Path], home: Path) -> None:
    added = trust.add_list(signed[1], "Ours")
    added.path.write_bytes(added.path.read_bytes() + b"\n")
    with pytest.raises(SetupError, match="SHA-256 differs"):
        trust.load_anchors(trust.configured_lists())
    [_, ours] = trust.status(trust.configured_lists())
    assert ours.digest_ok is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a certificate at all", "no PEM certificate"),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "certificate 1 is not readable",
        ),
    ],
)
def test_garbage_is_refused_naming_the_file(
    tmp_path: Path, home: Path, content: bytes, message: str
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_bytes(content)
    with pytest.raises(InvalidInput, match=message) as caught:
        trust.add_list(bad, "Bad")
    assert "bad.pem" in str(caught.value)
    assert not (home / "c2pa-trust" / "trust.toml").exists()


def test_stale_lists_are_flagged(home: Path) -> None:
    [vendored] = trust.status(trust.configured_lists(), today=dt.date(2027, 6, 1))
    assert vendored.stale and vendored.certificates == 30
    [fresh] = trust.status(trust.configured_lists(), today=dt.date(2026, 9, 1))
    assert not fresh.stale and fresh.age_days == 18


def test_cli_list_add_remove(signed: tuple[Path, Path], home: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["c2pa-trust", "add", str(signed[1]), "--name", "Ours", "--date", "2026-11-30"]
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["c2pa-trust", "list", "--json"])
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["origin"], r["certificates"]) for r in rows] == [
        ("C2PA trust list", "vendored", 30),
        ("Ours", "organisation", 1),
    ]
    assert (
        runner.invoke(app, ["c2pa-trust", "add", "/nonexistent.pem", "--name", "X"]).exit_code == 1
    )
    assert runner.invoke(app, ["c2pa-trust", "remove", "Ours"]).exit_code == 0
    assert runner.invoke(app, ["c2pa-trust", "remove", "Ours"]).exit_code != 0
