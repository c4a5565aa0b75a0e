"""Test helper: ordinary generated photos (rempart.samples.photo_like) carrying the metadata
generators and editors write: PNG text chunks (also lying, truncated or bomb-like ones), XMP
packets in JPEG, PNG and WebP, EXIF Software. Built in the tests, never stored."""

from __future__ import annotations

import io
import struct
import zlib

from rempart.samples import photo_like

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def chunk(ctype: bytes, data: bytes, length: int | None = None) -> bytes:
    """One PNG chunk; `length` lets a test lie about its size."""
    size = len(data) if length is None else length
    return struct.pack(">I", size) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def text(key: str, value: str) -> bytes:
    return chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1"))


def ztext(key: str, value: bytes) -> bytes:
    return chunk(b"zTXt", key.encode("latin-1") + b"\x00\x00" + zlib.compress(value, 9))


def itext(key: str, value: str, compressed: bool = False) -> bytes:
    body = value.encode("utf-8")
    if compressed:
        body = zlib.compress(body)
    head = key.encode("latin-1") + b"\x00" + bytes([int(compressed), 0]) + b"\x00\x00"
    return chunk(b"iTXt", head + body)


def png(seed: int, *chunks: bytes) -> bytes:
    """A small PNG photo with the chunks inserted after IHDR."""
    buf = io.BytesIO()
    photo_like(seed, (96, 72)).save(buf, format="PNG")
    data = buf.getvalue()
    cut = 8 + 25  # signature, IHDR
    return data[:cut] + b"".join(chunks) + data[cut:]


def xmp_packet(source_type: str | None = None, attribute: bool = False, tool: str = "") -> str:
    """An XMP packet declaring an IPTC digital source type (element or attribute form)."""
    uri = IPTC + source_type if source_type else ""
    attrs = f' Iptc4xmpExt:DigitalSourceType="{uri}"' if attribute and uri else ""
    if tool:
        attrs += f' xmp:CreatorTool="{tool}"'
    element = (
        f"<Iptc4xmpExt:DigitalSourceType>{uri}</Iptc4xmpExt:DigitalSourceType>"
        if uri and not attribute
        else ""
    )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/"{attrs}>{element}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    )


def jpeg(seed: int, xmp: str | bytes | None = None, software: str | None = None) -> bytes:
    """A small JPEG photo, with an XMP APP1 segment and/or EXIF Software."""
    buf = io.BytesIO()
    image = photo_like(seed, (96, 72))
    exif = image.getexif()
    if software:
        exif[0x0131] = software
    image.save(buf, format="JPEG", quality=85, exif=exif.tobytes() if software else b"")
    data = buf.getvalue()
    if xmp is None:
        return data
    body = b"http://ns.adobe.com/xap/1.0/\x00" + (xmp.encode() if isinstance(xmp, str) else xmp)
    segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return data[:2] + segment + data[2:]


def webp(seed: int, xmp: str) -> bytes:
    buf = io.BytesIO()
    photo_like(seed, (96, 72)).save(buf, format="WEBP", quality=80, xmp=xmp.encode())
    return buf.getvalue()
