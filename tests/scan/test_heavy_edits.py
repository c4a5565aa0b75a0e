"""The heaviest edits of issue 21, one generated photo each, through the real bank import,
index, descriptor index and matcher (as bench/robustness.py measures them on 150 photos):
a phone's screenshot with text as wide as the picture above and below it, a copy that
keeps only the upper 30% of her photo, a crop with a tilt, JPEG and a border; and a
same-scene negative (another photo of the same person) that must not match."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission, SubmissionItem
from rempart.samples import photo_like
from rempart.scan import robust
from rempart.scan.matcher import Matcher
from rempart.signals.image_hashes import hash_image
from rempart.signals.local_features import Verification
from rempart.signals.pdq_variants import picture_box, rotate_filled, work_copy
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from rempart.store.feature_index import FeatureIndex
from rempart.store.models import BankItem
from tests.conftest import migrated_sqlite_url

FACES = Path(__file__).resolve().parents[3] / "shared/testdata/faces/face_recognition-examples"
SEEDS = (1000, 1013, 1017)  # her photos (generated scenes with detail in the upper part)


def phone_screenshot(img: Image.Image, share: float = 0.88, dark: bool = False) -> Image.Image:
    """A chat app's screen: status bar, header, text lines as wide as the picture above
    it, the picture at `share` of the width, a caption, the input bar."""
    width = 720
    pw = round(width * share)
    ph = round(img.height * pw / img.width)
    bg, ink, bar = (
        ((18, 18, 22), (235,) * 3, (32, 32, 40)) if dark else ((250,) * 3, (20,) * 3, (238,) * 3)
    )
    canvas = Image.new("RGB", (width, 1560), bg)
    d = ImageDraw.Draw(canvas)
    d.font = ImageFont.load_default(22)
    d.rectangle((0, 0, width, 170), fill=bar)
    d.text((24, 22), "12:41", fill=ink)
    d.text((104, 100), "Group chat  -  1,204 members", fill=ink)
    x, top = (width - pw) // 2, 290
    for y in range(190, top - 20, 26):
        d.text((x + 8, y), "look who it is lol  " * 3, fill=ink)
    canvas.paste(img.resize((pw, ph)), (x, top))
    d.text((x + 8, top + ph + 14), "caption: saw this in the other room", fill=ink)
    d.rectangle((0, 1450, width, 1560), fill=bar)
    d.text((48, 1490), "Message", fill=ink)
    return canvas


def lower_replaced(img: Image.Image, filler: Image.Image, share: float) -> Image.Image:
    w, h = img.size
    cut = round(h * (1 - share))
    out = img.copy()
    out.paste(filler.resize((w, h - cut)), (0, cut))
    return out


def combined(img: Image.Image) -> Image.Image:
    """Cropped 8% a side, tilted 3 degrees, JPEG q60, inside a white border."""
    w, h = img.size
    tilted = rotate_filled(img.crop((w * 8 // 100, h * 8 // 100, w * 92 // 100, h * 92 // 100)), 3)
    canvas = Image.new("RGB", (tilted.width * 6 // 5, tilted.height * 6 // 5), (255, 255, 255))
    canvas.paste(tilted, (tilted.width // 10, tilted.height // 10))
    return canvas


class Bank:
    """Her photos banked in a real database; `scores` judges a found picture."""

    def __init__(self, folder: Path, photos: list[Image.Image]) -> None:
        self.db = Database(migrated_sqlite_url(folder / "rempart.db"))
        self.index = BankIndex(self.db, folder / "home")
        with self.db.session() as s:
            repository.create_bank(s, "hers")
        items = [
            SubmissionItem.from_image(
                hash_image(p, md5=f"{k:032x}", sha256=f"{k:064x}", robust="stored")
            )
            for k, p in enumerate(photos)
        ]
        consent = ConsentRecord("test", datetime.now(UTC), "test")
        import_submission(self.index, "hers", Submission(items), case_number="C1", consent=consent)
        with self.db.session() as s:
            ids = s.scalars(select(BankItem.id).order_by(BankItem.id)).all()
        self.photo = {int(i): k for k, i in enumerate(ids)}
        self.matcher = Matcher(
            self.db, self.index.load(), ("hers",), features=FeatureIndex.beside(self.index).load()
        )

    def matches(self, found: Image.Image) -> dict[int, dict[str, object]]:
        """Her photo (by position) -> the hit's details, for every match."""
        hits = self.matcher.match_hashes([hash_image(found, dihedral=True, robust="query")])[0]
        return {self.photo[h.bank_entry]: dict(h.details or {}) for h in hits}


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bank]:
    photos = [photo_like(s, (480, 360)) for s in SEEDS]
    for name in ("alex-lacamoire.png", "knn_examples/test/kit_with_rose.jpg"):  # 3 and 4
        if (FACES / name).is_file():
            face = Image.open(FACES / name).convert("RGB")
            face.thumbnail((512, 512))
            photos.append(face)
    b = Bank(tmp_path_factory.mktemp("heavy"), photos)
    yield b
    b.db.dispose()


def test_a_picture_inside_a_phone_screenshot_is_found(bank: Bank) -> None:
    her = photo_like(SEEDS[0], (480, 360))
    for dark in (False, True):
        shot = phone_screenshot(her, 0.86, dark)
        work = work_copy(shot)
        box = picture_box(work)
        assert box is not None, dark
        scale = work.width / shot.width
        top = round(290 * scale)  # where the picture is on the work copy
        assert abs(box[1] - top) <= 2 and abs(box[0] - round(50 * scale)) <= 2, (box, dark)
        found = bank.matches(shot)
        assert 0 in found and float(str(found[0]["score"])) <= 1.0, (found, dark)
        assert set(found) == {0}, found


def test_a_copy_keeping_only_the_upper_30_percent_is_found(bank: Bank) -> None:
    filler = photo_like(424_301, (640, 480))
    found = bank.matches(lower_replaced(photo_like(SEEDS[1], (480, 360)), filler, 0.7))
    assert set(found) == {1}, found
    if not (FACES / "alex-lacamoire.png").is_file():
        pytest.skip("../shared/testdata/faces is not there")
    # a portrait: only his head is left, its 51 agreeing keypoints over 4.5% of the photo
    her = Image.open(FACES / "alex-lacamoire.png").convert("RGB")
    found = bank.matches(lower_replaced(her, filler, 0.7))
    assert set(found) == {3} and found[3]["method"] == "local-features", found


def test_crop_tilt_jpeg_and_border_together_are_found(bank: Bank) -> None:
    found = bank.matches(combined(photo_like(SEEDS[2], (480, 360))))
    assert set(found) == {2}, found


def test_another_photo_of_the_same_person_does_not_match(bank: Bank) -> None:
    other = FACES / "knn_examples/train/kit_harington/john1.jpeg"
    if not other.is_file():
        pytest.skip("../shared/testdata/faces is not there")
    img = Image.open(other).convert("RGB")
    img.thumbnail((512, 512))
    assert bank.matches(img) == {}
    # while a copy of her photo of him, half replaced, is found
    hers = Image.open(FACES / "knn_examples/test/kit_with_rose.jpg").convert("RGB")
    hers.thumbnail((512, 512))
    assert set(bank.matches(lower_replaced(hers, photo_like(5, (640, 480)), 0.5))) == {4}


def _verification(inliers: int, area: tuple[float, float, float, float]) -> Verification:
    return Verification(inliers, inliers, 1.0, 0.0, area, area)


def test_keypoints_close_together_count_in_proportion_to_their_area() -> None:
    # a band of her photo kept whole: 53 keypoints over 4.5% of it
    band = _verification(53, (0.35, 0.14, 0.76, 0.25))
    assert robust.accept_verification(band)
    assert robust.local_verdict(band, None).score == pytest.approx(12 / (53 * 0.41 * 0.11 / 0.08))
    # a shared logo: many keypoints on 1.5% of the picture; a few over 5%
    assert not robust.accept_verification(_verification(200, (0.8, 0.8, 0.92, 0.925)))
    assert not robust.accept_verification(_verification(15, (0.5, 0.5, 0.75, 0.7)))
    # spread over 8% or more: counted in full, as before
    assert robust.local_verdict(_verification(24, (0.1, 0.1, 0.5, 0.5)), None).score == 0.5
