"""Figures from small hand-made result frames: what is drawn where, in both languages."""

from __future__ import annotations

import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from kiemnhiem.labels import label
from kiemnhiem.plots import before_after_means, figure_png, plot_before_after, plot_series

NAMES = {"vi": "Số cuộc họp", "en": "Meetings held"}
SHARE_NAMES = {"vi": "Tỷ lệ đạt chuẩn", "en": "Share up to standard"}

INDICATORS = pd.DataFrame(
    {
        "code": ["so_cuoc_hop", "ty_le"],
        "label_vi": [NAMES["vi"], SHARE_NAMES["vi"]],
        "label_en": [NAMES["en"], SHARE_NAMES["en"]],
        "unit_vi": ["cuộc", "tỷ lệ"],
        "unit_en": ["meetings", "share"],
        "kind": ["count", "share"],
        "better": ["lower", "higher"],
    }
)


def _series() -> pd.DataFrame:
    # Start 08/2018: pre 2015-2017, 2018 transition, post 2019-2021; 2022 is partial and keeps
    # a value (as a stock would).
    return pd.DataFrame(
        {
            "year": [2014, 2015, 2016, 2017, 2018, 2019, 2020, 2021, 2022],
            "pilot": [11.0, 10.0, 11.0, 9.0, 8.0, 7.0, 8.0, 6.0, 5.0],
            "comparison_mean": [13.0, 12.0, 12.0, 15.0, 14.0, 11.0, 10.0, 9.0, 9.5],
            "counterfactual": [9.0, 10.0, 10.0, 10.0, 10.0, 8.0, 7.0, 6.0, 6.5],
            "n_comparison": [7] * 9,
            "window": ["", "pre", "pre", "pre", "transition", "post", "post", "post", ""],
            "partial": [False] * 8 + [True],
        }
    )


def _result(**changes) -> pd.Series:
    row = {
        "indicator": "so_cuoc_hop",
        "unit_name": "Huyện Phù Yên",
        "start": pd.Timestamp("2018-08-01"),
        "start_precision": "month",
        "pre_mean": 10.0,
        "post_mean": 7.0,
        "comparison": "never",
        "n_comparison": 7,
    }
    row.update(changes)
    return pd.Series(row)


def _spans(ax) -> set[tuple[float, float]]:
    return {
        (round(p.get_x(), 6), round(p.get_x() + p.get_width(), 6))
        for p in ax.patches
        if isinstance(p, Rectangle)
    }


def _line(ax, text):
    hits = [line for line in ax.get_lines() if line.get_label() == text]
    assert len(hits) == 1, text
    return hits[0]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_series_is_a_figure_titled_through_labels(lang):
    open_before = plt.get_fignums()
    fig = plot_series(_series(), _result(), INDICATORS, lang)
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == open_before  # no pyplot state
    ax = fig.axes[0]
    assert ax.get_title(loc="left") == label(
        "plot_series_title", lang, indicator=NAMES[lang], unit="Huyện Phù Yên"
    )
    assert ax.get_xlabel() == label("plot_year", lang)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert label("plot_pilot", lang, unit="Huyện Phù Yên") in legend
    assert label("plot_comparison_mean", lang, n=7) in legend
    assert label("plot_pre_window", lang) in legend
    assert label("plot_post_window", lang) in legend
    assert label("plot_transition", lang) in legend
    assert label("plot_partial", lang) in legend


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_vietnamese_text_renders_without_missing_glyphs(lang):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font" is a warning
        plot_series(_series(), _result(), INDICATORS, lang).canvas.draw()
        plot_before_after(_series(), _result(), INDICATORS, lang).canvas.draw()


def test_series_shades_the_windows_and_the_partial_year():
    ax = plot_series(_series(), _result(), INDICATORS, "vi").axes[0]
    # Year Y covers [Y - 0.5, Y + 0.5].
    assert _spans(ax) == {(2014.5, 2017.5), (2017.5, 2018.5), (2018.5, 2021.5), (2021.5, 2022.5)}


def test_series_marks_the_start_within_its_year():
    ax = plot_series(_series(), _result(), INDICATORS, "vi").axes[0]
    line = _line(ax, label("plot_start", "vi", date="08/2018"))
    # 1 August 2018 is day 213 of 365: 212 days after 2017.5, where 2018 begins.
    assert line.get_xdata()[0] == pytest.approx(2017.5 + 212 / 365)
    assert line.get_linestyle() == "-"


def test_a_start_known_to_the_year_is_dashed_mid_year():
    result = _result(start=pd.Timestamp("2018-01-01"), start_precision="year")
    ax = plot_series(_series(), result, INDICATORS, "en").axes[0]
    line = _line(ax, label("plot_start", "en", date="2018"))
    assert line.get_xdata()[0] == pytest.approx(2018.0)
    assert line.get_linestyle() == "--"


def test_partial_year_values_are_hollow():
    ax = plot_series(_series(), _result(), INDICATORS, "vi").axes[0]
    hollow = []
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            faces = coll.get_facecolors()
            if len(faces) and np.allclose(faces[0][:3], 1.0):
                hollow += [tuple(xy) for xy in coll.get_offsets()]
    assert (2022.0, 5.0) in hollow and (2022.0, 9.5) in hollow
    assert all(x == 2022.0 for x, _ in hollow)


def test_counterfactual_is_drawn_over_the_windows_only():
    ax = plot_series(_series(), _result(), INDICATORS, "vi").axes[0]
    y = _line(ax, label("plot_counterfactual", "vi")).get_ydata()
    assert math.isnan(y[0]) and math.isnan(y[-1])
    assert list(y[1:-1]) == [10.0, 10.0, 10.0, 10.0, 8.0, 7.0, 6.0]


def test_without_comparison_only_the_pilot_is_drawn():
    series = _series().assign(comparison_mean=np.nan, counterfactual=np.nan, n_comparison=0)
    fig = plot_series(series, _result(comparison="none", n_comparison=0), INDICATORS, "vi")
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert label("plot_comparison_mean", "vi", n=0) not in labels
    assert label("plot_counterfactual", "vi") not in labels
    bars = plot_before_after(series, _result(comparison="none"), INDICATORS, "vi")
    legend = [t.get_text() for t in bars.legends[0].get_texts()]
    assert legend == [label("plot_pilot_short", "vi")]


def test_before_after_means():
    means = before_after_means(_series(), _result())
    # pilot from the result row; comparison: (12 + 12 + 15) / 3 and (11 + 10 + 9) / 3
    assert means == {
        "pilot_pre": 10.0,
        "pilot_post": 7.0,
        "comparison_pre": 13.0,
        "comparison_post": 10.0,
    }


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_before_after_bars(lang):
    fig = plot_before_after(_series(), _result(), INDICATORS, lang)
    ax = fig.axes[0]
    heights = [round(p.get_height(), 6) for p in ax.patches if isinstance(p, Rectangle)]
    assert heights == [10.0, 7.0, 13.0, 10.0]  # pilot before, after; comparison before, after
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        label("plot_before", lang),
        label("plot_after", lang),
    ]
    assert ax.get_title(loc="left") == label(
        "plot_before_after_title", lang, indicator=NAMES[lang], unit="Huyện Phù Yên"
    )
    # Values written on the bars in the language's conventions.
    texts = {t.get_text() for t in ax.texts}
    assert ("13,0" if lang == "vi" else "13.0") in texts


@pytest.mark.parametrize(("lang", "text"), [("vi", "50 %"), ("en", "50%")])
def test_share_axis_is_in_percent(lang, text):
    series = _series().assign(pilot=0.5, comparison_mean=0.4, counterfactual=np.nan)
    ax = plot_series(series, _result(indicator="ty_le"), INDICATORS, lang).axes[0]
    assert ax.yaxis.get_major_formatter()(0.5, 0) == text
    assert ax.get_ylabel() == label("plot_share_axis", lang)


def test_no_data_is_said_so():
    series = _series().assign(pilot=np.nan)
    ax = plot_series(series, _result(), INDICATORS, "vi").axes[0]
    assert label("plot_no_data", "vi") in [t.get_text() for t in ax.texts]


def test_png_bytes_are_deterministic():
    first = figure_png(plot_series(_series(), _result(), INDICATORS, "vi"))
    second = figure_png(plot_series(_series(), _result(), INDICATORS, "vi"))
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert first == second


def test_series_needs_the_contract_columns():
    with pytest.raises(ValueError, match="partial"):
        plot_series(_series().drop(columns="partial"), _result(), INDICATORS, "vi")
