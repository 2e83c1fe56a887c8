"""Benchmark: load a ~50 MB panel.csv with ``load_dataset``; compare with ``pandas.read_csv``.

Not a test: it prints figures. Each measurement runs in a fresh child process that reports its
own wall time and peak resident memory (``ru_maxrss``), so one cannot inflate another's peak.
The target is a peak under 1 GiB. It also counts calls to ``UnitMatcher._resolve`` (through a
wrapper installed in the child): each distinct unit name should be resolved once.

    python benchmarks/bench_reader.py                  # generate into a temporary folder
    python benchmarks/bench_reader.py --mb 50 --keep DIR
    python benchmarks/bench_reader.py --package /tmp/head   # time another copy of kiemnhiem

The generated dataset: the 12 units of Sơn La, each written in several spellings (codes,
"Huyện ...", no diacritics, capitals, "TP."), monthly values 1946-2025 for as many extra
indicators (``indicators.csv``) as reach the size; most values are plain numbers, a few need
the full reader (``1 234``, ``45%``, ``12,5``).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPELLINGS = {
    "116": ["116", "Thành phố Sơn La", "TP. Sơn La", "thanh pho son la", "Tp Sơn La"],
    "118": ["118", "Huyện Quỳnh Nhai", "Quỳnh Nhai", "quynh nhai", "QUỲNH NHAI"],
    "119": ["119", "Huyện Thuận Châu", "Thuận Châu", "thuan chau", "Huyen Thuan Chau"],
    "120": ["120", "Huyện Mường La", "Mường La", "muong la", "MƯỜNG LA"],
    "121": ["121", "Huyện Bắc Yên", "Bắc Yên", "bac yen", "Huyen Bac Yen"],
    "122": ["122", "Huyện Phù Yên", "Phù Yên", "phu yen", "PHÙ YÊN"],
    "123": ["123", "Thị xã Mộc Châu", "Mộc Châu", "moc chau", "TX. Mộc Châu"],
    "124": ["124", "Huyện Yên Châu", "Yên Châu", "yen chau", "YÊN CHÂU"],
    "125": ["125", "Huyện Mai Sơn", "Mai Sơn", "mai son", "Huyen Mai Son"],
    "126": ["126", "Huyện Sông Mã", "Sông Mã", "song ma", "SÔNG MÃ"],
    "127": ["127", "Huyện Sốp Cộp", "Sốp Cộp", "sop cop", "Huyen Sop Cop"],
    "128": ["128", "Huyện Vân Hồ", "Vân Hồ", "van ho", "VÂN HỒ"],
}
FIRST_YEAR, LAST_YEAR = 1946, 2025
INDICATOR_HEADER = [
    "code", "label_vi", "label_en", "unit_vi", "unit_en", "kind", "aggregate", "better",
    "models", "description_vi", "description_en",
]  # fmt: skip


def generate(folder: Path, megabytes: float, seed: int = 2018) -> dict:
    """Write metadata.json, pilots.csv, indicators.csv and a panel.csv of about ``megabytes``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"name": "Benchmark", "province": "Sơn La", "synthetic": True}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    (folder / "pilots.csv").write_text(
        "unit,model,start,start_precision,start_status,end,source\n"
        "Phù Yên,tuyengiao_ttct,08/2018,month,documented,,\n"
        "Quỳnh Nhai,danvan_mttq,2018,year,approximate,,\n",
        encoding="utf-8",
    )
    target = int(megabytes * 1e6)
    kinds = ("count", "amount", "share")
    indicators = []
    size = rows = 0
    months = [f"{y}-{m:02d}" for y in range(FIRST_YEAR, LAST_YEAR + 1) for m in range(1, 13)]
    with (folder / "panel.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["unit", "period", "indicator", "value", "note"])
        while size < target:
            code = f"bench_{len(indicators) + 1:03d}"
            kind = kinds[len(indicators) % 3]
            indicators.append(
                [
                    code,
                    f"Chỉ tiêu {code}",
                    f"Indicator {code}",
                    "đơn vị",
                    "units",
                    kind,
                    "sum" if kind != "share" else "last",
                    "none",
                    "*",
                    "",
                    "",
                ]
            )
            for names in SPELLINGS.values():
                batch = []
                for period in months:
                    r = rng.random()
                    if kind == "count":
                        value = str(rng.randrange(0, 5000))
                        if r < 0.02 and len(value) > 3:
                            value = f"{value[:-3]} {value[-3:]}"  # thousands space: slow path
                    elif kind == "amount":
                        value = f"{rng.randrange(0, 200000) / 10:.1f}"
                        if r < 0.02:
                            value = value.replace(".", ",")  # a decimal comma, quoted by csv
                    else:
                        value = f"{rng.randrange(0, 101) / 100:.2f}"
                        if r < 0.02:
                            value = f"{round(float(value) * 100)}%"
                    note = "ước tính" if r > 0.995 else ""
                    batch.append((rng.choice(names), period, code, value, note))
                writer.writerows(batch)
                rows += len(batch)
            size = fh.tell()
    with (folder / "indicators.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(INDICATOR_HEADER)
        writer.writerows(indicators)
    names = {n for v in SPELLINGS.values() for n in v}
    return {"rows": rows, "bytes": size, "indicators": len(indicators), "names": len(names)}


_LOAD = """
import json, resource, sys, time
sys.path.insert(0, {package!r})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import kiemnhiem.data.units as units
from kiemnhiem.data.dataset import load_dataset
calls = {{}}
original = units.UnitMatcher._resolve
def counted(self, raw):
    calls[raw] = calls.get(raw, 0) + 1
    return original(self, raw)
units.UnitMatcher._resolve = counted
units.unit_table()  # the unit list is read once per process: not the reader's cost
imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t, cpu = time.perf_counter(), time.process_time()
ds = load_dataset({folder!r})
wall, cpu = time.perf_counter() - t, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"wall": wall, "cpu": cpu, "peak_kib": peak, "imported_kib": imported,
                  "rows": len(ds.panel), "resolve_calls": sum(calls.values()),
                  "distinct_resolved": len(calls), "max_calls_per_name": max(calls.values()),
                  "module": __import__("kiemnhiem").__file__}}))
"""

_PANDAS = """
import json, resource, time
import pandas as pd
imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t, cpu = time.perf_counter(), time.process_time()
frame = pd.read_csv({path!r}, dtype=str, keep_default_na=False)
wall, cpu = time.perf_counter() - t, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"wall": wall, "cpu": cpu, "peak_kib": peak, "imported_kib": imported,
                  "rows": len(frame)}}))
"""


def run_child(code: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of panel.csv in MB")
    parser.add_argument("--keep", type=Path, default=None, help="write the dataset here")
    parser.add_argument("--package", type=Path, default=ROOT, help="folder holding kiemnhiem/")
    parser.add_argument("--repeat", type=int, default=1, help="runs of load_dataset")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "bench"
        if (folder / "panel.csv").is_file() and (folder / "indicators.csv").is_file():
            info = {
                "rows": sum(1 for _ in (folder / "panel.csv").open(encoding="utf-8")) - 1,
                "bytes": (folder / "panel.csv").stat().st_size,
                "indicators": sum(1 for _ in (folder / "indicators.csv").open(encoding="utf-8"))
                - 1,
                "names": sum(len(v) for v in SPELLINGS.values()),
            }
        else:
            info = generate(folder, args.mb)
        print(
            f"panel.csv: {info['bytes'] / 1e6:.1f} MB, {info['rows']:,} rows, "
            f"{info['indicators']} extra indicators, {info['names']} distinct unit spellings"
        )
        base = run_child(_PANDAS.format(path=str(folder / "panel.csv")))
        loads = [
            run_child(_LOAD.format(package=str(args.package), folder=str(folder)))
            for _ in range(args.repeat)
        ]
    mib = 1024
    print(f"kiemnhiem from {loads[0]['module']}")
    print(f"{'':34}{'wall s':>9}{'CPU s':>8}{'peak RSS MiB':>14}{'after imports':>15}")
    for title, r in [("pandas.read_csv (dtype=str)", base)] + [
        (f"load_dataset run {i}", load) for i, load in enumerate(loads, start=1)
    ]:
        print(
            f"{title:34}{r['wall']:9.2f}{r['cpu']:8.2f}"
            f"{r['peak_kib'] / mib:14.0f}{r['imported_kib'] / mib:15.0f}"
        )
    best = min(loads, key=lambda r: r["wall"])
    print(
        f"load_dataset / read_csv: {best['wall'] / base['wall']:.1f}x the wall time, "
        f"{best['cpu'] / base['cpu']:.1f}x the CPU time, "
        f"{best['peak_kib'] / base['peak_kib']:.1f}x the peak memory"
    )
    verdict = "within" if best["peak_kib"] < 1024 * mib else "OVER"
    print(f"peak {best['peak_kib'] / mib:.0f} MiB: {verdict} the 1 GiB target")
    print(
        f"UnitMatcher._resolve: {best['resolve_calls']} calls for "
        f"{best['distinct_resolved']} distinct names (at most {best['max_calls_per_name']} "
        f"per name); panel rows loaded: {best['rows']:,}"
    )


if __name__ == "__main__":
    main()
