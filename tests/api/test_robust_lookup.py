"""A platform's file lookup goes through the robust stage: a cropped, framed copy of a
banked photo is found, with its method; an unrelated framed picture is not."""

from __future__ import annotations

import io

from PIL import Image

from rempart.samples import photo_like
from rempart.signals.image_hashes import hash_image_bytes
from rempart.signals.pdq import hamming


def test_hash_media_computes_the_query_variants() -> None:
    from rempart.api.lookups import hash_media

    src = photo_like(11, (640, 480))
    canvas = Image.new("RGB", (900, 700), (0, 0, 0))
    canvas.paste(src, (130, 110))
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    h = hash_media(buf.getvalue(), "framed.png").image
    assert h.features is not None
    trimmed = [v for v in h.variants if v.kind == "trimmed" and v.name == "original"]
    assert trimmed
    direct = hash_image_bytes(buf.getvalue(), "framed.png", dihedral=True)
    assert hamming(trimmed[0].hash.hex, hash_image_bytes(_png(src), "s.png").pdq.hex) < 32
    assert hamming(direct.pdq.hex, hash_image_bytes(_png(src), "s.png").pdq.hex) > 60


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_a_framed_copy_is_found_over_http(server, world) -> None:  # noqa: ANN001
    src = Image.open(io.BytesIO(world.images[2])).convert("RGB")
    framed = Image.new("RGB", (src.width + 200, src.height + 160), (255, 255, 255))
    framed.paste(src, (100, 80))
    other = Image.new("RGB", (src.width + 200, src.height + 160), (255, 255, 255))
    other.paste(photo_like(777, src.size), (100, 80))
    with server.client("pa") as c:
        (m,) = c.post("/v1/lookup/file", files={"file": ("f.png", _png(framed))}).json()["matches"]
        assert m["signal"] in ("pdq-trimmed", "local-features")
        assert (
            c.post("/v1/lookup/file", files={"file": ("o.png", _png(other))}).json()["matches"]
            == []
        )
