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

Second round (branch ``fig2``, against main 9d944b5; same 20 figures, pixels unchanged: every
figure of units 124 and 116, both languages, decodes to main's pixels). Profile of the loop
before (under cProfile, busy machine, 15.4 s): text drawing 17 % (465 ``draw_text``, 4,432
glyphs rendered one by one, 145 distinct strings shaped 465 times), ``place_axes`` 16 %,
ticks made 11 % (334 ticks, each three lines and two texts, then its properties copied from
the first tick: a deep copy of its markers), the axes built 9 %, ``Text._get_layout``
reading the font's tables on each of its 2,650 calls 8 %, PNG encoding 5 % (Pillow's
adaptive row filter), pandas in the chart code 10 %. What changed (``report/drawing.py``):

- ``_TextCachingRenderer``: a string's shaping kept by font and size, each glyph's bitmap by
  font, size, angle and its position within the pixel (1/64), composited one by one with
  Agg's own ``draw_text_image``: 1,592 glyphs rendered instead of 4,432, 145 shapings
  instead of 465; font line metrics answered through matplotlib's hook;
- empty figures unpickled from one built per size, with 12 x 8 ticks ready: about a fifth of
  building them (the built figure is kept alive: unpickled transforms know their parents by
  the pickled objects' ids);
- value-axis locators that leave out ticks outside the view (a fifth of the ticks made);
- PNG rows unfiltered at zlib level 3, written directly: 2.5 times faster than Pillow at
  level 1 and 12 % smaller (1372 KiB of base64 against 1552);
- in ``plots.py``, the charts pass their checked frame and indicator on instead of checking
  and looking up again.

``python benchmarks/bench_figures.py --repeat 5 --baseline 9d944b5`` on the shared machine
(load 5 to 8): baseline 3.12 s, current 2.36 s (0.76); ``--repeat 3``: 4.04 s against 2.29 s
(0.57, load 4 to 7) and 3.22 s against 2.52 s (0.78, load 2); unit 116, danvan_mttq, 16
figures: 2.57 s against 1.84 s (0.72). The loop alone on pickled inputs, the two alternating,
best of 3 or 4: 3.06 s against 2.07 s (0.67), 2.54 s against 1.76 s (0.69). So about 0.7:
short of the issue's half. The profile of the loop fell from
15.4 s to 6.4-7.1 s of cProfile time (2.3 million calls instead of 3.6). What remains is
matplotlib's Python: each text laid out about six times (``_get_layout``: the measure,
the tick-label and axis-label placement, the draw), the tick and title placement done
once to measure and again to draw, transforms and artists made for every figure.

Third round (branch ``figbuild``, against main cbedac4; pixels unchanged for units 124 and
116, vi and en). What building and drawing still repeated (``report/drawing.py``,
``report/plots.py``):

- each axis made and measured its ticks 21 times per figure (the axes' tight box, the
  title's placement, which measures the value axis in full, each axis label's placement,
  each spine's extent, the axis' drawing) and their labels' boxes 13 times:
  ``_ticks_measured_once`` keeps the answers while ``place_axes`` lays the figure out and
  while ``draw_rgba`` draws it, keyed by the axes' position, view limits, dpi, locator and
  formatter (2.24 million profiled calls for the loop -> 1.84 million);
- a legend whose pixels were later pasted was still built (entries, texts, boxes) and laid
  out to be measured: ``legend_below`` puts a ``_PastedLegend`` in its place when one of the
  same inputs has been laid out in a figure of the same size (17 of 20 legends of the first
  report, unit 124; 12 of 16, unit 116);
- ``_check_event_study`` sorted, copied and converted the frame in pandas for each chart and
  alt text: arrays, read as they are from ``event_study``'s typed and sorted frames.

``python benchmarks/bench_figures.py --baseline main --repeat 5`` (load 4 to 6): baseline
2.03 s, current 1.76 s (0.87); with ``--no-gc``: 1.80 s against 1.61 s (0.89). Unit 116,
danvan_mttq: 1.76 s against 1.55 s (0.88); ``--no-gc``: 1.61 s against 1.40 s (0.87).
Again after the last change (the memo's key read more cheaply), busier (load 7 to 8): unit
124 2.07 s against 1.79 s (0.86), ``--no-gc`` 1.59 s against 1.53 s (0.96); unit 116 2.05 s
against 1.69 s (0.82), ``--no-gc`` 1.98 s against 1.82 s (0.92). In one process, each change
against its absence, interleaved figure by figure: 0.91 to 0.97 each.

The two sides' figures are also compared, decoded, pixel for pixel (``pixels:`` in the
output). ``--no-gc`` keeps the cyclic garbage collector off during the loop, to see a change
apart from the collector's share.

Usage::

    python benchmarks/bench_figures.py                       # unit 124, tuyengiao_ttct
    python benchmarks/bench_figures.py --unit 116 --model danvan_mttq --repeat 5
    python benchmarks/bench_figures.py --baseline main~3 --profile
    python benchmarks/bench_figures.py --baseline main --repeat 5 --no-gc
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


def _child(unit: str, model: str, lang: str, profile: bool, no_gc: bool = False) -> dict:
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

    pngs: list[str] = []

    def png_of(data: dict) -> str:
        # Since 32ad985 the bundle holds the PNG only inside the <img>'s data URI.
        if "image/png" in data:
            return data["image/png"]
        return data["text/html"].split("base64,", 1)[1].split('"', 1)[0]

    def loop() -> tuple[int, int]:
        count = size = 0
        pngs.clear()
        for _, row in results.iterrows():
            indicator = row["indicator"]
            fig = plots.plot_series(series[indicator], row, ds.indicators, lang, events=ds.events)
            alt = plots.series_alt(series[indicator], row, ds.indicators, lang)
            data, _meta = plots.figure_output(fig, f"{indicator}-series", alt)
            png = png_of(data)
            count, size = count + 1, size + len(png)
            pngs.append(png)
            if indicator not in studies:
                continue
            study = studies[indicator]
            fig = plots.plot_event_study(study, indicator, ds.indicators, lang, unit_name=unit_name)
            alt = plots.event_study_alt(study, indicator, ds.indicators, lang)
            data, _meta = plots.figure_output(fig, f"{indicator}-event-study", alt)
            png = png_of(data)
            count, size = count + 1, size + len(png)
            pngs.append(png)
        return count, size

    if no_gc:
        import gc

        gc.collect()
        gc.disable()
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
    cpu = time.process_time() - start
    return {"cpu": cpu, "figures": count, "base64_bytes": size, "pixels": _pixel_digests(pngs)}


def _pixel_digests(pngs: list[str]) -> list[str]:
    """What each figure looks like: a digest of its decoded RGB pixels (not of the PNG bytes,
    which an encoder change alters without changing the picture)."""
    import base64
    import hashlib
    import io

    import numpy as np
    from PIL import Image

    digests = []
    for encoded in pngs:
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
            pixels = np.asarray(image.convert("RGB"))
        digests.append(hashlib.sha256(pixels.tobytes() + str(pixels.shape).encode()).hexdigest())
    return digests


def _run_side(path: Path, args) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(path)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--unit", args.unit]
    command += ["--model", args.model, "--lang", args.lang]
    if args.no_gc:
        command.append("--no-gc")
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
    parser.add_argument(
        "--no-gc", action="store_true", help="cyclic GC off during the loop (its share apart)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(_child(args.unit, args.model, args.lang, args.profile, args.no_gc)))
        return 0
    if args.profile:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "--profile"]
        command += ["--unit", args.unit, "--model", args.model, "--lang", args.lang]
        if args.no_gc:
            command.append("--no-gc")
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
        same = runs["current"][-1]["pixels"] == runs["baseline"][-1].get("pixels")
        print("  pixels: " + ("every figure as the baseline's" if same else "DIFFERENT"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
