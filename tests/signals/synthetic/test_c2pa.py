"""C2PA signals on the c2pa-rs fixtures, on files signed here (a JPEG and an MP4), with and
without a trust list, on corrupt and oversized manifests, and with no network access."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rempart.errors import SetupError
from rempart.samples import photo_like, scene_frames, write_video
from rempart.signals.synthetic import Limits, inspect_file, source_type_indicates
from rempart.signals.synthetic.c2pa import TRUST_ENV, load_trust
from tests.signals.conftest import TESTDATA
from tests.signals.synthetic import c2pa_signing

C2PA_RS = TESTDATA / "c2pa" / "c2pa-rs"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


@pytest.fixture(scope="module")
def chain() -> c2pa_signing.Chain:
    return c2pa_signing.make_chain()


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, chain: c2pa_signing.Chain) -> Path:
    """A folder: ai.jpg (trainedAlgorithmicMedia), algo.jpg (plain algorithmicMedia),
    ai.mp4 (compositeWithTrainedAlgorithmicMedia), ca.pem (the chain's root)."""
    folder = tmp_path_factory.mktemp("signed")
    photo_like(11, (160, 120)).save(folder / "photo.jpg", quality=90)
    c2pa_signing.sign(
        folder / "photo.jpg", folder / "ai.jpg", "image/jpeg", chain, "trainedAlgorithmicMedia"
    )
    c2pa_signing.sign(
        folder / "photo.jpg", folder / "algo.jpg", "image/jpeg", chain, "algorithmicMedia"
    )
    write_video(folder / "plain.mp4", scene_frames(3, 1.0, 5, (64, 48)))
    c2pa_signing.sign(
        folder / "plain.mp4",
        folder / "ai.mp4",
        "video/mp4",
        chain,
        "compositeWithTrainedAlgorithmicMedia",
    )
    (folder / "ca.pem").write_text(chain.ca_pem, encoding="ascii")
    return folder


def test_mapping_is_exact() -> None:
    assert source_type_indicates(IPTC + "trainedAlgorithmicMedia") == "ai-generated"
    assert source_type_indicates(IPTC + "compositeWithTrainedAlgorithmicMedia") == "ai-modified"
    assert (
        source_type_indicates(IPTC.replace("http:", "https:") + "trainedAlgorithmicMedia")
        == "ai-generated"
    )
    for term in ("algorithmicMedia", "compositeSynthetic", "digitalCapture", "digitalArt"):
        assert source_type_indicates(IPTC + term) is None, term
    assert source_type_indicates("trainedAlgorithmicMedia") is None  # not the IPTC URI
    assert source_type_indicates("http://example.org/trainedAlgorithmicMedia") is None


def test_ocsp_firefly_composite_with_ingredient_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMPART_HOME", str(tmp_path))  # the vendored list only
    findings, problem = inspect_file(C2PA_RS / "ocsp.jpg")
    assert problem is None
    assert [(f.type, f.indicates) for f in findings] == [("c2pa", "ai-modified")]
    evidence = findings[0].as_json()
    assert evidence["manifest"] == "active"
    assert evidence["validation_state"] == "Valid"
    # Adobe's 2025 claim certificate is not on the C2PA trust list vendored here
    assert evidence["signer_trusted"] is False
    assert evidence["trust_list"] == "C2PA trust list (2026-08-14)"
    assert evidence["signer"] == {"subject": "Adobe C2PA", "issuer": "Adobe Inc."}
    assert evidence["claim_generator"].startswith("Adobe_Photoshop")
    assert evidence["signed_at"].startswith("2025-08-13")
    terms = {a["digital_source_type"] for a in evidence["actions"]}
    assert terms == {"compositeWithTrainedAlgorithmicMedia"}
    [ingredient] = evidence["ingredients"]
    assert ingredient["claim_generator"].startswith("Adobe_Firefly")
    assert ingredient["actions"] == [
        {
            "action": "c2pa.created",
            "digital_source_type": "trainedAlgorithmicMedia",
            "indicates": "ai-generated",
            "software_agent": "Adobe Firefly",
        }
    ]


@pytest.mark.parametrize("name", ["C.jpg", "CA.jpg", "no_manifest.jpg"])
def test_plain_algorithmic_media_and_no_manifest_not_flagged(name: str) -> None:
    assert inspect_file(C2PA_RS / name) == ([], None)


@pytest.mark.parametrize(
    ("name", "code"),
    [("E-sig-CA.jpg", "claimSignature.mismatch"), ("XCA.jpg", "assertion.dataHash.mismatch")],
)
def test_tampered_is_provenance_invalid_with_codes(name: str, code: str) -> None:
    findings, problem = inspect_file(C2PA_RS / name)
    assert problem is None
    [finding] = findings
    assert (finding.type, finding.indicates, finding.strength) == (
        "c2pa",
        "provenance-invalid",
        "strong",
    )
    assert finding.evidence["validation_state"] == "Invalid"
    assert finding.evidence["failure_codes"] == [code]


def test_signed_here_jpeg_and_mp4(signed: Path) -> None:
    [jpeg] = inspect_file(signed / "ai.jpg")[0]
    assert (jpeg.indicates, jpeg.evidence["signer"]["subject"]) == (
        "ai-generated",
        "Rempart Test Signer",
    )
    assert inspect_file(signed / "algo.jpg") == ([], None)
    [video], problem = inspect_file(signed / "ai.mp4")
    assert problem is None
    assert (video.type, video.indicates, video.strength) == ("c2pa", "ai-modified", "strong")
    assert video.evidence["signer_trusted"] is False
    assert inspect_file(signed / "plain.mp4") == ([], None)


def test_trust_list_makes_the_signer_trusted_and_is_checked(
    signed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = (signed / "ca.pem").read_bytes()
    shutil.copy(signed / "ca.pem", tmp_path / "org.pem")
    good = tmp_path / "trust.toml"
    good.write_text(
        '[[list]]\nname = "our CA"\nfile = "org.pem"\ndate = "2026-12-02"\n'
        f'sha256 = "{hashlib.sha256(pem).hexdigest()}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv(TRUST_ENV, str(good))
    [video] = inspect_file(signed / "ai.mp4")[0]
    assert video.evidence["signer_trusted"] is True
    assert video.evidence["validation_state"] == "Trusted"
    assert video.evidence["trust_list"] == "our CA (2026-12-02)"
    # an Adobe signature is still not on this list
    assert inspect_file(C2PA_RS / "ocsp.jpg")[0][0].evidence["signer_trusted"] is False
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace(hashlib.sha256(pem).hexdigest(), "0" * 64))
    with pytest.raises(SetupError, match="SHA-256 differs"):
        load_trust(bad)


def test_vendored_trust_file_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography import x509

    monkeypatch.setenv("REMPART_HOME", str(tmp_path))
    pem, names = load_trust()
    assert names == ["C2PA trust list (2026-08-14)"]
    certs = x509.load_pem_x509_certificates(pem.encode("ascii"))
    assert len(certs) == 30  # the C2PA conformance programme's list, unmodified
    assert all(c.not_valid_after_utc.year >= 2027 for c in certs)


def test_corrupt_and_oversized_manifests_reported(tmp_path: Path) -> None:
    original = (C2PA_RS / "CA.jpg").read_bytes()
    start = original.find(b"jumb")
    assert start > 0
    scrambled = bytearray(original)
    scrambled[start + 40 : start + 400] = b"\xa5" * 360  # the JUMBF boxes scrambled
    lying = bytearray(original)
    lying[start + 4 : start + 8] = b"\xff\xff\xff\xf0"  # a box claiming ~4 GiB
    for n, data in enumerate((scrambled, lying)):
        broken = tmp_path / f"broken{n}.jpg"
        broken.write_bytes(bytes(data))
        findings, problem = inspect_file(broken)
        assert findings == []
        assert problem is not None and "C2PA manifest unreadable" in problem.reason
    findings, problem = inspect_file(C2PA_RS / "ocsp.jpg", limits=Limits(max_manifest_bytes=2000))
    assert findings == []
    assert problem is not None and "larger than 2000 bytes" in problem.reason


NO_NETWORK_SCRIPT = """
import sys
from pathlib import Path
from rempart.signals.synthetic import inspect_file
if sys.argv[1] == "control":
    import c2pa
    ctx = c2pa.Context.from_dict({"verify": {"ocsp_fetch": True}})
    with open(sys.argv[2], "rb") as fh:
        print(c2pa.Reader("image/jpeg", fh, None, ctx).get_validation_state())
else:
    for name in sys.argv[2:]:
        findings, problem = inspect_file(Path(name))
        print(name, [f.indicates for f in findings], problem)
"""


def _connects(*args: str) -> tuple[str, int]:
    """Run the script in a network namespace with no interface, under strace: its output
    and how many IPv4/IPv6 connections it attempted (the native library's included)."""
    command = ["unshare", "-rn", "strace", "-f", "-qq", "-e", "trace=connect"]
    done = subprocess.run(
        [*command, sys.executable, "-c", NO_NETWORK_SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    tries = sum(1 for line in done.stderr.splitlines() if "AF_INET" in line)
    return done.stdout, tries


def _can_trace() -> bool:
    """strace and an unprivileged network namespace are available here."""
    if not (shutil.which("strace") and shutil.which("unshare")):
        return False
    probe = ["unshare", "-rn", "strace", "-qq", "-e", "trace=connect", "true"]
    return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _can_trace(), reason="needs strace and unshare -rn")
def test_no_network_access() -> None:
    files = [str(C2PA_RS / n) for n in ("ocsp.jpg", "CA.jpg", "E-sig-CA.jpg")]
    output, tries = _connects("inspect", *files)
    assert tries == 0
    assert "['ai-modified'] None" in output and "['provenance-invalid'] None" in output
    # control: the same reader with OCSP fetching on does try the network (so the count
    # above can fail)
    _, control = _connects("control", files[0])
    assert control > 0
