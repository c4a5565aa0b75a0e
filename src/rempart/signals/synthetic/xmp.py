"""XMP: the IPTC digital source type a file declares (Iptc4xmpExt:DigitalSourceType).

Why: generators and editors (Midjourney, Google, Adobe, Meta among them) write the IPTC
term into XMP even when they sign nothing; it is the same vocabulary as C2PA's and is
mapped the same way (base.SOURCE_TYPE_INDICATES). Unsigned, easily stripped or added: a
`weak` finding. The packet's xmp:CreatorTool is also matched against generators.toml.

Where packets are found: JPEG APP1 (`http://ns.adobe.com/xap/1.0/`), PNG iTXt
`XML:com.adobe.xmp` (through metadata.py's bounded chunk reader), the WebP `XMP ` chunk,
and for other containers (TIFF, MP4/MOV, HEIF, GIF) the first `<x:xmpmeta` packet in the
file's first bytes. Parsed with defusedxml: a DTD or entity (the "billion laughs" bomb) is
refused, as is a packet over the size limit; each is reported, never a crash.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from rempart.signals.synthetic.base import (
    Finding,
    Limits,
    Unreadable,
    source_type_indicates,
    source_type_term,
)
from rempart.signals.synthetic.metadata import (
    GENERATORS_FILE,
    _generators,
    match_entries,
    png_text,
)

JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
PNG_XMP_KEY = "XML:com.adobe.xmp"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
XMP_NS = "http://ns.adobe.com/xap/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def _too_big(size: int, limits: Limits, where: str) -> None:
    if size > limits.max_xmp_bytes:
        raise Unreadable(
            f"XMP packet in {where}: {size} bytes, over {limits.max_xmp_bytes} (refused)"
        )


def jpeg_packets(path: Path, limits: Limits) -> list[bytes]:
    """XMP packets of a JPEG's APP1 segments (markers walked up to the image data)."""
    packets: list[bytes] = []
    with path.open("rb") as fh:
        if fh.read(2) != b"\xff\xd8":
            return packets
        while True:
            marker = fh.read(2)
            if len(marker) < 2 or marker[0] != 0xFF:
                return packets
            if marker[1] in (0xD9, 0xDA):  # end of image, start of scan
                return packets
            if 0xD0 <= marker[1] <= 0xD7 or marker[1] == 0x01:
                continue
            raw = fh.read(2)
            if len(raw) < 2:
                return packets
            (length,) = struct.unpack(">H", raw)
            if length < 2:
                raise Unreadable("JPEG segment with a length under 2")
            body = fh.read(length - 2)
            if marker[1] == 0xE1 and body.startswith(JPEG_XMP):
                packet = body[len(JPEG_XMP) :]
                _too_big(len(packet), limits, "JPEG APP1")
                packets.append(packet)


def webp_packets(path: Path, limits: Limits) -> list[bytes]:
    """The `XMP ` chunk of a WebP (RIFF chunks walked, sizes checked against the file)."""
    packets: list[bytes] = []
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(12)
        while fh.tell() + 8 <= size:
            ctype, length = struct.unpack("<4sI", fh.read(8))
            if length > size - fh.tell():
                raise Unreadable(f"WebP chunk {ctype!r} claims {length} bytes, more than the file")
            if ctype == b"XMP ":
                _too_big(length, limits, "WebP")
                packets.append(fh.read(length))
            else:
                fh.seek(length + (length & 1), 1)
    return packets


def scanned_packets(path: Path, limits: Limits) -> list[bytes]:
    """The first XMP packet in the file's first bytes (other containers)."""
    with path.open("rb") as fh:
        head = fh.read(limits.max_head_bytes)
    start = head.find(b"<x:xmpmeta")
    if start < 0:
        return []
    end = head.find(b"</x:xmpmeta>", start)
    if end < 0:
        raise Unreadable(f"XMP packet unterminated within the first {limits.max_head_bytes} bytes")
    packet = head[start : end + len(b"</x:xmpmeta>")]
    _too_big(len(packet), limits, "file")
    return [packet]


def packets(path: Path, kind: str, limits: Limits) -> list[bytes]:
    """Every XMP packet of the file, by its container."""
    if kind == "jpeg":
        return jpeg_packets(path, limits)
    if kind == "webp":
        return webp_packets(path, limits)
    if kind == "png":  # a refused PNG chunk is reported once, by metadata.py
        found = []
        for key, text in png_text(path, limits, problems=[]):
            if key == PNG_XMP_KEY:
                data = text.encode("utf-8")
                _too_big(len(data), limits, "PNG iTXt")
                found.append(data)
        return found
    return scanned_packets(path, limits)


def parse(packet: bytes) -> Any:
    """The packet's XML tree, through defusedxml: DTDs, entities and external references
    refused (Unreadable)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    text = packet.strip(b"\x00 \t\r\n")
    try:
        return fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise Unreadable(f"XMP refused: {type(exc).__name__} (a DTD or entity: XML bomb?)") from exc
    except (ParseError, ValueError) as exc:
        raise Unreadable(f"XMP not well-formed: {exc}") from exc


def values(root: Any, namespace: str, name: str) -> list[str]:
    """Every value of a property, written as an element or as an rdf:Description
    attribute (both forms are legal XMP)."""
    tag = f"{{{namespace}}}{name}"
    found: list[str] = []
    for element in root.iter():
        attr = element.attrib.get(tag)
        if attr:
            found.append(str(attr))
        if element.tag == tag:
            text = (element.text or "").strip()
            if text:
                found.append(text)
            resource = element.attrib.get(f"{{{RDF_NS}}}resource")
            if resource:
                found.append(str(resource))
    return found


def detect(path: Path, kind: str, limits: Limits) -> list[Finding]:
    """Findings from the file's XMP: the digital source type (one finding per term) and a
    generator named as CreatorTool."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for packet in packets(path, kind, limits):
        root = parse(packet)
        for value in values(root, IPTC_EXT, "DigitalSourceType"):
            indicates = source_type_indicates(value)
            term = source_type_term(value)
            if indicates is None or term is None or term in seen:
                continue
            seen.add(term)
            findings.append(
                Finding(
                    "xmp",
                    indicates,
                    "weak",
                    {"field": "Iptc4xmpExt:DigitalSourceType", "digital_source_type": term},
                )
            )
        tools = [("CreatorTool", v) for v in values(root, XMP_NS, "CreatorTool")]
        findings += match_entries(_generators(GENERATORS_FILE), "xmp", tools)
    return findings
