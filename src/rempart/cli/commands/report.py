"""`rempart report`: statistics with charts (HTML, PNG and JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rempart.cli.core import app, err, open_database
from rempart.errors import InvalidInput
from rempart.lazy import lazy_module
from rempart.textsafe import safe

stats = lazy_module("rempart.cases.stats")  # matplotlib: start-up


@app.command("report")
def report_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.html + charts.")],
    case: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="The report's and charts' words: en, fr or ko.")
    ] = "en",
) -> None:
    """Statistics with charts: matches per day (or week), removal rate and hours to removal
    (median and 90th percentile) per platform and by month sent (HTML, PNG, PDF and JSON)."""
    from rempart.web.i18n import LANGUAGES, Translator

    if lang not in LANGUAGES:
        raise InvalidInput(f"unknown language {lang!r}: one of {', '.join(LANGUAGES)}")
    data = stats.collect(open_database(), case)
    files = stats.write(data, out_dir, stats.chart_labels(Translator(lang)), lang=lang)
    err.print(f"Report written: {safe(', '.join(str(f) for f in files))}", highlight=False)
