"""API file lookups return the synthetic-media signals of the file (issue 15 item 3), over
real HTTP: a photo whose XMP declares trainedAlgorithmicMedia is ai-generated:xmp; a plain
photo has none ([]: no signal found, never "real")."""

from __future__ import annotations

from tests.api.conftest import Server, World, jpeg
from tests.signals.synthetic.media_builders import xmp_packet


def _with_xmp(data: bytes) -> bytes:
    body = b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet("trainedAlgorithmicMedia").encode()
    segment = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    return data[:2] + segment + data[2:]


def test_lookup_file_returns_synthetic_signals(server: Server, world: World) -> None:
    with server.client("pa") as c:
        r = c.post("/v1/lookup/file", files={"file": ("x.jpg", _with_xmp(jpeg(5)))})
        assert r.status_code == 200, r.text
        (finding,) = r.json()["synthetic"]
        assert (finding["type"], finding["indicates"]) == ("xmp", "ai-generated")
        r = c.post("/v1/lookup/file", content=_with_xmp(world.images[1]))
        body = r.json()
        assert body["matches"] and [f["type"] for f in body["synthetic"]] == ["xmp"]
        assert c.post("/v1/lookup/file", content=jpeg(78)).json()["synthetic"] == []
