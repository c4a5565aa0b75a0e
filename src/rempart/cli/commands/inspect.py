"""`rempart inspect PATH...`: the synthetic-media signals each file carries (C2PA, XMP,
generator metadata; see docs/synthetic.md).

Why a command of its own: a helpline or a platform is handed one picture and asked "was it
made or altered by AI?"; this answers with evidence and without a database. The answer is
never a verdict: a file with no signal is listed as "no signal found", not as real.

JSON (a list, a check depends on it): `[{"file": ..., "signals": [{"type": ...,
"indicates": "ai-generated" | "ai-modified" | "provenance-invalid", "strength": ...,
...evidence fields}]}]`, every file given or found in a folder, only signals found listed;
a file that could not be (fully) read also has `"problem": REASON`. Exit 0, or 3 when some
file had a problem (listed in the summary on stderr).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rempart.cli.core import EXIT_SKIPPED, app, err, fail, names, out, progress_bar
from rempart.textsafe import safe

if TYPE_CHECKING:
    from rempart.signals.synthetic import Finding, Problem

PROGRESS_FROM = 10  # files: fewer are inspected without a progress bar


def _is_media(path: Path) -> bool:
    from rempart.signals.synthetic.base import file_kind

    try:
        with path.open("rb") as fh:
            return file_kind(fh.read(16)) is not None
    except OSError:
        return True  # listed, and its error reported


def _files(paths: list[Path]) -> tuple[list[Path], list[str], int]:
    """The files to inspect (folders walked, sorted, links to folders not followed; in a
    folder, files that are not pictures or videos are skipped and counted), the paths that
    do not exist, and how many files were skipped. A file named on the command line is
    always inspected (an unsupported one is reported)."""
    found: list[Path] = []
    missing: list[str] = []
    skipped = 0
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if _is_media(Path(root) / name):
                        found.append(Path(root) / name)
                    else:
                        skipped += 1
        elif path.exists():
            found.append(path)
        else:
            missing.append(str(path))
    return found, missing, skipped


def _detail(signal: dict[str, Any]) -> str:
    """One line of evidence for the table."""
    parts: list[str] = []
    if signal.get("manifest"):
        parts.append(f"{signal['manifest']} manifest")
    for action in signal.get("actions", [])[:3]:
        parts.append(f"{action.get('action')}: {action.get('digital_source_type')}")
    for key in ("digital_source_type", "generator", "where", "matched"):
        if signal.get(key):
            parts.append(f"{key}: {signal[key]}")
    if signal.get("failure_codes"):
        parts.append("codes: " + ", ".join(signal["failure_codes"]))
    signer = signal.get("signer")
    if isinstance(signer, dict) and signer.get("subject"):
        trusted = "trusted" if signal.get("signer_trusted") else "not on a trust list"
        parts.append(f"signer: {signer.get('subject')} / {signer.get('issuer')} ({trusted})")
    for ingredient in signal.get("ingredients", [])[:3]:
        for action in ingredient.get("actions", [])[:2]:
            parts.append(f"ingredient {action.get('action')}: {action.get('digital_source_type')}")
    if signal.get("type") == "learned-detector" and signal.get("wording"):
        parts.append(str(signal["wording"]))  # the score beside its measured false positives
    return "; ".join(str(p) for p in parts)


def _entry(path: Path, findings: list[Finding], problem: Problem | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"file": str(path), "signals": [f.as_json() for f in findings]}
    if problem is not None:
        entry["problem"] = problem.reason
    return entry


@app.command("inspect")
def inspect_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Photos, videos or folders to inspect.")],
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Show the signals that a file was generated or altered by AI (C2PA Content
    Credentials, XMP digital source type, generator metadata). Evidence, never a verdict:
    no signal found does not mean real."""
    from rempart.signals.synthetic import inspect_file

    if fmt not in ("table", "json"):
        raise fail(f"unknown format {fmt!r}: use table or json")
    files, missing, skipped = _files(paths)
    results: list[dict[str, Any]] = [
        {"file": m, "signals": [], "problem": "not found"} for m in missing
    ]
    if len(files) >= PROGRESS_FROM:
        with progress_bar() as progress:
            task = progress.add_task("inspecting", total=len(files), current="")
            for path in files:
                progress.update(task, current=safe(path.name)[:40])
                results.append(_entry(path, *inspect_file(path)))
                progress.advance(task)
    else:
        results += [_entry(path, *inspect_file(path)) for path in files]
    if fmt == "json":
        sys.stdout.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    else:
        _print_table(results)
    _summary(results, skipped)
    if any("problem" in r for r in results):
        raise typer.Exit(EXIT_SKIPPED)


def _print_table(results: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table("file", "signal", "indicates", "strength", "evidence")
    table.columns[0].overflow = "fold"
    for result in results:
        name = safe(result["file"])
        for signal in result["signals"]:
            table.add_row(
                name,
                safe(signal["type"]),
                safe(signal["indicates"]),
                safe(signal["strength"]),
                safe(_detail(signal)),
            )
        if not result["signals"]:
            shown = "unreadable" if "problem" in result else "no signal found"
            table.add_row(name, "-", shown, "", safe(result.get("problem", "")))
        elif "problem" in result:
            table.add_row(name, "-", "partly unreadable", "", safe(result["problem"]))
    out.print(table)


def _summary(results: list[dict[str, Any]], skipped: int) -> None:
    counts = {"ai-generated": 0, "ai-modified": 0, "provenance-invalid": 0}
    for result in results:
        for kind in {s["indicates"] for s in result["signals"]}:
            counts[kind] = counts.get(kind, 0) + 1
    bad = [r["file"] for r in results if "problem" in r]
    quiet = sum(1 for r in results if not r["signals"] and "problem" not in r)
    err.print(
        f"{len(results)} file(s): {counts['ai-generated']} with an ai-generated signal, "
        f"{counts['ai-modified']} ai-modified, {counts['provenance-invalid']} with invalid "
        f"provenance, {quiet} with no signal found (not proof that a file is real)"
    )
    if skipped:
        err.print(f"{skipped} other file(s) in the folders skipped (not a picture or video)")
    if bad:
        err.print(f"[yellow]{len(bad)} file(s) could not be fully read:[/] {names(bad)}")
