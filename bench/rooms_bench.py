"""Rooms benchmark (issue 16 item 5), in sections.

`parse`: the same generated Telegram chat (100,000 messages by default: senders taking turns,
a caption each, a photo link every fifth message) written as Telegram Desktop writes it in
JSON (one result.json) and in HTML (messages.html ... messages100.html, 1,000 messages a
page), then read by each reader (rempart.sources.telegram, rempart.sources.telegram_html)
in a fresh process: messages/s (wall clock, and per CPU second: steadier on a busy machine),
and the memory the reading added (peak RSS over the RSS before it). Both readers stream,
so the memory should not follow the export's size.

Sections are functions in SECTIONS (another section times the rooms report); run one with
`--section NAME`, all by default. Results are printed side by side and written as JSON to
bench/out/rooms_bench.json (or --out).

    .venv/bin/python bench/rooms_bench.py [--messages 100000] [--section parse]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.sources.telegram_html_writer: exports like Telegram's
OUT = ROOT / "bench" / "out" / "rooms_bench.json"


def _status_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in KB. Not ru_maxrss: on Linux it keeps
    the peak of the process that forked this one, across exec."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child(fmt: str, path: str) -> None:
    """Read one export in this (fresh) process; print what it took as JSON."""
    from rempart.sources.telegram import iter_export
    from rempart.sources.telegram_html import iter_html_export

    reader = iter_export if fmt == "json" else iter_html_export
    before = _status_kb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    items = sum(1 for _ in reader(Path(path)))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _status_kb("VmHWM")
    out = {"items": items, "seconds": seconds, "cpu_s": cpu}
    print(json.dumps({**out, "rss_before_kb": before, "peak_kb": peak}))


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*.html"))


def _run_child(fmt: str, path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", fmt, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def section_parse(args: argparse.Namespace) -> dict[str, Any]:
    from tests.sources.telegram_html_writer import (
        Chat,
        json_message,
        many_messages,
        write_html_chat,
    )

    n = args.messages
    results: dict[str, Any] = {"messages": n}
    with tempfile.TemporaryDirectory(prefix="rooms-bench-") as tmp:
        msgs = list(many_messages(n))
        chat = Chat("Bench room", msgs)
        html_root = Path(tmp) / "html"
        t = time.perf_counter()
        write_html_chat(html_root, chat)
        html_write = time.perf_counter() - t
        json_root = Path(tmp) / "json"
        json_root.mkdir()
        t = time.perf_counter()
        with (json_root / "result.json").open("w", encoding="utf-8") as fh:
            fh.write('{\n "name": "Bench room",\n "type": "private_supergroup",\n "id": 555,\n')
            fh.write(' "messages": [\n')
            for k, m in enumerate(msgs):
                fh.write(("," if k else "") + json.dumps(json_message(m), ensure_ascii=False))
                fh.write("\n")
            fh.write(" ]\n}\n")
        json_write = time.perf_counter() - t
        del msgs, chat
        for fmt, path, wrote in (
            ("json", json_root / "result.json", json_write),
            ("html", html_root, html_write),
        ):
            runs = [_run_child(fmt, path) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["seconds"])
            results[fmt] = {
                "bytes": _size(path),
                "files": 1 if fmt == "json" else len(list(path.glob("messages*.html"))),
                "write_s": round(wrote, 2),
                "items": best["items"],
                "seconds": round(best["seconds"], 3),
                "cpu_s": round(best["cpu_s"], 3),
                "messages_per_s": round(n / best["seconds"]),
                "messages_per_cpu_s": round(n / best["cpu_s"]),
                "added_rss_mb": round((best["peak_kb"] - best["rss_before_kb"]) / 1024, 1),
                "peak_rss_mb": round(best["peak_kb"] / 1024, 1),
            }
    j, h = results["json"], results["html"]
    results["html_over_json_time"] = round(h["seconds"] / j["seconds"], 2)
    results["html_over_json_cpu"] = round(h["cpu_s"] / j["cpu_s"], 2)
    rows = [
        ("export size (MB)", j["bytes"] / 1e6, h["bytes"] / 1e6, ".1f"),
        ("files", j["files"], h["files"], "d"),
        ("items (media, problems)", j["items"], h["items"], "d"),
        ("parse time (s)", j["seconds"], h["seconds"], ".2f"),
        ("messages/s", j["messages_per_s"], h["messages_per_s"], ",d"),
        ("CPU time (s)", j["cpu_s"], h["cpu_s"], ".2f"),
        ("messages per CPU second", j["messages_per_cpu_s"], h["messages_per_cpu_s"], ",d"),
        ("memory added (MB, RSS)", j["added_rss_mb"], h["added_rss_mb"], ".1f"),
        ("peak RSS (MB)", j["peak_rss_mb"], h["peak_rss_mb"], ".1f"),
    ]
    print(f"parse: {n:,} messages, the same chat in both formats (best of {args.repeat})")
    print(f"  {'':26} {'JSON':>12} {'HTML':>12}")
    for label, a, b, fmt_ in rows:
        print(f"  {label:26} {format(a, fmt_):>12} {format(b, fmt_):>12}")
    print(
        f"  HTML takes {results['html_over_json_time']}x the JSON reader's time, "
        f"{results['html_over_json_cpu']}x its CPU time"
    )
    return results


SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {"parse": section_parse}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=1, help="runs per reader (best kept)")
    ap.add_argument("--section", choices=sorted(SECTIONS), action="append")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--child", nargs=2, metavar=("FORMAT", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs")
    results: dict[str, Any] = {"load": load}
    for name in args.section or list(SECTIONS):
        results[name] = SECTIONS[name](args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
