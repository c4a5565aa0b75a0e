"""The scan package after its split (issue 17): options, hashing, recording and the pipeline
are separate modules with no import circle among them (the pipeline imported the Dask
cluster module, which imported the pipeline's private `_hash_one` back), the names other
modules import from `rempart.scan.pipeline` still come from there, and sources and scans
share one problem type."""

from __future__ import annotations

import ast
from pathlib import Path

from rempart.samples import photo_like

SCAN = Path(__file__).resolve().parents[2] / "src" / "rempart" / "scan"


def scan_imports(path: Path) -> set[str]:
    """The `rempart.scan` modules a module imports, anywhere in it (also inside functions
    and under TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["rempart", "scan"] and len(parts) > 2:
                if (SCAN / f"{parts[2]}.py").exists():
                    found.add(parts[2])
    return found


def test_no_import_circle_inside_the_scan_package() -> None:
    graph = {p.stem: scan_imports(p) - {p.stem} for p in SCAN.glob("*.py")}
    assert "pipeline" not in graph["cluster"] and "cluster" not in graph["hashing"]
    for low in ("options", "hashing", "recording", "cluster"):
        assert "pipeline" not in graph[low], low

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in graph.get(todo.pop(), set()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    circles = sorted(m for m in graph if m in reach(m))
    assert circles == [], circles


def test_cluster_hashes_with_the_real_function_and_types() -> None:
    from typing import get_type_hints

    from rempart.scan import cluster, hashing
    from rempart.scan.options import Outcome, ScanOptions

    assert cluster.hash_one is hashing.hash_one
    hints = get_type_hints(cluster.hash_and_search)
    assert hints["options"] is ScanOptions and hints["return"] is Outcome


def test_pipeline_still_exports_what_others_import() -> None:
    from rempart.scan import hashing, options, recording
    from rempart.scan import pipeline as p

    assert p.ScanOptions is options.ScanOptions and p.ScanResult is options.ScanResult
    assert p.hash_refs is hashing.hash_refs and p.load_result is recording.load_result
    assert p.summary is recording.summary and p.start_run is recording.start_run
    for name in (
        "run_scan",
        "collect",
        "count_items",
        "recorded_locators",
        "Skipped",
        "MatchRow",
        "FaceRow",
        "FaceNote",
        "Outcome",
        "BATCH",
    ):
        assert hasattr(p, name), name


def test_one_problem_type_for_sources_and_scans(tmp_path: Path) -> None:
    from rempart.scan.pipeline import Skipped, collect
    from rempart.sources.base import SourceProblem

    assert Skipped is SourceProblem
    photo_like(1, (64, 48)).save(tmp_path / "ok.jpg")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    refs, problems = collect([tmp_path])
    assert [r.path.name for r in refs] == ["ok.jpg"]
    assert [type(p) for p in problems] == [SourceProblem]
    problem = problems[0]
    # reports call the item "file": the same value as the source's locator
    assert problem.file == problem.locator == str(tmp_path / "loop")
    assert problem.reason == "symlink-loop" and "loop" in problem.detail
