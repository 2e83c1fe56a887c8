"""The figures' caches filled once in the kernel server, before it forks (issue 15).

Each report kernel is forked from its worker's kernel server (:mod:`kiemnhiem.run.kernels`),
which imports the report's modules once. Without this, every kernel then started its figures
cold: the empty figures :func:`~kiemnhiem.report.drawing.new_figure` unpickles were built
again, each string's shaping, each glyph's bitmap and each font's metrics
(:class:`~kiemnhiem.report.drawing._TextCachingRenderer`), matplotlib's own caches (fonts
found and opened, text sizes by renderer) and the first call of much pandas and matplotlib
code were paid again per report. :func:`warm_figures` draws a few of a pilot report's charts
in the server, from the bundled demo dataset, so that every kernel inherits what they left
(copy-on-write pages).

Measured (8 December 2026, shared 2-core machine; a parent importing ``PRELOAD`` as the server
does, with and without this warm-up, forking children that do a kernel's dataset, profiles and
figures for units 124 and 116, alternating, 9 children of each): each kernel spends about 0.2
CPU-s less (its first series and first event study 0.33 -> 0.18 s, ``load_dataset`` 0.10 ->
0.06, the rest unchanged within the noise), for about 0.5 CPU-s once per server (dataset 0.08,
profiles 0.05, the two charts 0.34); the server itself took 1.7-1.9 CPU-s to be ready
before, 2.2-2.7 after. So a gain from the third report a worker runs; a demo site runs nine a
worker. English texts would cost each server 0.27 CPU-s more (see
:data:`WARM_LANGS`). Drawing more charts gains nothing: after the first two, a report's
figures draw in the same time warm or cold (their texts are their own: unit names, values).

What is kept is only ever reused for an identical request: every cache is keyed by all that
decides its answer (rcParams, font, size, dpi, language and text), so a kernel whose report
differs, or whose settings differ, misses and draws as it would have; no pixel changes
(``tests/report/test_warmup.py``).
"""

from __future__ import annotations

import logging

logger = logging.getLogger("kiemnhiem")

#: The languages whose texts are warmed. Vietnamese only: a run makes its reports in one
#: language (``kiemnhiem run --lang``, Vietnamese by default) that the server is not told, and
#: English texts cost each server about 0.27 CPU-s more for nothing in a Vietnamese run; an
#: English run's kernels still inherit all that is not text (figures, fonts, code run once).
WARM_LANGS: tuple[str, ...] = ("vi",)


def warm_figures(langs: tuple[str, ...] = WARM_LANGS) -> bool:
    """Draw a pilot report's two chart kinds (series and event study) in each of ``langs``,
    from the demo dataset, and throw the pictures away; True when done.

    Never raises: a server that could not warm forks cold kernels, which draw the same
    pictures, a little slower. Starts no thread (the server forks after it).

    The figures and the dataset drawn from are left as garbage in reference cycles: the
    server must collect it before forking (:func:`kiemnhiem.run.kernels.serve` collects and
    freezes right after), else every kernel walks and frees it (measured: about 0.1 CPU-s
    more for each kernel's figures).
    """
    try:
        _draw_samples(langs)
    except Exception as exc:  # noqa: BLE001 - warming is an optimisation, never a failure
        logger.warning("kiemnhiem: the figures were not warmed (%s: %s)", type(exc).__name__, exc)
        return False
    return True


def _draw_samples(langs: tuple[str, ...]) -> int:
    """What :func:`warm_figures` does, raising; the number of figures drawn."""
    from ..data.catalog import indicators_for_model
    from ..data.dataset import load_dataset
    from ..resources import demo_dir
    from ..stats.eventstudy import pilot_profiles
    from . import plots

    ds = load_dataset(demo_dir())
    pilot = ds.pilots.iloc[0]
    unit, model = str(pilot["unit_code"]), str(pilot["model"])
    indicator = str(indicators_for_model(ds.indicators, model)["code"].iloc[0])
    # As the report computes them (the same code then runs warm in the kernels).
    profiles, studies, _errors = pilot_profiles(ds, unit, model, [indicator])
    series, study = profiles[indicator], studies[indicator]
    windows = series.loc[series["window"] == "post", "year"]
    row = {
        "indicator": indicator,
        "unit_name": str(pilot["unit_name"]),
        "start": pilot["start"],
        "start_precision": pilot["start_precision"],
        "comparison": "notyet",
        "n_comparison": int(series["n_comparison"].max()),
        "did_years_used": ";".join(str(int(y)) for y in windows),
    }
    drawn = 0
    for lang in langs:
        fig = plots.plot_series(series, row, ds.indicators, lang, events=ds.events)
        plots.figure_output(fig, "warm-series", plots.series_alt(series, row, ds.indicators, lang))
        fig = plots.plot_event_study(
            study, indicator, ds.indicators, lang, unit_name=row["unit_name"]
        )
        alt = plots.event_study_alt(study, indicator, ds.indicators, lang)
        plots.figure_output(fig, "warm-event-study", alt)
        drawn += 2
    return drawn
