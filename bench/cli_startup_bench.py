"""Start-up benchmark of the `rempart` command: how long a command takes when it does almost
nothing, in fresh processes (issue 19: every command took about 2.5 s to start).

For each command (`rempart --help`, `rempart bank list`, `rempart review list` and a few
more), runs it --repeat times as a new process against a fresh, migrated SQLite database,
and prints the best and median wall time and the child's CPU time (user + system), and the
heavy libraries the command imported (numpy, OpenCV, PyAV, dlib, FAISS, SQLAlchemy,
Alembic, cryptography, matplotlib, FastAPI...). Target: under 0.5 s for --help, bank list
and review list. Writes bench/out/cli_startup_bench.json.

    .venv/bin/python bench/cli_startup_bench.py               # best of 7
    .venv/bin/python bench/cli_startup_bench.py --repeat 3
    .venv/bin/python bench/cli_startup_bench.py --baseline 5db30af   # before/after

Timings depend on the machine's load: on a shared machine, the best of several runs and
the CPU time are the figures to compare. `--baseline REV` also runs the source of a
commit (its src/ extracted with `git archive`, run with `python -m rempart` on the same
interpreter, against its own database), alternating with this tree's runs, so both meet
the same load, and prints the ratio of the two (this tree / the baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
TARGET_S = 0.5
COMMANDS: list[tuple[str, ...]] = [
    ("--help",),
    ("bank", "list"),
    ("review", "list"),
    ("scan", "--help"),
    ("audit", "verify"),
]
TARGETED = {("--help",), ("bank", "list"), ("review", "list")}
HEAVY = (
    "numpy",
    "cv2",
    "av",
    "dlib",
    "faiss",
    "sqlalchemy",
    "alembic",
    "cryptography",
    "matplotlib",
    "PIL",
    "fastapi",
    "uvicorn",
    "httpx",
    "pydantic",
    "scipy",
)
# Runs the command in this process, then lists the heavy modules it imported.
_PROBE = """
import sys
sys.argv = ["rempart", *sys.argv[2:]]
from rempart.cli import main
try:
    main()
except SystemExit:
    pass
finally:
    heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
    open({path!r}, "w").write(" ".join(heavy))
"""


def _env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REMPART_HOME": str(home),
        "REMPART_DB": str(home / "rempart.db"),
        "COLUMNS": "120",
    }


def _command() -> list[str]:
    script = Path(sys.executable).parent / "rempart"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rempart"]


def baseline_env(rev: str, folder: Path) -> dict[str, str]:
    """The environment that runs commit REV's rempart: its src/ extracted into `folder`,
    first on the path, with its own home and database."""
    src = folder / "baseline"
    src.mkdir()
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", rev, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    env = _env(folder / "baseline-home")
    env["PYTHONPATH"] = str(src / "src")
    return env


def time_one(
    args: tuple[str, ...], env: dict[str, str], command: list[str] | None = None
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one fresh `rempart ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [*(command or _command()), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"rempart {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _stats(runs: list[tuple[float, float]]) -> dict[str, float]:
    walls = sorted(w for w, _ in runs)
    cpus = sorted(c for _, c in runs)
    return {
        "best_s": round(walls[0], 3),
        "median_s": round(statistics.median(walls), 3),
        "cpu_best_s": round(cpus[0], 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
    }


def heavy_modules(args: tuple[str, ...], env: dict[str, str], folder: Path) -> list[str]:
    """The heavy libraries `rempart ARGS` imports."""
    path = folder / "modules.txt"
    path.unlink(missing_ok=True)
    probe = _PROBE.replace("{HEAVY!r}", repr(set(HEAVY))).replace("{path!r}", repr(str(path)))
    subprocess.run(
        [sys.executable, "-c", probe, "rempart", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    return path.read_text().split() if path.exists() else ["(probe failed)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="fresh processes per command")
    parser.add_argument("--out", type=Path, default=OUT / "cli_startup_bench.json")
    parser.add_argument(
        "--baseline", metavar="REV", help="also time this commit's source, runs interleaved"
    )
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="rempart-startup-") as tmp:
        home = Path(tmp) / "home"
        env = _env(home)
        time_one(("bank", "list"), env)  # creates and migrates the database once
        base_env = baseline_env(args.baseline, Path(tmp)) if args.baseline else None
        python_m = [sys.executable, "-m", "rempart"]
        if base_env is not None:
            time_one(("bank", "list"), base_env, python_m)
        for command in COMMANDS:
            if base_env is not None:  # one untimed run each (the baseline's byte-code)
                time_one(command, env, python_m)
                time_one(command, base_env, python_m)
            runs, base_runs = [], []
            for _ in range(max(1, args.repeat)):
                if base_env is not None:  # both with `python -m rempart`, in turn
                    runs.append(time_one(command, env, python_m))
                    base_runs.append(time_one(command, base_env, python_m))
                else:
                    runs.append(time_one(command, env))
            row: dict[str, Any] = {
                "command": "rempart " + " ".join(command),
                **_stats(runs),
                "runs": len(runs),
                "target_s": TARGET_S if command in TARGETED else None,
                "heavy_modules": heavy_modules(command, env, Path(tmp)),
            }
            if base_env is not None:
                row["baseline"] = {
                    "rev": args.baseline,
                    **_stats(base_runs),
                    "heavy_modules": heavy_modules(command, base_env, Path(tmp)),
                }
            rows.append(row)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(
        f"rempart start-up, best of {args.repeat} fresh processes "
        f"({os.cpu_count()} cores, load {load_before:.1f} before, {load:.1f} after):"
    )
    print(f"{'command':<26} {'best':>7} {'median':>7} {'cpu':>7}  heavy modules imported")
    for r in rows:
        flag = ""
        if r["target_s"] is not None:
            flag = "  ok" if r["best_s"] < TARGET_S else f"  over {TARGET_S} s"
        print(
            f"{r['command']:<26} {r['best_s']:>6.3f}s {r['median_s']:>6.3f}s "
            f"{r['cpu_best_s']:>6.3f}s  {' '.join(r['heavy_modules']) or '-'}{flag}"
        )
        base = r.get("baseline")
        if base:
            print(
                f"{'  baseline ' + base['rev'][:12]:<26} {base['best_s']:>6.3f}s "
                f"{base['median_s']:>6.3f}s {base['cpu_best_s']:>6.3f}s  "
                f"{' '.join(base['heavy_modules']) or '-'}"
            )
            print(
                f"{'  ratio (this / baseline)':<26} {r['best_s'] / base['best_s']:>6.2f}x "
                f"{r['median_s'] / base['median_s']:>6.2f}x "
                f"{r['cpu_best_s'] / max(base['cpu_best_s'], 1e-3):>6.2f}x"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "cores": os.cpu_count(),
                "load": load,
                "load_before": load_before,
                "baseline": args.baseline,
                "repeat": args.repeat,
                "target_s": TARGET_S,
                "commands": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
