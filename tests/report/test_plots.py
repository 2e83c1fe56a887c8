"""Figures from small hand-made result frames: what is drawn where, in both languages."""

from __future__ import annotations

import base64
import io
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
from kiemnhiem.report.plots import (
    before_after_means,
    event_study_alt,
    figure_output,
    figure_png,
    plot_before_after,
    plot_event_study,
    plot_series,
    plot_start_dates,
    series_alt,
    start_dates_alt,
)

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


# ---------------------------------------------------------------------------------------------
# Timeline events, alt text and the display bundle
# ---------------------------------------------------------------------------------------------

EVENTS = pd.DataFrame(
    {
        "date": pd.to_datetime(["2017-10-25", "2020-08-01", "2030-01-01"]),
        "code": ["nq18", "dai_hoi", "later"],
        "label_vi": ["Nghị quyết 18-NQ/TW", "Đại hội 2020", "Sau này"],
        "label_en": ["Resolution 18-NQ/TW", "Congresses 2020", "Later"],
    }
)


@pytest.mark.parametrize(
    ("lang", "first", "second"),
    [
        ("vi", "25/10/2017: Nghị quyết 18-NQ/TW", "01/08/2020: Đại hội 2020"),
        ("en", "25 Oct 2017: Resolution 18-NQ/TW", "1 Aug 2020: Congresses 2020"),
    ],
)
def test_events_are_numbered_lines_listed_in_the_legend(lang, first, second):
    fig = plot_series(_series(), _result(), INDICATORS, lang, events=EVENTS)
    ax = fig.axes[0]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert first in legend and second in legend
    assert not any("2030" in t for t in legend)  # outside the chart's years
    # 25 October 2017 is day 298 of 365; year Y is centred on Y, so 2017 begins at 2016.5.
    dotted = sorted(
        line.get_xdata()[0]
        for line in ax.get_lines()
        if line.get_linestyle() == ":" and line.get_label().startswith("_")
    )
    assert dotted == [pytest.approx(2016.5 + 297 / 365), pytest.approx(2019.5 + 213 / 366)]
    assert {t.get_text() for t in ax.texts} >= {"1", "2"}


def test_without_events_nothing_is_added():
    fig = plot_series(_series(), _result(), INDICATORS, "vi")
    assert not [t for t in fig.axes[0].texts if t.get_text() == "1"]


def test_series_alt_text_gives_the_numbers():
    text = series_alt(_series(), _result(), INDICATORS, "vi")
    # Pilot means from the result row (10 and 7); comparison means 13 and 10 (see above).
    assert text.startswith("Biểu đồ đường: Số cuộc họp của Huyện Phù Yên")
    assert "2014–2022" in text and "08/2018" in text
    assert "10,0" in text and "7,0" in text and "13,0" in text
    english = series_alt(_series(), _result(), INDICATORS, "en")
    assert "Meetings held" in english and "13.0" in english


def test_figure_output_carries_png_alt_text_and_the_runner_name():
    fig = plot_series(_series(), _result(), INDICATORS, "vi")
    alt = 'Biểu đồ "A" <b>&'
    data, metadata = figure_output(fig, "so_cuoc_hop-series", alt)
    assert metadata == {"kiemnhiem_figure": "so_cuoc_hop-series"}
    assert set(data) == {"text/html", "text/plain"}  # the picture once, inside the <img>
    assert data["text/plain"] == alt
    html_img = data["text/html"]
    assert 'alt="Biểu đồ &quot;A&quot; &lt;b&gt;&amp;"' in html_img
    encoded = base64.b64encode(figure_png(fig)).decode("ascii")
    assert html_img.startswith(f'<img src="data:image/png;base64,{encoded}" ')
    assert "max-width:100%" in html_img


# ---------------------------------------------------------------------------------------------
# Event study
# ---------------------------------------------------------------------------------------------


def _event_study(**changes) -> pd.DataFrame:
    # Anticipation 1: reference year e = -2, transition year e = -1, post years e = 0, 1, 2;
    # e = 2 rests on one unit (not reliable) and its interval is unbounded.
    frame = pd.DataFrame(
        {
            "event_time": [-3, -2, -1, 0, 1, 2],
            "att": [0.5, 0.0, -1.0, -4.0, -6.0, -5.0],
            "se": [1.0, np.nan, 1.0, 1.0, 1.5, 2.0],
            "ci_low": [-1.0, np.nan, -2.5, -5.5, -8.5, -np.inf],
            "ci_high": [2.0, np.nan, 0.5, -2.5, -3.5, np.inf],
            "n_units": [5, 5, 5, 5, 4, 1],
            "base": [False, True, False, False, False, False],
            "reliable": [True, True, True, True, True, False],
        }
    )
    return frame.assign(**changes)


def _points(ax, face_white: bool) -> set[tuple[float, float]]:
    out = set()
    for coll in ax.collections:
        if not isinstance(coll, PathCollection) or not len(coll.get_offsets()):
            continue
        white = np.allclose(coll.get_facecolors()[0][:3], 1.0)
        if white == face_white:
            out |= {(float(x), float(y)) for x, y in coll.get_offsets()}
    return out


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_event_study_points_base_and_unreliable(lang):
    fig = plot_event_study(
        _event_study(), "so_cuoc_hop", INDICATORS, lang, unit_name="Huyện Phù Yên"
    )
    ax = fig.axes[0]
    filled = _points(ax, face_white=False)
    assert {(-3.0, 0.5), (-1.0, -1.0), (0.0, -4.0), (1.0, -6.0)} <= filled
    assert (-2.0, 0.0) in filled  # the reference year, a black diamond at 0
    assert _points(ax, face_white=True) == {(2.0, -5.0)}  # one unit: hollow
    assert ax.get_title(loc="left") == label(
        "plot_es_title_unit", lang, indicator=NAMES[lang], unit="Huyện Phù Yên"
    )
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    for key in ("plot_es_estimate", "plot_es_unreliable", "plot_es_base", "plot_transition"):
        assert label(key, lang) in legend
    assert [t.get_text() for t in ax.get_xticklabels()] == ["−3", "−2", "−1", "0", "+1", "+2"]
    texts = {t.get_text() for t in ax.texts}
    assert label("plot_es_n", lang, n=5) in texts and label("plot_es_unbounded", lang) in texts
    # The start of the first full year is the dashed line between -1 and 0.
    assert any(
        line.get_xdata()[0] == -0.5 and line.get_linestyle() == "--" for line in ax.get_lines()
    )


def test_event_study_intervals_skip_unbounded_ends():
    ax = plot_event_study(_event_study(), "so_cuoc_hop", INDICATORS, "vi").axes[0]
    segments = [
        tuple(map(tuple, seg))
        for coll in ax.collections
        if not isinstance(coll, PathCollection)
        for seg in coll.get_segments()
    ]
    lows = sorted((x, y0, y1) for (x, y0), (_x, y1) in segments)
    assert lows == [(-3.0, -1.0, 2.0), (-1.0, -2.5, 0.5), (0.0, -5.5, -2.5), (1.0, -8.5, -3.5)]
    assert ax.get_title(loc="left") == label("plot_es_title", "vi", indicator=NAMES["vi"])


def test_event_study_base_given_as_an_event_time():
    frame = _event_study(base=-2)
    ax = plot_event_study(frame, "so_cuoc_hop", INDICATORS, "vi").axes[0]
    assert (-2.0, 0.0) in _points(ax, face_white=False)


@pytest.mark.parametrize(("lang", "text"), [("vi", "5 điểm %"), ("en", "5 pp")])
def test_event_study_of_a_share_is_in_points(lang, text):
    frame = _event_study(att=[0.0, 0.0, 0.01, 0.05, 0.06, 0.04])
    ax = plot_event_study(frame, "ty_le", INDICATORS, lang).axes[0]
    assert ax.yaxis.get_major_formatter()(0.05, 0) == text
    alt = event_study_alt(frame, "ty_le", INDICATORS, lang)
    assert SHARE_NAMES[lang] in alt


def test_event_study_alt_lists_the_years_after_the_start():
    text = event_study_alt(_event_study(), "so_cuoc_hop", INDICATORS, "vi")
    assert "năm 0: −4,0; năm 1: −6,0; năm 2: −5,0" in text


def test_event_study_from_an_untidy_frame_is_the_tidy_frames_chart():
    # Rows out of order, numbers as text (one not a number), the reference year given as an
    # event time, "reliable" with a gap: read through pandas' conversions, the chart and its
    # alt text are those of the tidy frame with the same meaning (the unreadable se is
    # not drawn: the tidy frame's se is NaN there too).
    tidy = _event_study(se=[1.0, np.nan, 1.0, 1.0, 1.5, 2.0])
    untidy = _event_study(
        se=["1", "x", "1", "1", "1.5", "2"],
        att=["0.5", "0", "-1", "-4", "-6", "-5"],
        base=-2,
        reliable=pd.array([True, True, True, True, True, None], dtype="boolean"),
    ).iloc[[3, 0, 5, 1, 4, 2]]
    for lang in ("vi", "en"):
        pictures = [
            _decoded(figure_png(plot_event_study(f, "so_cuoc_hop", INDICATORS, lang)))
            for f in (tidy, untidy)
        ]
        assert np.array_equal(pictures[0], pictures[1])
        texts = [event_study_alt(f, "so_cuoc_hop", INDICATORS, lang) for f in (tidy, untidy)]
        assert texts[0] == texts[1]


def test_event_study_needs_the_contract_columns():
    with pytest.raises(ValueError, match="reliable"):
        plot_event_study(_event_study().drop(columns="reliable"), "so_cuoc_hop", INDICATORS)


# ---------------------------------------------------------------------------------------------
# Start dates
# ---------------------------------------------------------------------------------------------

UNITS = pd.DataFrame(
    {
        "unit_code": ["122", "118", "125"],
        "unit_name": ["Huyện Phù Yên", "Huyện Quỳnh Nhai", "Huyện Mai Sơn"],
    }
)
MODELS = pd.DataFrame(
    {
        "code": ["danvan_mttq", "tuyengiao_ttct"],
        "label_vi": ["Dân vận – MTTQ", "Tuyên giáo – TTCT"],
        "label_en": ["Mobilization – Front", "Propaganda – Centre"],
    }
)
PILOTS = pd.DataFrame(
    {
        "unit_code": ["118", "122", "122"],
        "model": ["danvan_mttq", "tuyengiao_ttct", "danvan_mttq"],
        "start": pd.to_datetime(["2018-01-01", "2018-08-01", "2019-03-15"]),
        "start_precision": ["year", "month", "day"],
        "start_status": ["approximate", "documented", "assumed"],
        "end": pd.to_datetime([None, None, "2021-01-01"]),
    }
)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_start_dates_one_row_per_unit_one_shape_per_model(lang):
    fig = plot_start_dates(PILOTS, UNITS, MODELS, EVENTS, lang, last_year=2021)
    ax = fig.axes[0]
    # Rows by unit code: 118, 122, 125 (Mai Sơn never piloted, still listed).
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Huyện Quỳnh Nhai",
        "Huyện Phù Yên",
        "Huyện Mai Sơn",
    ]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert MODELS.set_index("code").loc["danvan_mttq", f"label_{lang}"] in legend
    assert label("plot_starts_documented", lang) in legend
    assert label("plot_starts_uncertain", lang) in legend
    assert (
        label(
            "plot_event",
            lang,
            date="25/10/2017" if lang == "vi" else "25 Oct 2017",
            name=EVENTS[f"label_{lang}"][0],
        )
        in legend
    )


def test_start_dates_marker_positions_and_fill():
    ax = plot_start_dates(PILOTS, UNITS, MODELS, lang="vi", last_year=2021).axes[0]
    # Two models: danvan_mttq drawn 0.125 above its row, tuyengiao_ttct 0.125 below.
    # Quỳnh Nhai (row 0), known to the year 2018: mid-year, hollow (approximate).
    # Phù Yên (row 1), 08/2018: the middle of August (day 213 to 244 of 365), filled.
    # Phù Yên, 15/03/2019 (day 74 of 365), hollow (assumed).
    hollow = sorted(_points(ax, face_white=True))
    filled = sorted(_points(ax, face_white=False))
    assert hollow == [
        (pytest.approx(2018.5), pytest.approx(-0.125)),
        (pytest.approx(2019 + 73 / 365), pytest.approx(1 - 0.125)),
    ]
    assert filled == [(pytest.approx(2018 + (212 + 243) / 2 / 365), pytest.approx(1 + 0.125))]


def test_start_dates_alt_text():
    text = start_dates_alt(PILOTS, UNITS, MODELS, "vi")
    assert "Dân vận – MTTQ: 2 đơn vị (Huyện Quỳnh Nhai 2018; Huyện Phù Yên 15/03/2019)" in text
    assert "Tuyên giáo – TTCT: 1 đơn vị (Huyện Phù Yên 08/2018)" in text


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_new_figures_render_without_missing_glyphs(lang):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_series(_series(), _result(), INDICATORS, lang, events=EVENTS).canvas.draw()
        plot_event_study(_event_study(), "so_cuoc_hop", INDICATORS, lang).canvas.draw()
        plot_start_dates(PILOTS, UNITS, MODELS, EVENTS, lang).canvas.draw()


# ---------------------------------------------------------------------------------------------
# Charts true to what is drawn (issue 12): titles, the comparison's years, honest value axes
# ---------------------------------------------------------------------------------------------

KINDS = pd.DataFrame(
    {
        "code": ["hop", "bien_che", "ty_le", "xep_loai"],
        "label_vi": ["Số cuộc họp", "Số biên chế", "Tỷ lệ đạt chuẩn", "Xếp loại"],
        "label_en": ["Meetings", "Staff posts", "Share up to standard", "Rating"],
        "unit_vi": ["cuộc", "người", "tỷ lệ", "điểm"],
        "unit_en": ["meetings", "people", "share", "points"],
        "kind": ["count", "stock", "share", "rating"],
        "better": ["lower", "lower", "higher", "higher"],
    }
)


def _kind_series(values, comparison) -> pd.DataFrame:
    return _series().assign(pilot=values, comparison_mean=comparison, counterfactual=np.nan)


def _ticks(ax) -> list[float]:
    lo, hi = ax.get_ylim()
    return [t for t in ax.get_yticks() if lo - 1e-9 <= t <= hi + 1e-9]


def _says_break(ax, lang="vi") -> bool:
    return label("plot_axis_break", lang) in [t.get_text() for t in ax.texts]


@pytest.mark.parametrize(
    ("code", "values", "comparison"),
    [
        # A head-count that moves 35,2 -> 36,8: never a plot filled by a change of 1,6.
        ("bien_che", [35.2, 35.6, 36.0, 36.8, 36.4, 36.0, 35.6, 35.2, 35.4], [36.0] * 9),
        # Meetings 5-11: from zero.
        (
            "hop",
            [11.0, 10.0, 11.0, 9.0, 8.0, 7.0, 8.0, 6.0, 5.0],
            [13, 12, 12, 15, 14, 11, 10, 9, 9],
        ),
    ],
)
def test_counts_have_whole_ticks_and_a_zero_or_a_stated_break(code, values, comparison):
    fig = plot_series(_kind_series(values, comparison), _result(indicator=code), KINDS, "vi")
    fig.canvas.draw()
    ax = fig.axes[0]
    ticks = _ticks(ax)
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    bottom, top = ax.get_ylim()
    assert bottom <= 0 <= top or _says_break(ax)
    if _says_break(ax):
        # The values take at most 4/5 of a broken axis (1,6 of 36,8 is 4 % of the value).
        assert max(values + comparison) - min(values + comparison) <= 0.8 * (top - bottom)
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert all("." not in text for text in labels), labels  # no English decimal point


def test_the_staff_count_axis_is_broken_and_says_so():
    values = [35.2, 35.6, 36.0, 36.8, 36.4, 36.0, 35.6, 35.2, 35.4]
    series = _kind_series(values, [36.0] * 9)
    ax = plot_series(series, _result(indicator="bien_che"), KINDS, "vi").axes[0]
    assert _says_break(ax)
    alt = series_alt(series, _result(indicator="bien_che"), KINDS, "vi")
    assert label("plot_alt_axis_break", "vi") in alt
    # Meetings that vary a lot start from zero, with no break.
    ax = plot_series(_series(), _result(), INDICATORS, "vi").axes[0]
    assert ax.get_ylim()[0] == 0 and not _says_break(ax)


def test_share_axis_starts_at_zero_or_says_it_does_not():
    series = _kind_series([0.5, 0.52, 0.55, 0.6, 0.62, 0.7, 0.72, 0.75, 0.76], [0.5] * 9)
    fig = plot_series(series, _result(indicator="ty_le"), KINDS, "vi")
    fig.canvas.draw()
    ax = fig.axes[0]
    bottom, top = ax.get_ylim()
    assert bottom <= 0 <= top or _says_break(ax)
    assert all(t.get_text().endswith("%") for t in ax.get_yticklabels() if t.get_text())


def test_rating_axis_shows_the_whole_scale_in_whole_steps():
    series = _kind_series([3, 3, 4, 3, 3, 2, 3, 3, 3], [3.2] * 9)
    fig = plot_series(series, _result(indicator="xep_loai"), KINDS, "vi")
    fig.canvas.draw()
    ax = fig.axes[0]
    assert _ticks(ax) == [1, 2, 3, 4]
    assert ax.get_ylim() == (0.5, 4.5)


def test_bars_of_counts_have_whole_ticks():
    series = _kind_series([35.2, 35.6, 36.0, 36.8, 36.4, 36.0, 35.6, 35.2, 35.4], [36.0] * 9)
    fig = plot_before_after(series, _result(indicator="bien_che"), KINDS, "vi")
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_ylim()[0] == 0
    assert all(float(t).is_integer() for t in _ticks(ax))


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_titles_name_the_comparison_only_where_one_is_drawn(lang):
    fig = plot_series(_series(), _result(), INDICATORS, lang)
    assert fig.axes[0].get_title(loc="left") == label(
        "plot_series_title", lang, indicator=NAMES[lang], unit="Huyện Phù Yên"
    )
    alone = _series().assign(comparison_mean=np.nan, counterfactual=np.nan, n_comparison=0)
    result = _result(comparison="none", n_comparison=0)
    title = plot_series(alone, result, INDICATORS, lang).axes[0].get_title(loc="left")
    assert title == label(
        "plot_series_title_alone", lang, indicator=NAMES[lang], unit="Huyện Phù Yên"
    )
    if lang == "vi":
        assert "so với nhóm so sánh" not in title
        assert "gồm cả biến động chung của tỉnh" in title
    bars = plot_before_after(alone, result, INDICATORS, lang).axes[0].get_title(loc="left")
    assert bars == label(
        "plot_before_after_title_alone", lang, indicator=NAMES[lang], unit="Huyện Phù Yên"
    )
    assert label("plot_alt_alone", lang) in series_alt(alone, result, INDICATORS, lang)


def test_a_not_yet_comparison_is_drawn_as_one_only_up_to_the_last_year_compared():
    # did averages 2019 only: from 2020 every comparison unit had adopted.
    result = _result(comparison="notyet", did_years_used="2019")
    ax = plot_series(_series(), result, INDICATORS, "vi").axes[0]
    comp = _line(ax, label("plot_comparison_mean", "vi", n=7))
    y = dict(zip(comp.get_xdata(), comp.get_ydata(), strict=True))
    assert y[2019] == 11.0 and y[2015] == 12.0
    assert all(math.isnan(y[year]) for year in (2020, 2021, 2022))
    grey = _line(ax, label("plot_comparison_adopted", "vi", year=2019))
    g = dict(zip(grey.get_xdata(), grey.get_ydata(), strict=True))
    assert g[2019] == 11.0 and g[2020] == 10.0 and math.isnan(g[2018])  # joined at 2019
    assert grey.get_color() != comp.get_color()
    legend = [t.get_text() for t in ax.figure.legends[0].get_texts()]
    assert label("plot_comparison_adopted", "vi", year=2019) in legend
    # The counterfactual stops where the comparison does.
    counter = _line(ax, label("plot_counterfactual", "vi")).get_ydata()
    assert list(counter[1:6]) == [10.0, 10.0, 10.0, 10.0, 8.0]
    assert all(math.isnan(v) for v in counter[6:])
    alt = series_alt(_series(), result, INDICATORS, "vi")
    assert label("plot_alt_comparison_until", "vi", year=2019) in alt


def test_a_never_comparison_after_the_window_is_greyed_as_not_compared():
    result = _result(comparison="never", did_years_used="2019;2020;2021")
    ax = plot_series(_series(), result, INDICATORS, "en").axes[0]
    _line(ax, label("plot_comparison_unused", "en", year=2021))


def test_before_after_means_compare_the_years_did_averages():
    result = _result(comparison="notyet", did_years_used="2019")
    means = before_after_means(_series(), result)
    # The pilot's and the comparison's after means over 2019 alone.
    assert means == {
        "pilot_pre": 10.0,
        "pilot_post": 7.0,
        "comparison_pre": 13.0,
        "comparison_post": 11.0,
    }
    result = _result(comparison="never", did_years_used="2019;2020;2021")
    assert before_after_means(_series(), result)["comparison_post"] == 10.0


# ---------------------------------------------------------------------------------------------
# Drawing cheaply without changing the picture (issue 15)
# ---------------------------------------------------------------------------------------------


def _decoded(png: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "RGB"  # opaque figures: no alpha channel
        return np.asarray(image.convert("RGB"))


def _matplotlib_pixels(fig: Figure, dpi: int = 100) -> np.ndarray:
    """The reference: matplotlib's own raw RGBA output of the whole figure, drawn in full by a
    plain Agg canvas (its own ``RendererAgg``, none of :mod:`kiemnhiem.report.drawing`'s
    shared renderers and caches)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="rgba", dpi=dpi)
    width, height = (int(round(v * dpi)) for v in fig.get_size_inches())
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8).reshape(height, width, 4)[..., :3]


def _charts(lang: str) -> list[Figure]:
    return [
        plot_series(_series(), _result(), INDICATORS, lang, events=EVENTS),
        plot_series(_series(), _result(unit_name="Huyện Mai Sơn"), INDICATORS, lang, events=EVENTS),
        plot_series(_series().assign(pilot=lambda f: f["pilot"] * 3), _result(), INDICATORS, lang),
        plot_before_after(_series(), _result(), INDICATORS, lang),
        plot_event_study(_event_study(), "so_cuoc_hop", INDICATORS, lang, unit_name="Phù Yên"),
        plot_start_dates(PILOTS, UNITS, MODELS, EVENTS, lang, last_year=2021),
    ]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("dpi", [100, 150])
def test_png_holds_exactly_the_pixels_matplotlib_draws(lang, dpi):
    # Each chart twice: the second time its legend (drawn by the first, and by the other
    # charts with equal legends) may be pasted from the first drawing; both times the PNG
    # must decode to matplotlib's own full drawing of the figure, pixel for pixel (lossless).
    for fig in _charts(lang) + _charts(lang):
        assert np.array_equal(_decoded(figure_png(fig, dpi=dpi)), _matplotlib_pixels(fig, dpi))


def test_png_records_its_resolution():
    from PIL import Image

    png = figure_png(plot_series(_series(), _result(), INDICATORS, "vi"), dpi=150)
    with Image.open(io.BytesIO(png)) as image:
        # 150 dots per inch = 150 / 0.0254 = 5905.5 dots per metre, stored whole as 5906,
        # read back as 5906 * 0.0254 = 150.0124.
        assert image.info["dpi"] == pytest.approx((150.0124, 150.0124), abs=1e-4)
        assert image.size == (7.5 * 150, pytest.approx(4.6 * 150, abs=1))


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_layout_keeps_what_is_drawn_inside_the_figure_and_clear_of_the_legend(lang):
    for fig in _charts(lang):
        figure_png(fig)
        renderer = fig.canvas.get_renderer()
        page = fig.bbox
        # What is drawn: the axes with its tick labels, axis labels, title and texts (its
        # tight box), and the legend.
        drawn = fig.axes[0].get_tightbbox(renderer)
        legend = fig.legends[0].get_window_extent(renderer)
        for box in (drawn, legend):
            assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1
            assert page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1
        # The axes with its ticks, labels and title sits wholly above the legend.
        assert drawn.y0 >= legend.y1
