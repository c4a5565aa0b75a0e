import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

from rempart.faces.crypto import TemplateCipher, TemplateKeyError, key_path, load_key
from rempart.faces.detect import find_faces
from rempart.faces.index import TemplateIndex
from rempart.samples import paste_region, photo_like
from tests.conftest import TESTDATA

FACES = TESTDATA / "faces/face_recognition-examples"
pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="needs ../shared/testdata")


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def distance(a: object, b: object) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def test_one_face_two_faces_no_face() -> None:
    (face,) = find_faces(rgb(FACES / "obama.jpg"))
    assert face.status == "ok" and len(face.template or ()) == 128 and face.width > 200
    assert len(find_faces(rgb(FACES / "two_people.jpg"))) == 2
    assert find_faces(np.asarray(photo_like(3, (640, 480)))) == []
    assert find_faces(np.zeros((10, 10, 3), dtype=np.uint8)) == []  # tiny


def test_same_person_close_other_person_far() -> None:
    obama = find_faces(rgb(FACES / "obama.jpg"))[0].template
    obama2 = find_faces(rgb(FACES / "obama-480p.jpg"))[0].template
    biden = find_faces(rgb(FACES / "biden.jpg"))[0].template
    assert distance(obama, obama2) < 0.45 < 0.6 < distance(obama, biden)


def test_greyscale_partly_outside_small_and_blurred_faces() -> None:
    img = Image.open(FACES / "obama.jpg").convert("RGB")
    (face,) = find_faces(rgb(FACES / "obama.jpg"))
    grey = find_faces(np.asarray(ImageOps.grayscale(img).convert("RGB")))
    assert grey and grey[0].status == "ok"
    assert distance(grey[0].template, face.template) < 0.4
    left, top, right, bottom = face.box
    cut = img.crop((left + face.width // 3, 0, img.width, img.height))  # a third cut off
    assert all(f.status in ("ok", "blurred", "too-small") for f in find_faces(np.asarray(cut)))
    tiny = img.resize((img.width * 30 // face.width, img.height * 30 // face.width))
    found = find_faces(np.asarray(tiny))
    assert not found or found[0].status == "too-small"  # a 30 px face is not compared
    blurred = find_faces(np.asarray(img.filter(ImageFilter.GaussianBlur(9))))
    assert not blurred or blurred[0].status == "blurred"


def test_face_pasted_onto_a_scene_is_found() -> None:
    img = Image.open(FACES / "obama.jpg")
    (face,) = find_faces(np.asarray(img.convert("RGB")))
    left, top, right, bottom = face.box
    pad = face.width // 4
    comp = paste_region(
        img,
        (left - pad, top - pad, right + pad, bottom + pad),
        photo_like(9, (900, 700)),
        (300, 150),
        scale=0.8,
    )
    found = [f for f in find_faces(np.asarray(comp)) if f.status == "ok"]
    assert found and distance(found[0].template, face.template) < 0.5


def test_templates_encrypted_bound_to_case_and_key(tmp_path: Path) -> None:
    key = load_key(tmp_path, create=True)
    assert stat.S_IMODE(os.stat(key_path(tmp_path)).st_mode) == 0o600
    assert load_key(tmp_path, create=False) == key
    vec = np.random.default_rng(1).normal(size=128).astype(np.float32)
    cipher = TemplateCipher(key)
    blob = cipher.seal(vec, "CASE-1", "ref1")
    assert vec.tobytes() not in blob and len(blob) == 12 + 512 + 16
    assert np.array_equal(cipher.open(blob, "CASE-1", "ref1"), vec)
    with pytest.raises(TemplateKeyError, match="does not decrypt"):
        cipher.open(blob, "CASE-2", "ref1")  # moved to another case
    with pytest.raises(TemplateKeyError, match="does not decrypt"):
        TemplateCipher(bytes(32)).open(blob, "CASE-1", "ref1")  # another key
    with pytest.raises(TemplateKeyError, match="no face-template key"):
        load_key(tmp_path / "elsewhere", create=False)
    key_path(tmp_path).write_bytes(b"short")
    with pytest.raises(TemplateKeyError, match="not a 256-bit key"):
        load_key(tmp_path, create=False)


def test_template_index_exact_and_hnsw_agree() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2000, 128)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[:50] + rng.normal(scale=0.02, size=(50, 128)).astype(np.float32)
    exact = TemplateIndex(data, exact=True).search(queries, 0.5)
    approx = TemplateIndex(data, exact=False).search(queries, 0.5)
    assert [h[0].position for h in exact] == list(range(50))
    assert [h[0].position for h in approx] == list(range(50))
    assert TemplateIndex(np.zeros((0, 128))).search(queries, 0.5) == [[] for _ in range(50)]


def test_photo_of_a_photo_and_a_crowd() -> None:
    img = Image.open(FACES / "obama.jpg").convert("RGB")
    (face,) = find_faces(np.asarray(img))
    # a printed photo lying at an angle in a scene, slightly out of focus
    print_ = ImageOps.expand(img.resize((455, 568)), border=20, fill="white").rotate(
        8, expand=True, fillcolor=(90, 80, 70)
    )
    scene = photo_like(12, (1400, 1000))
    scene.paste(print_.filter(ImageFilter.GaussianBlur(1)), (500, 200))
    found = [f for f in find_faces(np.asarray(scene)) if f.status == "ok"]
    assert found and distance(found[0].template, face.template) < 0.55
    # a crowd: 12 faces of the sample people in a grid; every face listed, none lost
    tiles = []
    for path in sorted((FACES / "knn_examples/train").glob("*/*")):
        photo = Image.open(path).convert("RGB")
        for f in find_faces(np.asarray(photo)):
            pad = f.width // 2
            box = (f.box[0] - pad, f.box[1] - pad, f.box[2] + pad, f.box[3] + pad)
            tiles.append(photo.crop(box).resize((300, 300)))
    tiles = (tiles * 2)[:12]
    crowd = Image.new("RGB", (1200, 900))
    for i, tile in enumerate(tiles):
        crowd.paste(tile, (300 * (i % 4), 300 * (i // 4)))
    faces = find_faces(np.asarray(crowd))
    assert len(faces) >= 10 and all(f.status in ("ok", "too-small", "blurred") for f in faces)
