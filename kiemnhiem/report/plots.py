"""Figures built from result frames, returned as matplotlib ``Figure`` objects.

Nothing here shows or saves a figure: the notebook (or the caller) decides where it goes. The
object-oriented API (:class:`matplotlib.figure.Figure`) is used throughout, never pyplot's
global state, so the module is safe in worker processes and with any backend. Every piece of
text comes from :func:`kiemnhiem.labels.label` or from the indicator catalog; DejaVu Sans,
matplotlib's default font, renders Vietnamese diacritics.

The module is over the package's guide of about 1,000 lines on purpose: its three chart
families (a pilot's series and before/after bars, the event study, every pilot's start date)
share the helpers at the end (text drawn literally, values and axes in the indicator's terms,
missing values, dates and timeline events: the series and the start dates draw the same event
lines). Split by family, those private helpers would become an
interface between modules without making any one chart easier to read.

Cost: how a figure is laid out and becomes a PNG cheaply, with the same pixels, is
:mod:`kiemnhiem.report.drawing` (issue 15: a report draws twenty figures).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerBase
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter
from matplotlib.transforms import blended_transform_factory

from ..labels import check_lang, format_day, format_number, format_percent, format_signed, label
from .drawing import (
    ShownAutoLocator,
    ShownMaxNLocator,
    legend_below,
    new_figure,
    place_axes,
    png_bytes,
)
from .indicators import IndicatorInfo, indicator_info, model_label

# Colours from the Okabe-Ito palette: distinguishable with common colour-vision deficiencies.
_PILOT = "#0072B2"
_COMPARISON = "#D55E00"
_PRE = "#56B4E9"
_POST = "#009E73"
_TRANSITION = "#999999"
_AFTER_COMPARISON = "#aaaaaa"

#: Kinds whose values count from zero: their axis starts at 0 unless the values would be a
#: flat line there; then the axis is broken, and says so (``_value_limits``).
_FROM_ZERO = ("count", "stock", "duration", "amount", "share")
#: Kinds that are whole numbers: whole-number ticks.
_WHOLE = ("count", "stock")
#: From zero when the values' range is at least this share of their largest value ...
_ZERO_SHARE = 0.2
#: ... else a broken axis spanning at least this share of the largest value (so that a change
#: of 1 in 36 never fills the plot).
_MIN_SPAN = 0.25

SERIES_COLUMNS = ("year", "pilot", "comparison_mean", "n_comparison", "window", "partial")


def plot_series(
    series: pd.DataFrame,
    result: Mapping | pd.Series,
    indicators: pd.DataFrame | None = None,
    lang: str = "vi",
    *,
    events: pd.DataFrame | None = None,
    figsize: tuple[float, float] = (7.5, 4.6),
) -> Figure:
    """The pilot's yearly values against the comparison mean, windows shaded, start marked.

    Parameters
    ----------
    series : DataFrame
        From :func:`kiemnhiem.stats.evaluation.pilot_series`: ``year``, ``pilot``,
        ``comparison_mean``, ``n_comparison``, ``window`` ("pre", "transition", "post" or
        ""), ``partial`` (bool); optional ``counterfactual`` (drawn dotted over the windows).
    result : Series or mapping
        The pilot's row for this indicator from :func:`~kiemnhiem.stats.evaluation.evaluate_pilot`
        (uses ``indicator``, ``unit_name``, ``start``, ``comparison``, ``n_comparison`` and,
        when present, ``start_precision``).
    indicators : DataFrame, optional
        Indicator catalog (``dataset.indicators``) for the indicator's name, unit and kind;
        without it the code is shown and values are plotted as plain numbers.
    lang : {"vi", "en"}
    events : DataFrame, optional
        Timeline markers (``dataset.events``: ``date``, ``label_vi``, ``label_en``). Those
        inside the chart's years are drawn as numbered dotted lines and listed, with their
        dates, in the legend.
    figsize : tuple of float
        Inches (made taller by the legend's event rows).

    Returns
    -------
    matplotlib.figure.Figure
    """
    lang = check_lang(lang)
    frame = _check_series(series)
    info = indicator_info(indicators, str(result["indicator"]), lang)
    unit_name = str(result.get("unit_name", "") or "")
    marks = _events_within(events, frame["year"], centred=True)
    if marks:
        figsize = (figsize[0], figsize[1] + 0.22 * math.ceil(len(marks) / 2))

    fig, ax = new_figure(figsize)

    handles = _shade_windows(ax, frame, lang)
    years = frame["year"].to_numpy(dtype=float)
    partial = frame["partial"].to_numpy(dtype=bool)

    pilot = frame["pilot"].to_numpy(dtype=float)
    ax.plot(
        years,
        pilot,
        color=_PILOT,
        linewidth=2,
        zorder=3,
        label=label("plot_pilot", lang, unit=unit_name),
    )
    _markers(ax, years, pilot, partial, _PILOT, marker="o")

    has_comparison = _has_comparison(result, frame)
    if has_comparison:
        comp, after, until = _comparison_parts(frame, result)
        n = _comparison_size(result, frame)
        ax.plot(
            years,
            comp,
            color=_COMPARISON,
            linewidth=1.6,
            linestyle="--",
            zorder=2,
            label=label("plot_comparison_mean", lang, n=n),
        )
        _markers(ax, years, comp, partial, _COMPARISON, marker="s")
        if np.isfinite(after).any():
            # After the last year the estimate compares (under a not-yet comparison its units
            # have adopted by then): grey, thin, labelled, so it does not read as a comparison.
            key = "plot_comparison_adopted" if _not_yet(result) else "plot_comparison_unused"
            joined = np.where(years == until, comp, after)
            ax.plot(
                years,
                joined,
                color=_AFTER_COMPARISON,
                linewidth=1.1,
                linestyle=(0, (2, 2)),
                zorder=2,
                label=label(key, lang, year=until),
            )
            _markers(ax, years, after, partial, _AFTER_COMPARISON, marker="s")

    if has_comparison and "counterfactual" in frame.columns:
        # Where the pilot would be had it moved like the comparison units (the estimate's
        # counterfactual), drawn over the windows only, up to the last year compared.
        inside = (frame["window"] != "").to_numpy() & _compared(frame, result)
        counter = pd.to_numeric(frame["counterfactual"], errors="coerce").to_numpy(dtype=float)
        counter = np.where(inside, counter, np.nan)
        if np.isfinite(counter).any():
            ax.plot(
                years,
                counter,
                color="#555555",
                linewidth=1.3,
                linestyle=":",
                zorder=2,
                label=label("plot_counterfactual", lang),
            )

    start_x, start_text, exact = _start_position(result, lang)
    if start_x is not None:
        ax.axvline(
            start_x,
            color="black",
            linewidth=1.2,
            zorder=4,
            linestyle="-" if exact else "--",
            label=label("plot_start", lang, date=start_text),
        )

    if partial.any():
        # Partial years: a dotted band (their flows are left out, so often there is no point)
        # and hollow markers where a value (a stock's last reading) is kept.
        for year in years[partial]:
            ax.axvspan(
                year - 0.5,
                year + 0.5,
                facecolor="none",
                edgecolor="#bbbbbb",
                hatch="..",
                linewidth=0,
                zorder=0,
            )
        handles.append(
            Patch(
                facecolor="none", edgecolor="#999999", hatch="..", label=label("plot_partial", lang)
            )
        )

    _format_value_axis(ax, info, lang)
    _fit_value_axis(ax, info, _drawn_values(frame, result), lang)
    ax.set_xlabel(label("plot_year", lang))
    ax.set_ylabel(_value_axis_label(info, lang))
    if len(years):
        ax.set_xlim(years.min() - 0.5, years.max() + 0.5)
        ax.xaxis.set_major_locator(FixedLocator(_year_ticks(years)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{int(round(x))}"))
    if not np.isfinite(pilot).any():
        ax.text(
            0.5,
            0.5,
            label("plot_no_data", lang),
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="#666666",
        )
    ax.set_title(
        _chart_title("plot_series_title", frame, result, info, lang), loc="left", fontsize="medium"
    )
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    line_handles, _ = ax.get_legend_handles_labels()
    extra = [h for h in handles if h not in line_handles]
    extra += _draw_events(ax, marks, lang)
    legend_below(fig, line_handles + extra, 2 if marks else 3, _EVENT_HANDLERS)
    return _finish(fig, ax)


def plot_before_after(
    series: pd.DataFrame,
    result: Mapping | pd.Series,
    indicators: pd.DataFrame | None = None,
    lang: str = "vi",
    *,
    figsize: tuple[float, float] = (6.0, 4.0),
) -> Figure:
    """Mean of the pre window against mean of the post window, for pilot and comparison.

    The pilot's means are the result row's ``pre_mean`` and ``post_mean`` (the numbers the
    estimate uses); the comparison's are the means of ``comparison_mean`` over the series rows
    of each window. No comparison bars are drawn when the result says there is no comparison.

    Parameters
    ----------
    series : DataFrame
        As for :func:`plot_series`.
    result : Series or mapping
        The pilot's row for this indicator (``indicator``, ``unit_name``, ``pre_mean``,
        ``post_mean``, ``comparison``, ``n_comparison``).
    indicators : DataFrame, optional
        Indicator catalog for name, unit and kind.
    lang : {"vi", "en"}
    figsize : tuple of float

    Returns
    -------
    matplotlib.figure.Figure
    """
    lang = check_lang(lang)
    frame = _check_series(series)
    info = indicator_info(indicators, str(result["indicator"]), lang)
    means = _before_after_means(frame, result)

    fig, ax = new_figure(figsize)

    groups = [label("plot_before", lang), label("plot_after", lang)]
    x = np.arange(len(groups), dtype=float)
    bars = [("pilot", label("plot_pilot_short", lang), _PILOT, None)]
    if _has_comparison(result, frame):
        bars.append(("comparison", label("plot_comparison_short", lang), _COMPARISON, "//"))
    width = 0.8 / len(bars)
    for i, (key, text, colour, hatch) in enumerate(bars):
        values = [means[f"{key}_pre"], means[f"{key}_post"]]
        heights = [0.0 if _missing(v) else v for v in values]
        offset = (i - (len(bars) - 1) / 2) * width
        drawn = ax.bar(
            x + offset,
            heights,
            width * 0.95,
            color=colour,
            alpha=0.85,
            hatch=hatch,
            edgecolor="white",
            label=text,
        )
        for rect, value in zip(drawn, values, strict=True):
            ax.annotate(
                _format_value(value, info, lang),
                (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize="small",
            )

    ax.set_xticks(x, groups)
    _format_value_axis(ax, info, lang)
    ax.set_ylabel(_value_axis_label(info, lang))
    ax.margins(y=0.15)
    if info.kind == "rating":
        ax.set_ylim(0, 4.6)
    title = _chart_title("plot_before_after_title", frame, result, info, lang)
    ax.set_title(title, loc="left", fontsize="medium")
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    legend_below(fig, _axes_handles(ax), 2)
    return _finish(fig, ax)


def before_after_means(series: pd.DataFrame, result: Mapping | pd.Series) -> dict[str, float]:
    """The four means the before/after chart shows.

    Returns
    -------
    dict
        ``pilot_pre``, ``pilot_post`` (from the result row when it has them, else from the
        series), ``comparison_pre``, ``comparison_post`` (means of ``comparison_mean`` over the
        window's years; NaN when absent). With a comparison, the after means are over the
        years ``did`` averages (``did_years_used``) when the result gives them: when those are
        fewer than the post window's (a not-yet comparison whose units adopted), both the
        pilot's and the comparison's.
    """
    return _before_after_means(_check_series(series), result)


def _before_after_means(frame: pd.DataFrame, result: Mapping | pd.Series) -> dict[str, float]:
    """:func:`before_after_means` of a frame :func:`_check_series` has checked."""
    did_years = _did_years(result)
    out: dict[str, float] = {}
    for window, suffix in (("pre", "pre"), ("post", "post")):
        rows = frame[frame["window"] == window]
        from_result = result.get(f"{suffix}_mean") if hasattr(result, "get") else None
        if from_result is not None and not _missing(from_result):
            out[f"pilot_{suffix}"] = float(from_result)
        else:
            out[f"pilot_{suffix}"] = _mean(rows["pilot"])
        compared = frame[frame["year"].isin(did_years)]
        if suffix == "post" and did_years and _has_comparison(result, frame):
            # Only the years the estimate compares (later, a not-yet comparison's units had
            # adopted), for the pilot too when they are fewer than the window's.
            if set(did_years) != set(int(y) for y in rows["year"]):
                out["pilot_post"] = _mean(compared["pilot"])
            rows = compared
        out[f"comparison_{suffix}"] = _mean(rows["comparison_mean"])
    return out


def series_title(
    series: pd.DataFrame,
    result: Mapping | pd.Series,
    indicators: pd.DataFrame | None = None,
    lang: str = "vi",
) -> str:
    """The title of :func:`plot_series` (also for captions): "against the comparison group"
    only when one is drawn; a before/after-only pilot's title says that its change includes
    the province-wide change."""
    return _title("plot_series_title", series, result, indicators, lang)


def before_after_title(
    series: pd.DataFrame,
    result: Mapping | pd.Series,
    indicators: pd.DataFrame | None = None,
    lang: str = "vi",
) -> str:
    """The title of :func:`plot_before_after` (also for captions), as :func:`series_title`."""
    return _title("plot_before_after_title", series, result, indicators, lang)


def _title(key: str, series, result, indicators, lang: str) -> str:
    lang = check_lang(lang)
    info = indicator_info(indicators, str(result["indicator"]), lang)
    return _chart_title(key, _check_series(series), result, info, lang)


def _chart_title(key: str, frame: pd.DataFrame, result, info: IndicatorInfo, lang: str) -> str:
    """``key`` when the chart draws a comparison, else ``key + "_alone"`` (``frame`` checked by
    :func:`_check_series`: the charts pass theirs rather than check and look up twice)."""
    unit = str(result.get("unit_name", "") or "")
    if not _has_comparison(result, frame):
        key += "_alone"
    return label(key, lang, indicator=info.label, unit=unit)


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (without a timestamp, so equal figures give equal bytes).

    Lossless RGB, pixel for pixel what matplotlib draws (:func:`.drawing.png_bytes`).
    """
    return png_bytes(fig, dpi=dpi)


def figure_output(fig: Figure, name: str, alt: str, dpi: int = 100) -> tuple[dict, dict]:
    """A figure as a display bundle with alt text, for ``display(data, metadata=..., raw=True)``.

    The bundle holds an ``<img>`` with the PNG inline and the alt text (``text/html``:
    nbconvert and JupyterLab show it, so screen readers get the description; the runner
    extracts the PNG from its data URI by the ``kiemnhiem_figure`` name in the metadata) and
    the alt text as ``text/plain``. The PNG is not also sent as ``image/png``: nothing shows
    that copy when ``text/html`` is there, and sending the picture twice cost the kernel about
    0.12 CPU-s a report (issue 15).

    Returns
    -------
    (dict, dict)
        The data bundle and the metadata (``kiemnhiem_figure``).
    """
    png = figure_png(fig, dpi=dpi)
    encoded = base64.b64encode(png).decode("ascii")
    width = int(round(fig.get_figwidth() * dpi))
    # The runner reads the PNG back from this prefix (run.execute._INLINE_PNG; the test
    # test_figures_are_extracted_from_the_img_a_figure_output_sends_once holds the two together).
    img = (
        f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt, quote=True)}" '
        f'width="{width}" class="kn-figure" style="max-width:100%;height:auto;">'
    )
    data = {"text/html": img, "text/plain": alt}
    metadata = {"kiemnhiem_figure": name}
    return data, metadata


def series_alt(
    series: pd.DataFrame,
    result: Mapping | pd.Series,
    indicators: pd.DataFrame | None = None,
    lang: str = "vi",
) -> str:
    """Alt text for :func:`plot_series`: what is drawn and the numbers a reader would look for."""
    lang = check_lang(lang)
    frame = _check_series(series)
    info = indicator_info(indicators, str(result["indicator"]), lang)
    years = frame.loc[pd.to_numeric(frame["pilot"], errors="coerce").notna(), "year"]
    span = f"{int(years.min())}–{int(years.max())}" if len(years) else "–"
    _x, start_text, _exact = _start_position(result, lang)
    means = _before_after_means(frame, result)
    text = label(
        "plot_alt_series",
        lang,
        indicator=info.label,
        unit=str(result.get("unit_name", "") or ""),
        years=span,
        start=start_text or "–",
        before=_format_value(means["pilot_pre"], info, lang),
        after=_format_value(means["pilot_post"], info, lang),
    )
    if _has_comparison(result, frame):
        text += " " + label(
            "plot_alt_series_comparison",
            lang,
            before=_format_value(means["comparison_pre"], info, lang),
            after=_format_value(means["comparison_post"], info, lang),
        )
        _comp, after, until = _comparison_parts(frame, result)
        if np.isfinite(after).any():
            text += " " + label("plot_alt_comparison_until", lang, year=until)
    else:
        text += " " + label("plot_alt_alone", lang)
    limits = _value_limits(info, _drawn_values(frame, result))
    if limits is not None and limits[2]:
        text += " " + label("plot_alt_axis_break", lang)
    return text


# ---------------------------------------------------------------------------------------------
# Event study
# ---------------------------------------------------------------------------------------------

EVENT_STUDY_COLUMNS = (
    "event_time",
    "att",
    "se",
    "ci_low",
    "ci_high",
    "n_units",
    "base",
    "reliable",
)


def plot_event_study(
    frame: pd.DataFrame,
    indicator: str,
    indicators: pd.DataFrame | None = None,
    lang: str = "vi",
    *,
    unit_name: str = "",
    figsize: tuple[float, float] = (7.5, 4.2),
) -> Figure:
    """Effects by years since the first full year of the pilot, with their intervals.

    Parameters
    ----------
    frame : DataFrame
        From ``kiemnhiem.stats.eventstudy.event_study``: ``event_time`` (0 = the first full year),
        ``att``, ``se``, ``ci_low``, ``ci_high``, ``n_units``, ``base`` (True on the reference
        year, whose effect is 0 by construction; or that year's event time on every row) and
        ``reliable`` (False where too few units stand behind the estimate: drawn hollow).
    indicator : str
        Indicator code (name, unit and kind from ``indicators``).
    indicators : DataFrame, optional
        Indicator catalog.
    lang : {"vi", "en"}
    unit_name : str
        The pilot's name for a single pilot's chart; empty for a whole model.
    figsize : tuple of float

    Returns
    -------
    matplotlib.figure.Figure
    """
    lang = check_lang(lang)
    data = _check_event_study(frame)
    info = indicator_info(indicators, indicator, lang)

    fig, ax = new_figure(figsize)
    ax.axhline(0, color="#444444", linewidth=1, zorder=1)
    ax.axvline(
        -0.5,
        color="black",
        linewidth=1.2,
        linestyle="--",
        zorder=1,
        label=label("plot_es_first_full_year", lang),
    )

    x = np.asarray(data["event_time"], dtype=float)
    att, low, high = data["att"], data["ci_low"], data["ci_high"]
    base, reliable = data["base"], data["reliable"]
    finite = np.isfinite(att)

    groups = (
        (finite & ~base & reliable, _PILOT, _PILOT, "o", "plot_es_estimate"),
        (finite & ~base & ~reliable, "white", _TRANSITION, "o", "plot_es_unreliable"),
    )
    for mask, face, edge, marker, key in groups:
        if not mask.any():
            continue
        bounded = mask & np.isfinite(low) & np.isfinite(high)
        ax.vlines(x[bounded], low[bounded], high[bounded], color=edge, linewidth=1.6, zorder=2)
        ax.scatter(
            x[mask],
            att[mask],
            s=40,
            marker=marker,
            facecolors=face,
            edgecolors=edge,
            linewidths=1.4,
            zorder=3,
            label=label(key, lang),
        )
    if base.any():
        # Years between the reference year and year 0 are transition (anticipation) years.
        first_treated_side = float(x[base].max()) + 0.5
        if first_treated_side < -0.5:
            ax.axvspan(
                first_treated_side,
                -0.5,
                color=_TRANSITION,
                alpha=0.15,
                hatch="///",
                linewidth=0,
                zorder=0,
                label=label("plot_transition", lang),
            )
        ax.scatter(
            x[base],
            np.zeros(int(base.sum())),
            s=46,
            marker="D",
            color="black",
            zorder=3,
            label=label("plot_es_base", lang),
        )
    if (finite & ~base & ~(np.isfinite(low) & np.isfinite(high))).any():
        ax.text(
            0.99,
            0.99,
            label("plot_es_unbounded", lang),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize="x-small",
            color="#555555",
        )

    for xi, n in zip(x, data["n_units"], strict=True):
        if np.isfinite(n):
            ax.annotate(
                label("plot_es_n", lang, n=int(n)),
                (xi, 0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize="x-small",
                color="#555555",
            )

    if info.kind == "share":
        pp = label("report_pp", lang)
        ax.yaxis.set_major_locator(ShownAutoLocator())
        ax.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _p: f"{format_number(v * 100, lang, 0)} {pp}")
        )
        ax.set_ylabel(label("plot_es_axis_pp", lang))
    else:
        ax.yaxis.set_major_locator(ShownMaxNLocator(nbins=6))
        ax.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _p: format_number(v, lang, 0 if float(v).is_integer() else 1))
        )
        ax.set_ylabel(label("plot_es_axis", lang, unit=info.unit or "–"))
    ax.set_xlabel(label("plot_es_xlabel", lang))
    if len(x):
        ax.xaxis.set_major_locator(FixedLocator(sorted({float(v) for v in x})))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _event_time_text(v)))
        ax.set_xlim(x.min() - 0.6, x.max() + 0.6)
    ax.margins(y=0.2)
    if unit_name:
        title = label("plot_es_title_unit", lang, indicator=info.label, unit=unit_name)
    else:
        title = label("plot_es_title", lang, indicator=info.label)
    ax.set_title(title, loc="left", fontsize="medium")
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    legend_below(fig, _axes_handles(ax), 2)
    return _finish(fig, ax)


def event_study_alt(
    frame: pd.DataFrame, indicator: str, indicators: pd.DataFrame | None = None, lang: str = "vi"
) -> str:
    """Alt text for :func:`plot_event_study`: the effect in each year after the start."""
    lang = check_lang(lang)
    data = _check_event_study(frame)
    info = indicator_info(indicators, indicator, lang)
    after = (data["event_time"] >= 0) & np.isfinite(data["att"])
    parts = [
        label(
            "plot_alt_es_year",
            lang,
            year=int(event_time),
            value=_format_effect(float(att), info, lang),
        )
        for event_time, att in zip(data["event_time"][after], data["att"][after], strict=True)
    ]
    return label(
        "plot_alt_es", lang, indicator=info.label, values="; ".join(parts) if parts else "–"
    )


def _check_event_study(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The event-study frame's columns as arrays, rows in event-time order: ``event_time``;
    ``att``, ``se``, ``ci_low``, ``ci_high`` and ``n_units`` as floats (NaN where not a
    number); ``base`` (True on the reference year, however the frame gives it) and
    ``reliable`` as bools (missing: False).

    Arrays rather than a checked copy of the frame: sorting, copying and converting it column
    by column in pandas cost about 7 ms a figure, called for each chart and each alt text,
    for frames that ``event_study`` already returns sorted and typed; those are read as they
    are, any other goes through pandas' conversions as before.
    """
    missing = [c for c in EVENT_STUDY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"event-study frame lacks columns: {', '.join(missing)}")
    times = frame["event_time"]
    if not (times.is_monotonic_increasing and times.is_unique):
        frame = frame.sort_values("event_time")
    data = {"event_time": frame["event_time"].to_numpy()}
    for col in ("att", "se", "ci_low", "ci_high", "n_units"):
        data[col] = _floats(frame[col])
    base = frame["base"]
    if base.dtype == bool or str(base.dtype) == "boolean":
        data["base"] = _bools(base)
    else:
        # The reference year's event time, repeated on every row.
        numbers = pd.to_numeric(base, errors="coerce")
        data["base"] = _bools(numbers == frame["event_time"])
    data["reliable"] = _bools(frame["reliable"])
    return data


def _floats(values: pd.Series) -> np.ndarray:
    """``pd.to_numeric(values, errors="coerce")`` as floats, without pandas for numbers."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiu":
        return values.to_numpy(dtype=float)
    return pd.to_numeric(values, errors="coerce").astype(float).to_numpy()


def _bools(values: pd.Series) -> np.ndarray:
    """``values.fillna(False).astype(bool)`` as an array, without pandas for numpy bools."""
    if values.dtype == np.dtype(bool):
        return values.to_numpy()
    return values.fillna(False).astype(bool).to_numpy()


def _event_time_text(value: float) -> str:
    k = int(round(value))
    return "0" if k == 0 else ("+" if k > 0 else "−") + str(abs(k))


def _format_effect(value: float, info: IndicatorInfo, lang: str) -> str:
    if _missing(value):
        return "–"
    if info.kind == "share":
        return f"{format_signed(value * 100, lang, 1)} {label('report_pp', lang)}"
    return format_signed(value, lang, 2 if info.kind == "rating" else 1)


# ---------------------------------------------------------------------------------------------
# Start dates of every pilot
# ---------------------------------------------------------------------------------------------

# Okabe-Ito colours and distinct marker shapes, one per model (readable in black and white).
_MODEL_STYLES = (
    ("#0072B2", "o"),
    ("#D55E00", "s"),
    ("#009E73", "^"),
    ("#CC79A7", "D"),
    ("#E69F00", "v"),
    ("#56B4E9", "P"),
)


def plot_start_dates(
    pilots: pd.DataFrame,
    units: pd.DataFrame,
    models: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    lang: str = "vi",
    *,
    last_year: int | None = None,
    data_end=None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Every pilot's start on one chart: one row per unit, one marker shape per model.

    A start known to the day is a point; one known to the month or the year is a bar over that
    month or year with its marker in the middle. Documented starts are filled, approximate and
    assumed ones hollow. A thin line runs from the start to the pilot's end (or to the chart's
    end while it runs).

    Parameters
    ----------
    pilots : DataFrame
        ``dataset.pilots`` (``unit_code``, ``model``, ``start``, ``start_precision``,
        ``start_status``, ``end``).
    units : DataFrame
        ``dataset.units`` (``unit_code``, ``unit_name``): every unit gets a row, pilots or not.
    models : DataFrame, optional
        Model catalog, for the legend's names.
    events : DataFrame, optional
        Timeline markers, numbered as in :func:`plot_series`.
    lang : {"vi", "en"}
    last_year : int, optional
        The chart runs to the end of this year (default: two years after the last start).
    data_end : date, optional
        The last day the data cover (``dataset.data_end``): running pilots' lines stop there.
    figsize : tuple of float, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    lang = check_lang(lang)
    pil = pilots.copy()
    pil["start"] = pd.to_datetime(pil["start"])
    pil["end"] = pd.to_datetime(pil["end"]) if "end" in pil.columns else pd.NaT
    unit_rows = units.sort_values("unit_code").reset_index(drop=True)
    codes = [str(c) for c in unit_rows["unit_code"]]
    names = [str(n) for n in unit_rows["unit_name"]]
    model_codes = list(dict.fromkeys(str(m) for m in pil["model"]))

    starts = pil["start"].dropna()
    first = int(starts.dt.year.min()) - 1 if len(starts) else 2015
    last = (
        int(last_year)
        if last_year is not None
        else (int(starts.dt.year.max()) + 2 if len(starts) else first + 5)
    )
    lo, hi = float(first), float(last + 1)
    stop = min(hi, _decimal_date(data_end)) if data_end is not None else hi
    marks = _events_within(events, range(first, last + 1), centred=False)
    # Rows of units, then one legend row per model, status and event.
    n_legend = len(model_codes) + 3 + len(marks)
    height = figsize[1] if figsize else 1.2 + 0.34 * max(len(codes), 1) + 0.2 * n_legend
    fig, ax = new_figure((figsize[0] if figsize else 7.5, height))

    row_of = {code: i for i, code in enumerate(codes)}
    k = len(model_codes)
    offsets = {m: (j - (k - 1) / 2) * (0.5 / max(k, 1)) for j, m in enumerate(model_codes)}
    handles = []
    for j, model in enumerate(model_codes):
        colour, marker = _MODEL_STYLES[j % len(_MODEL_STYLES)]
        rows = pil[pil["model"] == model]
        for rec in rows.itertuples(index=False):
            code = str(rec.unit_code)
            if code not in row_of or pd.isna(rec.start):
                continue
            y = row_of[code] + offsets[model]
            left, right = _date_span(rec.start, str(rec.start_precision))
            centre = (left + right) / 2
            end = _decimal_date(rec.end) if not pd.isna(rec.end) else stop
            ax.plot([centre, min(end, hi)], [y, y], color=colour, linewidth=1, alpha=0.5, zorder=1)
            if right - left > 0.005:
                ax.plot(
                    [left, right],
                    [y, y],
                    color=colour,
                    linewidth=5,
                    alpha=0.35,
                    solid_capstyle="butt",
                    zorder=2,
                )
            documented = str(rec.start_status) == "documented"
            ax.scatter(
                [centre],
                [y],
                marker=marker,
                s=46,
                zorder=3,
                linewidths=1.5,
                facecolors=colour if documented else "white",
                edgecolors=colour,
            )
        handles.append(
            Line2D(
                [],
                [],
                color=colour,
                marker=marker,
                linestyle="none",
                markersize=7,
                label=_model_name(models, model, lang),
            )
        )
    handles += [
        Line2D(
            [],
            [],
            color="#555555",
            marker="o",
            linestyle="none",
            markersize=7,
            label=label("plot_starts_documented", lang),
        ),
        Line2D(
            [],
            [],
            color="#555555",
            marker="o",
            markerfacecolor="white",
            linestyle="none",
            markersize=7,
            label=label("plot_starts_uncertain", lang),
        ),
        Line2D(
            [],
            [],
            color="#555555",
            linewidth=5,
            alpha=0.35,
            label=label("plot_starts_precision", lang),
        ),
    ]
    handles += _draw_events(ax, marks, lang)

    ax.set_yticks(range(len(codes)), names)
    ax.set_ylim(len(codes) - 0.5, -0.5)
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator([float(y) for y in range(first, last + 2)]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{int(round(v))}"))
    ax.set_xlabel(label("plot_year", lang))
    ax.set_title(label("plot_starts_title", lang), loc="left", fontsize="medium")
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    legend_below(fig, handles, 1, _EVENT_HANDLERS)
    return _finish(fig, ax)


def start_dates_alt(
    pilots: pd.DataFrame, units: pd.DataFrame, models: pd.DataFrame | None = None, lang: str = "vi"
) -> str:
    """Alt text for :func:`plot_start_dates`: each model's pilots and their starts."""
    lang = check_lang(lang)
    names = dict(zip(units["unit_code"].astype(str), units["unit_name"].astype(str)))
    parts = []
    for model in dict.fromkeys(str(m) for m in pilots["model"]):
        rows = pilots[pilots["model"] == model].sort_values("start")
        starts = "; ".join(
            f"{names.get(str(r.unit_code), str(r.unit_code))} "
            f"{format_day(pd.Timestamp(r.start).date(), lang, str(r.start_precision))}"
            for r in rows.itertuples(index=False)
            if not pd.isna(r.start)
        )
        parts.append(
            label(
                "plot_alt_starts_model",
                lang,
                model=_model_name(models, model, lang),
                n=len(rows),
                starts=starts,
            )
        )
    return label("plot_alt_starts", lang) + " " + " ".join(parts)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _axes_handles(ax) -> list:
    handles, _labels = ax.get_legend_handles_labels()
    return handles


def _finish(fig: Figure, ax) -> Figure:
    _literal_text(fig)
    place_axes(fig, ax)
    return fig


def _literal_text(fig: Figure) -> Figure:
    """Every text of ``fig`` shown as typed, never read as mathtext: names from the data
    (events, indicators, models) may hold ``$``, which would garble the text or, with an
    unknown command such as ``$\\foo$``, make drawing the figure fail. The legend's are already
    (:func:`.drawing.legend_below`), and not walked: the legend may be a stand-in, which
    would build itself to show its texts."""
    for child in fig.get_children():
        if any(child is legend for legend in fig.legends):
            continue
        for text in child.findobj(Text):
            text.set_parse_math(False)
    return fig


def _check_series(series: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in SERIES_COLUMNS if c not in series.columns]
    if missing:
        raise ValueError(f"series frame lacks columns: {', '.join(missing)}")
    frame = series.sort_values("year").reset_index(drop=True).copy()
    frame["window"] = frame["window"].fillna("").astype(str)
    frame["partial"] = frame["partial"].fillna(False).astype(bool)
    return frame


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(math.isnan(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _mean(values: pd.Series) -> float:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return float(numbers.mean()) if len(numbers) else float("nan")


def _has_comparison(result: Mapping | pd.Series, frame: pd.DataFrame) -> bool:
    comparison = result.get("comparison") if hasattr(result, "get") else None
    if isinstance(comparison, str) and comparison.strip().lower() in ("none", ""):
        return False
    return bool(pd.to_numeric(frame["comparison_mean"], errors="coerce").notna().any())


def _comparison_size(result: Mapping | pd.Series, frame: pd.DataFrame) -> int:
    value = result.get("n_comparison") if hasattr(result, "get") else None
    if value is not None and not _missing(value):
        return int(value)
    sizes = pd.to_numeric(frame["n_comparison"], errors="coerce").dropna()
    return int(sizes.max()) if len(sizes) else 0


def _did_years(result: Mapping | pd.Series) -> list[int]:
    """The years ``did`` averages (``did_years_used``: "2019;2020", a list, or missing)."""
    value = result.get("did_years_used") if hasattr(result, "get") else None
    if value is None or (not isinstance(value, str) and _missing(value)):
        return []
    parts = value.split(";") if isinstance(value, str) else list(value)
    years = []
    for part in parts:
        try:
            years.append(int(str(part).strip()))
        except ValueError:
            continue
    return sorted(years)


def _not_yet(result: Mapping | pd.Series) -> bool:
    comparison = result.get("comparison") if hasattr(result, "get") else None
    return isinstance(comparison, str) and comparison.strip().lower() == "notyet"


def _compared(frame: pd.DataFrame, result: Mapping | pd.Series) -> np.ndarray:
    """Per row: the comparison mean is a comparison that year (up to the last year ``did``
    averages; every year when the result does not say which)."""
    years = _did_years(result)
    if not years:
        return np.ones(len(frame), dtype=bool)
    return (frame["year"] <= max(years)).to_numpy()


def _comparison_parts(
    frame: pd.DataFrame, result: Mapping | pd.Series
) -> tuple[np.ndarray, np.ndarray, int | None]:
    """The comparison mean split into the years it is a comparison and the years after the
    last one (NaN elsewhere), and that last year."""
    comp = pd.to_numeric(frame["comparison_mean"], errors="coerce").to_numpy(dtype=float)
    compared = _compared(frame, result)
    years = _did_years(result)
    return (
        np.where(compared, comp, np.nan),
        np.where(compared, np.nan, comp),
        max(years) if years else None,
    )


def _drawn_values(frame: pd.DataFrame, result: Mapping | pd.Series) -> np.ndarray:
    """Every value :func:`plot_series` draws on the value axis."""
    values = [pd.to_numeric(frame["pilot"], errors="coerce").to_numpy(dtype=float)]
    if _has_comparison(result, frame):
        values.append(pd.to_numeric(frame["comparison_mean"], errors="coerce").to_numpy(float))
        if "counterfactual" in frame.columns:
            inside = (frame["window"] != "").to_numpy() & _compared(frame, result)
            counter = pd.to_numeric(frame["counterfactual"], errors="coerce").to_numpy(float)
            values.append(np.where(inside, counter, np.nan))
    return np.concatenate(values)


def _value_limits(info: IndicatorInfo, values: np.ndarray) -> tuple[float, float, bool] | None:
    """``(bottom, top, broken)`` of the value axis for quantities counted from zero.

    From zero when the values vary enough to be seen there; otherwise a broken axis (the
    caller marks the break and says «the axis does not start at 0») that spans at least
    ``_MIN_SPAN`` of the largest value, the values in its middle. None: leave the axis to
    matplotlib (ratings, values below zero, no values).
    """
    if info.kind not in _FROM_ZERO:
        return None
    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    lo, hi = float(finite.min()), float(finite.max())
    if lo < 0 or hi <= 0:
        return None
    cap = 1.05 if info.kind == "share" and hi <= 1 else math.inf
    if hi - lo >= _ZERO_SHARE * hi:
        return 0.0, min(hi * 1.12, cap), False
    span = max(hi - lo, _MIN_SPAN * hi)
    centre = (hi + lo) / 2
    bottom, top = centre - 0.55 * span, centre + 0.62 * span
    if bottom <= 0:
        return 0.0, min(top, cap), False
    return bottom, min(top, cap), True


def _fit_value_axis(ax, info: IndicatorInfo, values: np.ndarray, lang: str) -> None:
    limits = _value_limits(info, values)
    if limits is None:
        return
    bottom, top, broken = limits
    ax.set_ylim(bottom, top)
    if broken:
        _draw_axis_break(ax, lang)


def _draw_axis_break(ax, lang: str) -> None:
    """Two slanted strokes across the foot of the value axis, and the words."""
    for y in (0.035, 0.06):
        ax.plot(
            [-0.018, 0.018],
            [y - 0.014, y + 0.014],
            transform=ax.transAxes,
            color="black",
            linewidth=1.1,
            clip_on=False,
            zorder=7,
        )
    ax.text(
        0.03,
        0.015,
        label("plot_axis_break", lang),
        transform=ax.transAxes,
        ha="left",
        va="bottom",
        fontsize="x-small",
        color="#222222",
        zorder=7,
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"},
    )


def _markers(ax, years, values, partial, colour, marker):
    full = ~partial & np.isfinite(values)
    part = partial & np.isfinite(values)
    ax.scatter(years[full], values[full], color=colour, marker=marker, s=28, zorder=4)
    ax.scatter(
        years[part],
        values[part],
        facecolors="white",
        edgecolors=colour,
        marker=marker,
        s=34,
        linewidths=1.4,
        zorder=5,
    )


def _shade_windows(ax, frame: pd.DataFrame, lang: str) -> list:
    handles = []
    windows = frame["window"].to_numpy(dtype=object)
    all_years = frame["year"].to_numpy()
    for window, colour, hatch, key in (
        ("pre", _PRE, None, "plot_pre_window"),
        ("transition", _TRANSITION, "///", "plot_transition"),
        ("post", _POST, None, "plot_post_window"),
    ):
        # One band per run of consecutive years, so a dropped year inside a window shows.
        years = sorted(int(y) for y in all_years[windows == window])
        if not years:
            continue
        runs: list[list[int]] = []
        for year in years:
            if runs and year == runs[-1][-1] + 1:
                runs[-1].append(year)
            else:
                runs.append([year])
        for run in runs:
            ax.axvspan(
                run[0] - 0.5,
                run[-1] + 0.5,
                color=colour,
                alpha=0.15,
                hatch=hatch,
                linewidth=0,
                zorder=0,
            )
        handles.append(Patch(facecolor=colour, alpha=0.3, hatch=hatch, label=label(key, lang)))
    return handles


def _start_position(result: Mapping | pd.Series, lang: str) -> tuple[float | None, str, bool]:
    """x of the start line, its date as text, and whether the date is known within the year.

    Year Y is drawn centred on Y, covering [Y - 0.5, Y + 0.5). A start known only to the year
    is drawn (dashed) mid-year: 1 January would claim a precision the data do not have.
    """
    start = result.get("start") if hasattr(result, "get") else None
    if start is None or _missing_date(start):
        return None, "", False
    stamp = pd.Timestamp(start)
    precision = result.get("start_precision", "day") if hasattr(result, "get") else "day"
    if not isinstance(precision, str) or precision not in ("day", "month", "year"):
        precision = "day"
    text = format_day(stamp.date(), lang, precision)
    if precision == "year":
        return float(stamp.year), text, False
    days = 366 if stamp.is_leap_year else 365
    return stamp.year - 0.5 + (stamp.day_of_year - 1) / days, text, True


def _missing_date(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _year_ticks(years: np.ndarray) -> list[float]:
    first, last = int(years.min()), int(years.max())
    step = 1 if last - first <= 14 else 2
    return [float(y) for y in range(first, last + 1, step)]


def _value_axis_label(info: IndicatorInfo, lang: str) -> str:
    if info.kind == "share":
        return label("plot_share_axis", lang)
    return info.unit or ""


def _format_value(value: float, info: IndicatorInfo, lang: str) -> str:
    if _missing(value):
        return "–"
    if info.kind == "share":
        return format_percent(value, lang, 1)
    if info.kind == "rating":
        return format_number(value, lang, 2)
    return format_number(value, lang, 1 if abs(value) < 100 else 0)


def _format_value_axis(ax, info: IndicatorInfo, lang: str) -> None:
    if info.kind == "share":
        ax.yaxis.set_major_locator(ShownAutoLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_percent(v, lang, 0)))
    elif info.kind == "rating":
        ax.set_ylim(0.5, 4.5)
        ax.yaxis.set_major_locator(FixedLocator([1, 2, 3, 4]))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_number(v, lang, 0)))
    else:
        # Head-counts and counts: whole-number ticks (never "7,5 người").
        ax.yaxis.set_major_locator(ShownMaxNLocator(nbins=6, integer=info.kind in _WHOLE))
        ax.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _p: format_number(v, lang, 0 if float(v).is_integer() else 1))
        )


def _model_name(models: pd.DataFrame | None, code: str, lang: str) -> str:
    return model_label(models, code, lang)


def _decimal_date(value) -> float:
    """A date as a decimal year on a date axis (1 January of Y is Y)."""
    stamp = pd.Timestamp(value)
    days = 366 if stamp.is_leap_year else 365
    return stamp.year + (stamp.day_of_year - 1) / days


def _date_span(start, precision: str) -> tuple[float, float]:
    """The stretch of time a start date given at ``precision`` may fall in."""
    stamp = pd.Timestamp(start)
    if precision == "year":
        return float(stamp.year), float(stamp.year + 1)
    if precision == "month":
        following = (stamp + pd.offsets.MonthBegin(1)).normalize()
        right = _decimal_date(following) if following.year == stamp.year else stamp.year + 1.0
        return _decimal_date(stamp.replace(day=1)), right
    x = _decimal_date(stamp)
    return x, x


def _events_within(events: pd.DataFrame | None, years, *, centred: bool) -> list[tuple]:
    """``(x, date, label_vi, label_en)`` of the events inside the chart's years, by date.

    ``centred``: the series charts draw year Y centred on Y (covering Y - 0.5 to Y + 0.5); the
    start-date chart puts 1 January of Y at Y.
    """
    if events is None or len(events) == 0 or "date" not in events.columns:
        return []
    values = [int(y) for y in years]
    if not values:
        return []
    lo, hi = min(values), max(values)
    out = []
    for rec in events.sort_values("date").itertuples(index=False):
        if pd.isna(rec.date):
            continue
        stamp = pd.Timestamp(rec.date)
        if not lo <= stamp.year <= hi:
            continue
        x = _decimal_date(stamp) - (0.5 if centred else 0.0)
        out.append((x, stamp, str(getattr(rec, "label_vi", "")), str(getattr(rec, "label_en", ""))))
    return out


def _draw_events(ax, marks: list[tuple], lang: str) -> list:
    """Numbered dotted lines for the events; returns their legend entries."""
    handles = []
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    last_x, level = None, 0
    for i, (x, stamp, text_vi, text_en) in enumerate(marks, start=1):
        ax.axvline(x, color="#666666", linewidth=0.9, linestyle=":", zorder=1)
        # Events close together get their numbers stacked, not overprinted.
        level = level + 1 if last_x is not None and x - last_x < 0.45 else 0
        last_x = x
        ax.text(
            x,
            0.985 - 0.075 * level,
            str(i),
            transform=transform,
            ha="center",
            va="top",
            fontsize="x-small",
            color="#222222",
            zorder=6,
            bbox={
                "boxstyle": "round,pad=0.2",
                "facecolor": "white",
                "edgecolor": "#666666",
                "linewidth": 0.6,
            },
        )
        name = text_vi if lang == "vi" else text_en
        handles.append(
            _EventNumber(
                i, label("plot_event", lang, date=format_day(stamp.date(), lang), name=name)
            )
        )
    return handles


class _EventNumber(Artist):
    """A legend entry for an event: its symbol is the event's number (:class:`_NumberHandler`)."""

    def __init__(self, number: int, text: str):
        super().__init__()
        self.number = number
        self.set_label(text)

    def get_number(self) -> int:
        """The number drawn as its symbol (part of the legend's cache key, report.drawing)."""
        return self.number


class _NumberHandler(HandlerBase):
    """Draws an event's number, bold, as the legend symbol.

    A mathtext marker (``marker="$1$"``) drew the same digit as a filled glyph outline, but
    built that outline (a mathtext parse and a Bézier path) for every entry of every figure,
    a tenth of a series chart's cost; text is drawn like the rest of the legend. At 11
    points a bold digit is as tall as the former marker (7 points and its outline).
    """

    def update_prop(self, legend_handle, orig_handle, legend):
        pass  # nothing to copy from the entry: the number's look is fixed here

    def create_artists(
        self, legend, orig_handle, xdescent, ydescent, width, height, fontsize, trans
    ):
        return [
            Text(
                width / 2 - xdescent,
                height / 2 - ydescent,
                str(orig_handle.number),
                ha="center",
                va="center",
                fontsize=11,
                fontweight="bold",
                color="#222222",
                transform=trans,
            )
        ]


#: Legend handlers for the events' entries (:func:`_draw_events`).
_EVENT_HANDLERS = {_EventNumber: _NumberHandler()}
