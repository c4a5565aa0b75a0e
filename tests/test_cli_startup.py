"""The `rempart` command starts without the heavy libraries (issue 19: every command took
about 2.5 s to start): bench/cli_startup_bench.py runs at a tiny size, the commands that
must start fast import none of numpy, OpenCV, PyAV, dlib, FAISS, Alembic, cryptography,
matplotlib or FastAPI, nor SQLAlchemy (`bank list` and `review list` read SQLite through
sqlite3) or Pydantic, and the constants the command line keeps for its help (so as not to
import their modules) equal the originals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench" / "cli_startup_bench.py"
NEVER_AT_START = {
    "numpy",
    "cv2",
    "av",
    "dlib",
    "faiss",
    "alembic",
    "cryptography",
    "matplotlib",
    "PIL",
    "fastapi",
    "uvicorn",
    "httpx",
    "scipy",
}


def test_startup_bench_runs_and_commands_stay_light(tmp_path: Path) -> None:
    out = tmp_path / "startup.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--repeat", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rempart bank list" in proc.stdout
    rows = {r["command"]: r for r in json.loads(out.read_text())["commands"]}
    assert {"rempart --help", "rempart bank list", "rempart review list"} <= set(rows)
    for name in ("rempart --help", "rempart bank list", "rempart review list"):
        row = rows[name]
        assert row["best_s"] > 0 and row["cpu_best_s"] >= 0 and row["target_s"] == 0.5
        assert not NEVER_AT_START & set(row["heavy_modules"]), (name, row["heavy_modules"])
    # the listings read an up-to-date SQLite file through sqlite3 (rempart.store.light):
    # neither SQLAlchemy nor the models are imported; and Typer's Pydantic coercion is
    # not built for values that need none (rempart.cli.coercion)
    for name in ("rempart --help", "rempart bank list", "rempart review list"):
        assert not {"sqlalchemy", "pydantic"} & set(rows[name]["heavy_modules"]), rows[name]


def test_help_constants_equal_their_modules() -> None:
    from rempart import cli, cli_api, cli_cases, cli_sync
    from rempart.api.settings import ROLES
    from rempart.cases.notices import ORGANISATION
    from rempart.cases.workflow import STATES
    from rempart.exchange.sync_feed import DEFAULT_LIMIT, MAX_LIMIT
    from rempart.scan.face_match import DEFAULT_FACE_DISTANCE

    assert cli.DEFAULT_FACE_DISTANCE == DEFAULT_FACE_DISTANCE
    assert (cli_sync.DEFAULT_LIMIT, cli_sync.MAX_LIMIT) == (DEFAULT_LIMIT, MAX_LIMIT)
    assert cli_api.ROLES == ROLES
    assert cli_cases.NOTICE_ORGANISATION == ORGANISATION
    assert cli_cases.CASE_STATES == STATES


def test_quick_head_is_alembics_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from rempart.store.db import MIGRATIONS, quick_head

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert quick_head() == ScriptDirectory.from_config(cfg).get_current_head()


def test_quick_head_leaves_unusual_files_to_alembic(tmp_path: Path) -> None:
    from rempart.store.db import quick_head

    (tmp_path / "0001_a.py").write_text('revision: str = "a"\ndown_revision = None\n')
    (tmp_path / "0002_b.py").write_text("revision = 'b'\ndown_revision: str | None = 'a'\n")
    assert quick_head(tmp_path) == "b"
    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "0001_a.py").write_text('revision = "a"\ndown_revision = None\n')
    (merged / "0002_m.py").write_text('revision = "m"\ndown_revision = ("a", "b")\n')
    assert quick_head(merged) is None  # a merge: Alembic decides


def test_lazy_module_imports_on_first_use() -> None:
    code = (
        "import sys\nfrom rempart.lazy import lazy_module\n"
        "m = lazy_module('rempart.scan.rooms')\n"
        "assert 'rempart.scan.rooms' not in sys.modules\n"
        "assert callable(m.load_rooms)\n"
        "assert 'rempart.scan.rooms' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
