"""The kernel server's warm-up leaves caches that change no pixel (issue 15).

:func:`kiemnhiem.report.warmup.warm_figures` draws a few demo charts in the kernel server so that
the forked kernels inherit its caches. Here the figures a kernel draws after it are compared,
decoded, with matplotlib's own full drawing (a plain ``FigureCanvasAgg``, none of
:mod:`kiemnhiem.report.drawing`'s caches): charts that hit what the warm-up left (the same
pilot and indicator, the event-study legend every demo report shares), charts that do not,
in both languages, and under settings the warm-up did not draw with.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest

from kiemnhiem.data.catalog import indicators_for_model
from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.report import drawing, plots, warmup
from kiemnhiem.stats.eventstudy import pilot_profiles

from .test_plots import _decoded, _matplotlib_pixels


@pytest.fixture(scope="module")
def demo():
    """The demo dataset and, for two pilots (the warm-up's, the first of the demo, and one of
    the other model), their first indicator's series and event study."""
    ds = load_dataset(None)
    charts = []
    other = (ds.pilots["unit_code"] == "122") & (ds.pilots["model"] == "tuyengiao_ttct")
    for pilot in (ds.pilots.iloc[0], ds.pilots[other].iloc[0]):
        unit, model = pilot["unit_code"], pilot["model"]
        indicator = str(indicators_for_model(ds.indicators, model)["code"].iloc[0])
        series, studies, _errors = pilot_profiles(ds, unit, model, [indicator])
        charts.append((pilot, indicator, series[indicator], studies[indicator]))
    return ds, charts


def _cold_caches():
    """A kernel's caches as they are before the warm-up (a fresh process)."""
    caches = ("_LEGEND_PIXELS", "_LEGEND_EXTENTS", "_GLYPHS", "_LAYOUTS", "_FONT_HEIGHTS")
    for name in caches:
        getattr(drawing, name, {}).clear()


def _figures(ds, charts, lang):
    figures = []
    for pilot, indicator, series, study in charts:
        name = pilot["unit_name"]
        row = {
            "indicator": indicator,
            "unit_name": name,
            "start": pilot["start"],
            "start_precision": pilot["start_precision"],
            "comparison": "notyet",
        }
        figures.append(plots.plot_series(series, row, ds.indicators, lang, events=ds.events))
        figures.append(
            plots.plot_event_study(study, indicator, ds.indicators, lang, unit_name=name)
        )
    return figures


def test_the_warm_up_leaves_what_a_reports_figures_reuse(demo):
    ds, charts = demo
    _cold_caches()
    assert warmup._draw_samples(("vi",)) == 2
    # The two figure sizes of every demo report are built: the series, 4.6 inches and 0.22 a
    # legend row of events (the demo's six events in two columns: 4.6 + 0.22 * 3 = 5.26), and
    # the event study (4.2); their texts are shaped ...
    assert {(7.5, 5.26), (7.5, 4.2)} <= set(drawing._SKELETONS)
    assert drawing._LAYOUTS and drawing._GLYPHS
    # ... and the event-study legend every demo report shares is drawn: another pilot's event
    # study (of the other model) pastes it instead of drawing and keeping its own.
    legends = dict(drawing._LEGEND_PIXELS)
    pilot, indicator, _series, study = charts[1]
    fig = plots.plot_event_study(
        study, indicator, ds.indicators, "vi", unit_name=pilot["unit_name"]
    )
    plots.figure_png(fig)
    assert drawing._LEGEND_PIXELS == legends


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_figures_drawn_after_the_warm_up_are_matplotlibs_own_pixels(demo, lang):
    ds, charts = demo
    _cold_caches()
    assert warmup.warm_figures(("vi",))
    # Each chart twice (the second time its legend is pasted from the first), both times
    # matplotlib's own full drawing, pixel for pixel.
    for fig in _figures(ds, charts, lang) + _figures(ds, charts, lang):
        assert np.array_equal(_decoded(plots.figure_png(fig)), _matplotlib_pixels(fig))


def test_a_kernel_with_other_settings_draws_its_own_pictures(demo):
    # The server warms under matplotlib's defaults; a kernel whose settings differ (here the
    # font size and line widths) must get nothing the warm-up kept for the defaults.
    ds, charts = demo
    _cold_caches()
    assert warmup.warm_figures(("vi",))
    with mpl.rc_context({"font.size": 11, "lines.linewidth": 2.5, "legend.fontsize": 9}):
        for fig in _figures(ds, charts, "vi"):
            assert np.array_equal(_decoded(plots.figure_png(fig)), _matplotlib_pixels(fig))


def test_the_warm_up_starts_no_thread_and_changes_no_setting():
    # The server forks right after it: a thread started here would be lost in every kernel
    # (and forking with threads is unsafe); a setting changed here would change the kernels'.
    threads = threading.active_count(), _native_threads()
    settings = dict(dict.items(mpl.rcParams))
    assert warmup.warm_figures(("vi", "en"))
    # Python's threads and the native ones (numpy's, pyarrow's: Linux lists them all).
    assert (threading.active_count(), _native_threads()) == threads
    assert dict(dict.items(mpl.rcParams)) == settings


def _native_threads() -> int | None:
    tasks = Path("/proc/self/task")
    return len(list(tasks.iterdir())) if tasks.is_dir() else None


def test_a_failed_warm_up_is_logged_and_the_server_goes_on(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no chart")

    monkeypatch.setattr(plots, "plot_series", broken)
    with caplog.at_level(logging.WARNING, logger="kiemnhiem"):
        assert warmup.warm_figures() is False
    assert "RuntimeError: no chart" in caplog.text
