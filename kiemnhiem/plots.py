"""Figures built from result frames, returned as matplotlib ``Figure`` objects.

Nothing here shows or saves a figure: the notebook (or the caller) decides where it goes. The
object-oriented API (:class:`matplotlib.figure.Figure`) is used throughout, never pyplot's
global state, so the module is safe in worker processes and with any backend. Every piece of
text comes from :func:`kiemnhiem.labels.label` or from the indicator catalog; DejaVu Sans,
matplotlib's default font, renders Vietnamese diacritics.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from .labels import check_lang, format_day, format_number, format_percent, label
from .tables import IndicatorInfo, indicator_info

# Colours from the Okabe-Ito palette: distinguishable with common colour-vision deficiencies.
_PILOT = "#0072B2"
_COMPARISON = "#D55E00"
_PRE = "#56B4E9"
_POST = "#009E73"
_TRANSITION = "#999999"

SERIES_COLUMNS = ("year", "pilot", "comparison_mean", "n_comparison", "window", "partial")


def plot_series(
    series: pd.DataFrame,
    result: Mapping | pd.Series,
    indicators: pd.DataFrame | None = None,
    lang: str = "vi",
    *,
    figsize: tuple[float, float] = (7.5, 4.6),
) -> Figure:
    """The pilot's yearly values against the comparison mean, windows shaded, start marked.

    Parameters
    ----------
    series : DataFrame
        From :func:`kiemnhiem.evaluation.pilot_series`: ``year``, ``pilot``,
        ``comparison_mean``, ``n_comparison``, ``window`` ("pre", "transition", "post" or
        ""), ``partial`` (bool); optional ``counterfactual`` (drawn dotted over the windows).
    result : Series or mapping
        The pilot's row for this indicator from :func:`~kiemnhiem.evaluation.evaluate_pilot`
        (uses ``indicator``, ``unit_name``, ``start``, ``comparison``, ``n_comparison`` and,
        when present, ``start_precision``).
    indicators : DataFrame, optional
        Indicator catalog (``dataset.indicators``) for the indicator's name, unit and kind;
        without it the code is shown and values are plotted as plain numbers.
    lang : {"vi", "en"}
    figsize : tuple of float
        Inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    lang = check_lang(lang)
    frame = _check_series(series)
    info = indicator_info(indicators, str(result["indicator"]), lang)
    unit_name = str(result.get("unit_name", "") or "")

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

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
        comp = frame["comparison_mean"].to_numpy(dtype=float)
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

    if has_comparison and "counterfactual" in frame.columns:
        # Where the pilot would be had it moved like the comparison units (the estimate's
        # counterfactual), drawn over the windows only.
        inside = (frame["window"] != "").to_numpy()
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
        label("plot_series_title", lang, indicator=info.label, unit=unit_name),
        loc="left",
        fontsize="medium",
    )
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    line_handles, _ = ax.get_legend_handles_labels()
    extra = [h for h in handles if h not in line_handles]
    fig.legend(
        handles=line_handles + extra,
        loc="outside lower center",
        ncols=3,
        fontsize="small",
        frameon=False,
    )
    return fig


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
    means = before_after_means(frame, result)

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

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
    ax.set_title(
        label(
            "plot_before_after_title",
            lang,
            indicator=info.label,
            unit=str(result.get("unit_name", "") or ""),
        ),
        loc="left",
        fontsize="medium",
    )
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.legend(loc="outside lower center", ncols=2, fontsize="small", frameon=False)
    return fig


def before_after_means(series: pd.DataFrame, result: Mapping | pd.Series) -> dict[str, float]:
    """The four means the before/after chart shows.

    Returns
    -------
    dict
        ``pilot_pre``, ``pilot_post`` (from the result row when it has them, else from the
        series), ``comparison_pre``, ``comparison_post`` (means of ``comparison_mean`` over the
        window's years; NaN when absent).
    """
    frame = _check_series(series)
    out: dict[str, float] = {}
    for window, suffix in (("pre", "pre"), ("post", "post")):
        rows = frame[frame["window"] == window]
        from_result = result.get(f"{suffix}_mean") if hasattr(result, "get") else None
        if from_result is not None and not _missing(from_result):
            out[f"pilot_{suffix}"] = float(from_result)
        else:
            out[f"pilot_{suffix}"] = _mean(rows["pilot"])
        out[f"comparison_{suffix}"] = _mean(rows["comparison_mean"])
    return out


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (without a timestamp, so equal figures give equal bytes)."""
    buffer = io.BytesIO()
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


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


def _span(frame: pd.DataFrame, window: str) -> tuple[float, float] | None:
    years = frame.loc[frame["window"] == window, "year"]
    if years.empty:
        return None
    return float(years.min()) - 0.5, float(years.max()) + 0.5


def _shade_windows(ax, frame: pd.DataFrame, lang: str) -> list:
    handles = []
    for window, colour, hatch, key in (
        ("pre", _PRE, None, "plot_pre_window"),
        ("transition", _TRANSITION, "///", "plot_transition"),
        ("post", _POST, None, "plot_post_window"),
    ):
        span = _span(frame, window)
        if span is None:
            continue
        # One band per run of consecutive years, so a dropped year inside a window shows.
        years = sorted(int(y) for y in frame.loc[frame["window"] == window, "year"])
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
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_percent(v, lang, 0)))
    elif info.kind == "rating":
        ax.set_ylim(0.5, 4.5)
        ax.yaxis.set_major_locator(FixedLocator([1, 2, 3, 4]))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_number(v, lang, 0)))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _p: format_number(v, lang, 0 if float(v).is_integer() else 1))
        )
