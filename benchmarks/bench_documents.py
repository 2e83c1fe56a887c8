"""Benchmark: what Word and PDF documents add to a run (not a test: it prints its figures).

On one machine, in one command: ``kiemnhiem run --formats html`` and ``kiemnhiem run --formats
html,docx,pdf`` over the same small dataset (the demo cut to ``--pilots`` pilots, 5 by default,
so that the run makes those pilots' reports and the province summary), each into a fresh
folder, as a user runs them (the command line, in a subprocess). With ``--repeat N`` the two
alternate (html, docs, docs, html, ...) and the medians are compared, so that a machine
busier in one half of the benchmark than in the other does not decide the ratio.

Target (issue 13): documents at most 1.5 times the HTML-only run (105.7 s against 23.8 s
before: LibreOffice started once per document).

Usage::

    python benchmarks/bench_documents.py                 # 5 pilots and the summary, once
    python benchmarks/bench_documents.py --repeat 2 --workers 2
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def small_dataset(folder: Path, n_pilots: int) -> Path:
    """The demo dataset with its first ``n_pilots`` pilots only, alternating models (so that
    both models keep pilots and the summary has something to compare)."""
    from kiemnhiem.resources import demo_dir

    shutil.copytree(demo_dir(), folder)
    text = (folder / "pilots.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_model: dict[str, list[dict]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    chosen: list[dict] = []
    while len(chosen) < n_pilots and any(by_model.values()):
        for queue in by_model.values():
            if queue and len(chosen) < n_pilots:
                chosen.append(queue.pop(0))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(chosen)
    (folder / "pilots.csv").write_text(out.getvalue(), encoding="utf-8")
    comments = folder / "comments.csv"
    if comments.exists():  # comments on pilots that are gone would be refused
        lines = list(csv.DictReader(io.StringIO(comments.read_text(encoding="utf-8-sig"))))
        keep = {(r["unit"], r["model"]) for r in chosen}
        kept = [r for r in lines if (r.get("unit"), r.get("model")) in keep]
        if lines:
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(lines[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(kept)
            comments.write_text(buf.getvalue(), encoding="utf-8")
    return folder


def run_once(dataset: Path, out: Path, formats: str, workers: int) -> float:
    command = [
        sys.executable,
        "-m",
        "kiemnhiem",
        "run",
        str(dataset),
        "--out",
        str(out),
        "--formats",
        formats,
        "--workers",
        str(workers),
        "--quiet",
        "--doc-number",
        "15-BC/BTCTU",
        "--signer-authority",
        "K/T TRƯỞNG BAN",
        "--signer-title",
        "PHÓ TRƯỞNG BAN",
        "--signer-name",
        "Nguyễn Văn An",
        "--recipient",
        "Ban Thường vụ Tỉnh ủy (b/c)",
        "--recipient",
        "Lưu Văn phòng",
    ]
    start = time.perf_counter()
    proc = subprocess.run(command, env=_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"kiemnhiem run --formats {formats} failed ({proc.returncode})")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pilots", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs (medians compared)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kn-bench-docs-") as tmp:
        work = Path(tmp)
        dataset = small_dataset(work / "dataset", args.pilots)
        times: dict[str, list[float]] = {"html": [], "html,docx,pdf": []}
        order = []
        for i in range(args.repeat):
            pair = ["html", "html,docx,pdf"]
            order += pair if i % 2 == 0 else pair[::-1]
        for k, formats in enumerate(order):
            out = work / f"out-{k}"
            seconds = run_once(dataset, out, formats, args.workers)
            times[formats].append(seconds)
            n_pdf = len([p for p in out.glob("**/*.pdf") if "runs" not in p.parts])
            print(f"  run {k + 1}: --formats {formats:<14} {seconds:7.1f} s  ({n_pdf} PDF)")
        html = statistics.median(times["html"])
        docs = statistics.median(times["html,docx,pdf"])
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"{args.pilots} pilots and the summary, {args.workers} workers, "
            f"{os.cpu_count()} CPUs, load {load:.1f}"
        )
        print(f"html only          {html:7.1f} s")
        print(f"html,docx,pdf      {docs:7.1f} s")
        print(f"ratio              {docs / html:7.2f}  (target <= 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
