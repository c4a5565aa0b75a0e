"""The real page (`rempart hash-page`, opened from file:// in Debian's chromium), fed every
reference image of the shared PDQ test data through its file input: the hash file behind
a[data-rempart=download] holds, for each, pdqhash's PDQ and quality on Pillow's full decode
(rempart.media.decode without draft reduction) and hashlib's MD5 and SHA-256. The robust
stage is unticked here: its own tests (test_photo_*) cover it.

Against the CLI's own hash (`rempart hash`: hash_image_bytes with full_decode, what a bank
keeps) the page is equal on every file, big JPEGs included (scans decode those at a reduced
size, "draft", which no browser decoder offers; a bank's hashes never are)."""

from __future__ import annotations

import hashlib

import numpy as np
import pdqhash
from tests.web.hashpage.conftest import HashPageRun
from tests.web.hashpage.nodejs import reference_images

from rempart.media.decode import decode_image
from rempart.signals.image_hashes import hash_image_bytes
from rempart.signals.pdq import bits_to_hex, hamming


def test_the_pages_file_has_pdqhash_on_pillows_full_decode(hash_page: HashPageRun) -> None:
    paths = reference_images()
    hash_page.page.locator("details.options").evaluate("d => { d.open = true; }")  # folded away
    hash_page.page.uncheck("#opt-keypoints")
    hash_page.page.uncheck("#opt-robust")  # (which also turns the key points off)
    submission = hash_page.hash_files(paths, timeout_ms=600_000)
    items = {item["sha256"]: item for item in submission["items"]}
    report = []
    for path in paths:
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        # Two reference files may be byte-identical: one item each is enough.
        assert sha256 in items, f"{path.name} has no item in the page's file"
        item = items[sha256]
        assert item["md5"] == hashlib.md5(data).hexdigest(), path.name
        decoded = decode_image(data, path, reduce_for_hashing=False)
        rgb = np.ascontiguousarray(np.asarray(decoded.image.convert("RGB"), dtype=np.uint8))
        bits, quality = pdqhash.compute(rgb)
        distance = hamming(item["pdq"], bits_to_hex(bits))
        assert (item["pdq"], item["pdq_quality"]) == (bits_to_hex(bits), int(quality)), path.name
        cli = hash_image_bytes(data, path, full_decode=True).pdq
        to_cli = hamming(item["pdq"], cli.hex)
        report.append(
            f"{path.name}: {distance} bits from pdqhash on the full decode, "
            f"{to_cli} from the CLI's hash"
        )
        assert to_cli == 0, report[-1]
        assert (item["width"], item["height"]) == (decoded.width, decoded.height), path.name
        assert "pdq_variants" not in item and "local_features" not in item
    print("\n" + "\n".join(report))
