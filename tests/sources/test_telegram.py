import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.folder import iter_folder
from rempart.sources.telegram import caption, iter_export, looks_like_export
from tests.sources.telegram_factory import account_export, chat_export, message

CORPUS = Path(__file__).parent / "telegram_corpus"


def split(items: list) -> tuple[list[MediaRef], list[SourceProblem]]:
    return (
        [i for i in items if isinstance(i, MediaRef)],
        [i for i in items if isinstance(i, SourceProblem)],
    )


def test_single_chat_export_media_and_provenance(tmp_path: Path) -> None:
    export = chat_export(tmp_path / "exp")
    assert looks_like_export(export)
    refs, problems = split(list(iter_export(export)))
    by_msg = {r.provenance["message_id"]: r for r in refs}
    assert set(by_msg) == {"2", "3", "5", "10"}  # photo, video, thumbnail of a big file, photo
    photo = by_msg["2"].provenance
    assert photo["chat"] == "Room A" and photo["chat_id"] == "555"
    assert photo["chat_type"] == "private_supergroup" and photo["caption"] == "look here"
    assert photo["from"] == "Sender One" and photo["from_id"] == "user1001"
    assert photo["source"] == "telegram" and photo["media_field"] == "photo"
    video = by_msg["3"].provenance
    assert video["forwarded_from"] == "Channel X" and video["via_bot"] == "@uploaderbot"
    assert video["media_type"] == "video_file" and video["from"] == "Sender Two"
    assert by_msg["5"].provenance["media_field"] == "thumbnail"  # the file itself was too big
    assert by_msg["10"].provenance["reply_to_message_id"] == "2"
    reasons = {(p.provenance.get("message_id"), p.reason) for p in problems}
    assert reasons == {
        ("4", "not-exported"),
        ("5", "not-exported"),
        ("6", "not-exported"),
        ("7", "path-outside-export"),
        ("8", "path-outside-export"),
    }
    assert all("result.json" in p.detail and "message" in p.detail for p in problems)


def test_account_export_reads_every_chat_and_left_chat(tmp_path: Path) -> None:
    refs, problems = split(list(iter_export(account_export(tmp_path / "acc"))))
    assert not problems
    assert sorted(r.provenance["chat"] for r in refs) == ["Old room", "Room B", "Room C"]
    assert {r.provenance["chat_id"] for r in refs} == {"900", "901", "902"}


def test_folder_walk_hands_an_export_folder_to_the_telegram_source(tmp_path: Path) -> None:
    chat_export(tmp_path / "case" / "export1")
    refs, _ = split(list(iter_folder([tmp_path / "case"])))
    assert refs and all(r.provenance["source"] == "telegram" for r in refs)


def test_link_leaving_the_export_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"\xff\xd8\xff")
    root = tmp_path / "exp"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "link.jpg").symlink_to(outside)
    doc = {
        "name": "R",
        "type": "private_group",
        "id": 1,
        "messages": [message(1, photo="photos/link.jpg")],
    }
    (root / "result.json").write_text(json.dumps(doc))
    refs, problems = split(list(iter_export(root / "result.json")))
    assert not refs and [p.reason for p in problems] == ["path-outside-export"]


def test_malformed_export_keeps_the_media_before_the_error(tmp_path: Path) -> None:
    export = chat_export(tmp_path / "exp")
    text = export.read_text()
    cut = text.index('"id": 9')
    export.write_text(text[:cut] + '"id": 9, "photo": [}')
    refs, problems = split(list(iter_export(export)))
    assert {r.provenance["message_id"] for r in refs} == {"2", "3", "5"}
    assert problems[-1].reason == "malformed-export" and str(export) in problems[-1].detail


def _peak_mb(export: Path) -> tuple[int, float]:
    code = (
        "import resource, sys\nfrom pathlib import Path\n"
        "from rempart.sources.telegram import iter_export\n"
        "n = sum(1 for _ in iter_export(Path(sys.argv[1])))\n"
        "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(export)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    return int(out[0]), float(out[1])


def _big_export(root: Path, messages: int) -> Path:
    root.mkdir()
    with (root / "result.json").open("w") as fh:
        fh.write('{"name": "Big", "type": "public_channel", "id": 7, "messages": [\n')
        for i in range(messages):
            m = message(i, text="x" * 200, photo=f"photos/p{i}.jpg")
            fh.write(("," if i else "") + json.dumps(m) + "\n")
        fh.write("]}")
    return root / "result.json"


def test_a_big_export_is_streamed(tmp_path: Path) -> None:
    """100,000 messages (about 40 MB of JSON) take no more memory than 1,000."""
    small = _big_export(tmp_path / "small", 1_000)
    big = _big_export(tmp_path / "big", 100_000)
    assert big.stat().st_size > 35_000_000
    n_small, rss_small = _peak_mb(small)
    n_big, rss_big = _peak_mb(big)
    assert (n_small, n_big) == (1_000, 100_000)  # every photo reported missing
    assert rss_big - rss_small < 15, (rss_small, rss_big)


def test_caption_forms() -> None:
    assert caption("plain") == "plain"
    assert caption(["a", {"type": "link", "text": "b"}, {"type": "x"}, 5]) == "ab"
    assert caption(None) == "" and caption({"x": 1}) == ""


def test_corpus_of_hostile_exports_never_crashes(tmp_path: Path) -> None:
    seeds = sorted(CORPUS.glob("*.json"))
    assert len(seeds) >= 8
    for seed in seeds:
        root = tmp_path / seed.stem
        root.mkdir()
        (root / "result.json").write_bytes(seed.read_bytes())
        items = list(iter_export(root / "result.json"))
        assert all(isinstance(i, MediaRef | SourceProblem) for i in items), seed


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "name",
                    "type",
                    "messages",
                    "photo",
                    "file",
                    "thumbnail",
                    "text",
                    "from",
                    "chats",
                    "list",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(doc=json_values, tail=st.binary(max_size=40), cut=st.integers(min_value=0))
def test_fuzzed_exports_never_crash(
    tmp_path_factory: object, doc: object, tail: bytes, cut: int
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "result.json"
        data = json.dumps({"name": "F", "messages": [doc, {"photo": doc}]}).encode()
        path.write_bytes(data[: cut % (len(data) + 1)] + tail)
        for item in iter_export(path):
            assert isinstance(item, MediaRef | SourceProblem)
