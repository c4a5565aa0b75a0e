"""`rempart report`: statistics with charts (HTML, PNG and JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rempart.cli.core import app, err, open_database
from rempart.lazy import lazy_module
from rempart.textsafe import safe

stats = lazy_module("rempart.cases.stats")  # matplotlib: start-up


@app.command("report")
def report_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.html + charts.")],
    case: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
) -> None:
    """Statistics with charts: matches over time, removal rate and median time to
    removal per platform (HTML, PNG and JSON)."""
    data = stats.collect(open_database(), case)
    files = stats.write(data, out_dir)
    err.print(f"Report written: {safe(', '.join(str(f) for f in files))}", highlight=False)
