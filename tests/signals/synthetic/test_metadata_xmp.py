"""Generator metadata (PNG text, EXIF) and XMP digital source type on ordinary photos made
in the test; hostile input (lying chunk sizes, truncation, compressed-text bombs, XML
bombs, oversized packets, unsupported formats) reported per file, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rempart.signals.synthetic import Limits, inspect_file
from rempart.signals.synthetic.metadata import GENERATORS_FILE, load_generators
from tests.signals.synthetic import media_builders as mb

A1111 = (
    "a lighthouse on a cliff at dusk\nNegative prompt: blurry\nSteps: 28, Sampler: DPM++ 2M, "
    "CFG scale: 7, Seed: 1234, Size: 512x512, Model: sd_xl_base_1.0"
)
COMFY = json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 5}}})


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _kinds(path: Path) -> list[tuple[str, str, str]]:
    findings, problem = inspect_file(path)
    assert problem is None, problem
    return [(f.type, f.indicates, f.evidence.get("generator", "")) for f in findings]


def test_generators_file_loads() -> None:
    names = [g.name for g in load_generators(GENERATORS_FILE)]
    assert any("AUTOMATIC1111" in n for n in names) and any("ComfyUI" in n for n in names)


def test_png_generator_text(tmp_path: Path) -> None:
    a1111 = _write(tmp_path, "a.png", mb.png(1, mb.text("parameters", A1111)))
    [(kind, indicates, generator)] = _kinds(a1111)
    assert (kind, indicates) == ("generator-metadata", "ai-generated")
    assert "AUTOMATIC1111" in generator
    [finding] = inspect_file(a1111)[0]
    assert finding.evidence["where"] == "png-text:parameters"
    assert finding.evidence["matched"] == "Steps: 28, Sampler: "  # never the whole prompt
    comfy = _write(tmp_path, "c.png", mb.png(2, mb.ztext("prompt", COMFY.encode())))
    assert [g for _, _, g in _kinds(comfy)] == ["ComfyUI (prompt graph)"]
    invoke = _write(
        tmp_path, "i.png", mb.png(3, mb.itext("invokeai_metadata", '{"seed": 1}', True))
    )
    assert [g for _, _, g in _kinds(invoke)] == ["InvokeAI"]


def test_ordinary_photos_not_flagged(tmp_path: Path) -> None:
    plain = _write(
        tmp_path,
        "p.png",
        mb.png(4, mb.text("Software", "GIMP 2.10"), mb.text("parameters", "exposure +1")),
    )
    assert _kinds(plain) == []
    camera = _write(tmp_path, "p.jpg", mb.jpeg(5, software="Adobe Photoshop 25.0 (Windows)"))
    assert _kinds(camera) == []
    assert _kinds(_write(tmp_path, "q.jpg", mb.jpeg(6, xmp=mb.xmp_packet("digitalCapture")))) == []
    algo = mb.xmp_packet("algorithmicMedia")
    assert _kinds(_write(tmp_path, "r.jpg", mb.jpeg(7, xmp=algo))) == []


def test_exif_software(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.jpg", mb.jpeg(8, software="Stable Diffusion XL"))
    assert [(k, i) for k, i, _ in _kinds(path)] == [("generator-metadata", "ai-generated")]


def test_xmp_in_jpeg_png_webp(tmp_path: Path) -> None:
    jpeg = _write(tmp_path, "x.jpg", mb.jpeg(9, xmp=mb.xmp_packet("trainedAlgorithmicMedia")))
    assert _kinds(jpeg) == [("xmp", "ai-generated", "")]
    [finding] = inspect_file(jpeg)[0]
    assert finding.evidence == {
        "field": "Iptc4xmpExt:DigitalSourceType",
        "digital_source_type": "trainedAlgorithmicMedia",
    }
    packet = mb.xmp_packet("compositeWithTrainedAlgorithmicMedia", attribute=True)
    png = _write(tmp_path, "x.png", mb.png(10, mb.itext("XML:com.adobe.xmp", packet)))
    assert _kinds(png) == [("xmp", "ai-modified", "")]
    webp = _write(tmp_path, "x.webp", mb.webp(11, mb.xmp_packet("trainedAlgorithmicMedia")))
    assert _kinds(webp) == [("xmp", "ai-generated", "")]
    tool = _write(tmp_path, "t.jpg", mb.jpeg(12, xmp=mb.xmp_packet(tool="ComfyUI 0.3")))
    assert [(k, i) for k, i, _ in _kinds(tool)] == [("generator-metadata", "ai-generated")]


def _problem(path: Path, limits: Limits | None = None) -> str:
    findings, problem = inspect_file(path) if limits is None else inspect_file(path, limits=limits)
    assert problem is not None, findings
    assert problem.file == str(path)
    return problem.reason


def test_png_lying_truncated_and_bombs(tmp_path: Path) -> None:
    lying = _write(
        tmp_path, "lie.png", mb.png(13, mb.chunk(b"tEXt", b"parameters\x00x", 0x7FFFFFF0))
    )
    assert "claims 2147483632 bytes" in _problem(lying)
    full = mb.png(14, mb.text("parameters", A1111))
    truncated = _write(tmp_path, "cut.png", full[:37])
    assert "truncated" in _problem(truncated) or "claims" in _problem(truncated)
    bomb = mb.ztext("parameters", b"\x00" * (64 << 20))  # 64 MiB of zeros, ~64 KiB stored
    assert len(bomb) < 200_000
    reason = _problem(_write(tmp_path, "bomb.png", mb.png(15, bomb)))
    assert "inflates past 1048576 bytes" in reason
    itxt_bomb = mb.itext("XML:com.adobe.xmp", " " * (32 << 20), compressed=True)
    assert "inflates past" in _problem(_write(tmp_path, "ibomb.png", mb.png(16, itxt_bomb)))
    many = _write(tmp_path, "many.png", mb.png(17, *[mb.text(f"k{i}", "v") for i in range(20)]))
    assert "more than 10 chunks" in _problem(many, Limits(max_chunks=10))
    corrupt = mb.chunk(b"zTXt", b"prompt\x00\x00" + b"not zlib at all")
    assert "corrupt compressed text" in _problem(_write(tmp_path, "z.png", mb.png(18, corrupt)))


def test_a_bomb_does_not_hide_other_signals(tmp_path: Path) -> None:
    bomb = mb.ztext("Comment", b"\x00" * (4 << 20))
    comfy = mb.text("prompt", COMFY)
    path = _write(tmp_path, "both.png", mb.png(19, mb.text("parameters", A1111), bomb, comfy))
    findings, problem = inspect_file(path)
    assert problem is not None and "inflates past" in problem.reason
    assert problem.reason.count("inflates past") == 1  # reported once
    # the chunks before and after the bomb were read: their findings are kept
    assert sorted(f.evidence["where"] for f in findings) == [
        "png-text:parameters",
        "png-text:prompt",
    ]


XML_BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">&lol3;</x:xmpmeta>'
)
EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">&e;</x:xmpmeta>'
)


def test_xml_bombs_and_huge_packets_refused(tmp_path: Path) -> None:
    for n, packet in enumerate((XML_BOMB, EXTERNAL)):
        reason = _problem(_write(tmp_path, f"b{n}.jpg", mb.jpeg(20, xmp=packet)))
        assert "XMP refused" in reason
    huge = mb.xmp_packet("trainedAlgorithmicMedia").replace("<rdf:RDF", " " * 60000 + "<rdf:RDF")
    reason = _problem(
        _write(tmp_path, "huge.jpg", mb.jpeg(21, xmp=huge)), Limits(max_xmp_bytes=50_000)
    )
    assert "over 50000 (refused)" in reason
    broken = _write(tmp_path, "bad.jpg", mb.jpeg(22, xmp="<x:xmpmeta><unclosed>"))
    assert "XMP not well-formed" in _problem(broken)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("notes.txt", b"just some text", "unsupported format"),
        ("empty.jpg", b"", "unsupported format"),
        ("cut.jpg", b"\xff\xd8\xff\xe1\x00", None),
    ],
)
def test_unsupported_and_tiny_files(
    tmp_path: Path, name: str, data: bytes, expected: str | None
) -> None:
    findings, problem = inspect_file(_write(tmp_path, name, data))
    assert findings == []
    if expected:
        assert problem is not None and expected in problem.reason
