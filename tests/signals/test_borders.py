"""Finding the picture inside pads, bars and screenshot frames (signals.borders)."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter

from rempart.samples import photo_like
from rempart.signals.borders import content_box


def _padded(img: Image.Image, pad: int, colour: tuple[int, int, int]) -> Image.Image:
    canvas = Image.new("RGB", (img.width + 2 * pad, img.height + 2 * pad), colour)
    canvas.paste(img, (pad, pad))
    return canvas


def test_a_photo_without_borders_keeps_its_whole_box() -> None:
    for seed in range(5):
        img = photo_like(seed, (640, 480))
        box = content_box(img)
        assert not box.trimmed and not box.mostly_border


def test_solid_pads_in_any_colour_are_trimmed_to_the_pixel() -> None:
    img = photo_like(7, (640, 480))
    for colour in ((0, 0, 0), (255, 255, 255), (30, 120, 200)):
        box = content_box(_padded(img, 96, colour))
        assert box.box == (96, 96, 736, 576), colour


def test_letterbox_bars_top_and_bottom_only() -> None:
    img = photo_like(8, (640, 360))
    canvas = Image.new("RGB", (640, 640), (0, 0, 0))
    canvas.paste(img, (0, 140))
    assert content_box(canvas).box == (0, 140, 640, 500)


def test_blurred_pad_of_itself_is_trimmed() -> None:
    img = photo_like(9, (640, 480))
    canvas = img.resize((896, 672)).filter(ImageFilter.GaussianBlur(20))
    canvas.paste(img, (128, 96))
    assert content_box(canvas).box == (128, 96, 768, 576)


def test_screenshot_frame_with_text_in_the_status_bar() -> None:
    img = photo_like(10, (640, 480))
    canvas = Image.new("RGB", (680, 700), (245, 245, 245))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 680, 90), fill=(40, 40, 60))
    draw.text((20, 30), "12:41  chat  >  photos", fill=(255, 255, 255))
    draw.rectangle((0, 610, 680, 700), fill=(220, 220, 220))
    canvas.paste(img, (20, 110))
    assert content_box(canvas).box == (20, 110, 660, 590)


def test_flat_tiny_and_mostly_border_pictures() -> None:
    assert content_box(Image.new("RGB", (400, 300), (128, 128, 128))).mostly_border
    assert not content_box(Image.new("RGB", (10, 10), (0, 0, 0))).trimmed  # too small to say
    small = photo_like(11, (60, 40))
    canvas = Image.new("RGB", (800, 800), (255, 255, 255))
    canvas.paste(small, (370, 380))
    assert content_box(canvas).mostly_border


def test_flat_mask_equals_the_plain_numpy_filter() -> None:
    """The OpenCV box filter gives the very mask of the nine shifted sums it replaced."""
    import numpy as np

    from rempart.signals.borders import _flat_mask, _luma

    def plain(grey: np.ndarray) -> np.ndarray:
        p = np.pad(grey, 1, mode="edge")
        h, w = grey.shape
        taps = np.zeros_like(grey)
        for dy in range(3):
            for dx in range(3):
                taps = taps + p[dy : dy + h, dx : dx + w]
        blur = taps / 9.0
        q = np.pad(blur, 1, mode="edge")
        lap = np.abs(4 * blur - q[:-2, 1:-1] - q[2:, 1:-1] - q[1:-1, :-2] - q[1:-1, 2:])
        middle = lap[h // 4 : h - h // 4, w // 4 : w - w // 4]
        limit = max(0.75, min(3.0, 0.25 * float(np.quantile(middle, 0.75))))
        return np.asarray(lap <= limit)

    for k in range(6):
        grey = _luma(photo_like(900 + k, (640, 480)))[0]
        assert np.array_equal(_flat_mask(grey), plain(grey))
    flat = np.full((20, 300), 7, np.float32)
    assert np.array_equal(_flat_mask(flat), plain(flat))


def test_boxes_unchanged_by_the_early_return_for_pictures_with_nothing_to_trim() -> None:
    """content_box returns the whole box before its full-size grey copy when no side walked
    past MIN_TRIM (issue 22: most photos): the boxes of photos with and without thin or
    thick pads are those the previous code gave (recorded from it)."""
    cases: list[tuple[Image.Image, tuple[int, int, int, int]]] = [
        (photo_like(40 + seed, (512, 384)), (0, 0, 512, 384)) for seed in range(4)
    ]
    for pad, sides, want in (
        (3, "t", (0, 0, 480, 363)),
        (12, "l", (0, 0, 492, 360)),
        (30, "tb", (0, 30, 480, 390)),
        (6, "lrtb", (0, 0, 492, 372)),
        (50, "r", (0, 0, 480, 360)),
    ):
        left, top, right, bottom = (pad if s in sides else 0 for s in "ltrb")
        canvas = Image.new("RGB", (480 + left + right, 360 + top + bottom), (20, 20, 20))
        canvas.paste(photo_like(60 + pad, (480, 360)), (left, top))
        cases.append((canvas, want))
    for img, want in cases:
        box = content_box(img)
        assert (box.box, box.size, box.mostly_border) == (want, img.size, False)
