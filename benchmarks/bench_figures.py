"""Benchmark: what drawing the figures costs one report (not a test: it prints its figures).

The figure loop of ``notebooks/pilot_report.ipynb`` (per indicator: ``plot_series`` and
``plot_event_study``, each through ``figure_output``, which draws the PNG and its alt text), in
CPU seconds, for the current checkout and for a baseline commit (``--baseline``, by default
the last commit before the figure work of issue 15), in the same command: each side runs in a
fresh process (as a report runs in a fresh kernel), the two alternate ``--repeat`` times and the
best of each is kept, so that a machine busier in one half does not decide the ratio. Loading
the dataset and evaluating are done before the clock starts.

``--profile`` prints cProfile's top entries for the current checkout's figure loop.

Measured on the shared 2-core machine, busy with other jobs (load 3 to 10), with
``python benchmarks/bench_figures.py --repeat 3`` (unit 124, tuyengiao_ttct, 20 figures):
baseline 4.84 s, current 3.15 s (0.65) and, later and busier, 5.83 s against 3.16 s (0.54);
base64 PNG 1752 KiB against 1552 KiB, the pixels unchanged.

Profile (``--profile``), cumulative, before: ``savefig`` 74 % of the loop, of which
constrained layout (``do_constrained_layout``, every text measured twice) 22 % and a draw
without rendering to lay out before the real draw; legends drawing about a third of each
draw; text shaping and glyph rendering (``ft2font._layout``, ``set_text``,
``_render_glyph``, per glyph in matplotlib 3.11) the largest self times; each event's
legend number a mathtext outline (``_set_mathtext_path``, a tenth of a series chart). After:
one draw per figure (``print_to_buffer``), legends pasted from pixels after the first of
each kind, no mathtext; what remains is matplotlib's own per-figure cost (ticks created and
measured, ``place_axes``' one measurement, text drawn glyph by glyph).

Usage::

    python benchmarks/bench_figures.py                       # unit 124, tuyengiao_ttct
    python benchmarks/bench_figures.py --unit 116 --model danvan_mttq --repeat 5
    python benchmarks/bench_figures.py --baseline main~3 --profile
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The last commit before the figure work of issue 15 (constrained layout, RGBA PNG).
BASELINE = "7f399c1"


def _child(unit: str, model: str, lang: str, profile: bool) -> dict:
    """Run in a fresh process whose ``kiemnhiem`` is the side being measured."""
    from kiemnhiem.data.dataset import load_dataset
    from kiemnhiem.exceptions import ParameterError
    from kiemnhiem.report import plots
    from kiemnhiem.report.conclusions import evaluate_report
    from kiemnhiem.run.params import resolve_report_unit
    from kiemnhiem.stats.evaluation import pilot_series
    from kiemnhiem.stats.eventstudy import event_study

    ds = load_dataset(None)
    unit_code, unit_name = resolve_report_unit(ds, unit)
    results, _model_results = evaluate_report(ds, unit_code, model)
    series, studies = {}, {}
    for indicator in results["indicator"]:
        series[indicator] = pilot_series(ds, unit_code, model, indicator)
        try:
            studies[indicator] = event_study(ds, model, indicator, unit=unit_code)
        except ParameterError:
            pass

    def loop() -> tuple[int, int]:
        count = size = 0
        for _, row in results.iterrows():
            indicator = row["indicator"]
            fig = plots.plot_series(series[indicator], row, ds.indicators, lang, events=ds.events)
            alt = plots.series_alt(series[indicator], row, ds.indicators, lang)
            data, _meta = plots.figure_output(fig, f"{indicator}-series", alt)
            count, size = count + 1, size + len(data["image/png"])
            if indicator not in studies:
                continue
            study = studies[indicator]
            fig = plots.plot_event_study(study, indicator, ds.indicators, lang, unit_name=unit_name)
            alt = plots.event_study_alt(study, indicator, ds.indicators, lang)
            data, _meta = plots.figure_output(fig, f"{indicator}-event-study", alt)
            count, size = count + 1, size + len(data["image/png"])
        return count, size

    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        loop()
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(
            os.environ.get("BENCH_SORT", "cumulative")
        ).print_stats(int(os.environ.get("BENCH_TOP", "25")))
        return {}
    start = time.process_time()
    count, size = loop()
    return {"cpu": time.process_time() - start, "figures": count, "base64_bytes": size}


def _run_side(path: Path, args) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(path)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--unit", args.unit]
    command += ["--model", args.model, "--lang", args.lang]
    done = subprocess.run(command, env=env, cwd=path, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit", default="124", help="pilot unit (code or name), default 124")
    parser.add_argument("--model", default="tuyengiao_ttct", help="model code")
    parser.add_argument("--lang", default="vi", choices=("vi", "en"))
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (best kept)")
    parser.add_argument("--baseline", default=BASELINE, help=f"git commit (default {BASELINE})")
    parser.add_argument("--profile", action="store_true", help="cProfile the current code")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(_child(args.unit, args.model, args.lang, args.profile)))
        return 0
    if args.profile:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "--profile"]
        command += ["--unit", args.unit, "--model", args.model, "--lang", args.lang]
        subprocess.run(command, env=env, cwd=ROOT, check=True)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-figures-") as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.baseline], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        sides = {"baseline": base, "current": ROOT}
        runs: dict[str, list[dict]] = {name: [] for name in sides}
        for _ in range(args.repeat):
            for name, path in sides.items():
                runs[name].append(_run_side(path, args))
        best = {name: min(r["cpu"] for r in rows) for name, rows in runs.items()}
        print(f"figure loop of one report: unit {args.unit}, {args.model}, {args.lang}; ")
        print(f"best of {args.repeat} fresh processes each, CPU seconds")
        for name, rows in runs.items():
            all_cpu = ", ".join(f"{r['cpu']:.2f}" for r in rows)
            last = rows[-1]
            print(
                f"  {name:8s} {best[name]:6.2f} s  ({all_cpu})  {last['figures']} figures, "
                f"{last['base64_bytes'] / 1024:.0f} KiB of base64 PNG"
            )
        print(f"  current / baseline: {best['current'] / best['baseline']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
