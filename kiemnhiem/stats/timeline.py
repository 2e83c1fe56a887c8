"""Time conventions: calendar years, partial years, pilot windows, the unit x year matrix.

Everything here follows DESIGN.md, "Time conventions":

- values are aggregated to calendar years by the indicator's ``aggregate`` (sum, mean, last);
- a year with incomplete coverage (months or quarters missing, or reaching past the dataset's
  ``data_end``) is *partial*: flows (sum, mean) of partial years are left out (value NaN),
  stocks (last) keep their last value, which is still a valid reading of the stock;
- T is the calendar year of a pilot's start; ``g`` (first full year) is T only when the start is
  given to the day and is 1 January, else T + 1 and T is the transition year;
- the pre window is the ``pre_years`` years before T, the post window the ``post_years`` years
  from ``g``, cut at the year before ``end``; a unit is treated from T until the year before
  its end year.

The functions are pure: they copy their inputs, do no I/O and print nothing.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

import numpy as np
import pandas as pd

from ..exceptions import ParameterError
from ..labels import both

Precision = Literal["day", "month", "year"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
WindowPart = Literal["pre", "transition", "post", ""]

FLOW_AGGREGATES = ("sum", "mean")
_FREQ_RANK = {"year": 0, "quarter": 1, "month": 2}
_FREQ_PERIODS = {"year": 1, "quarter": 4, "month": 12}
ANNUAL_COLUMNS = ("unit_code", "indicator", "year", "value", "partial", "freq")


# --------------------------------------------------------------------------- annual panel
def annual_panel(dataset) -> pd.DataFrame:
    """Aggregate a dataset's panel to calendar years.

    Parameters
    ----------
    dataset : Dataset
        Uses ``panel``, ``indicators`` (``code``, ``aggregate``) and ``data_end``.

    Returns
    -------
    DataFrame
        One row per unit x indicator x year with data: ``unit_code``, ``indicator``, ``year``
        (int), ``value`` (float; NaN for flows of partial years), ``partial`` (bool), ``freq``
        (the frequency the year was built from). Sorted by indicator, unit and year.

    See Also
    --------
    aggregate_years : the same on bare frames.
    """
    entry = _REUSED.get(id(dataset))
    if entry is not None and entry[0] is dataset:
        if entry[1] is None:
            entry[1] = aggregate_years(dataset.panel, dataset.indicators, dataset.data_end)
        return entry[1]
    return aggregate_years(dataset.panel, dataset.indicators, dataset.data_end)


#: Datasets whose annual panel is being reused (:func:`reusing_annual_panel`): id -> [the
#: dataset (kept alive, so that its id is not reused meanwhile), its annual panel or None].
_REUSED: dict[int, list] = {}


@contextmanager
def reusing_annual_panel(dataset):
    """Within the block, :func:`annual_panel` of ``dataset`` is computed once and shared.

    A report's set-up asks for it once per indicator and per profile (about 0.03 s each on the
    demo, half a second a report). The dataset must not change inside the block; callers
    never modify the frame (they filter it into new ones).
    """
    key = id(dataset)
    outer = key not in _REUSED
    if outer:
        _REUSED[key] = [dataset, None]
    try:
        yield
    finally:
        if outer:
            _REUSED.pop(key, None)


def aggregate_years(
    panel: pd.DataFrame, indicators: pd.DataFrame, data_end: date | None = None
) -> pd.DataFrame:
    """Aggregate a long panel (``Dataset.panel`` columns) to calendar years.

    When one unit-indicator-year is given at several frequencies, the coarsest wins (an annual
    figure over quarters, quarters over months): an analyst who types the annual total means it.
    Rows without a value do not cover their period. Duplicate periods keep the last row.
    """
    cols = ["unit_code", "indicator", "freq", "year", "sub", "value"]
    p = panel.loc[:, cols].copy()
    p = p[p["value"].notna()]
    aggregates = indicators.set_index("code")["aggregate"]
    unknown = sorted(set(p["indicator"]) - set(aggregates.index))
    if unknown:
        vi, en = both("eval_err_unknown_indicator", indicator=", ".join(unknown))
        raise ParameterError(vi, en)
    p["aggregate"] = p["indicator"].map(aggregates).astype(str)
    p["year"] = p["year"].astype(int)
    p["sub"] = p["sub"].astype(int)
    p["value"] = p["value"].astype(float)
    p["rank"] = p["freq"].map(_FREQ_RANK).astype(int)
    keys = ["unit_code", "indicator", "year"]
    p = p[p["rank"] == p.groupby(keys)["rank"].transform("min")]
    p = p.drop_duplicates([*keys, "sub"], keep="last").sort_values([*keys, "sub"])
    grouped = p.groupby(keys, sort=True)
    out = grouped.agg(
        freq=("freq", "first"),
        aggregate=("aggregate", "first"),
        n=("sub", "nunique"),
        total=("value", "sum"),
        mean=("value", "mean"),
        last=("value", "last"),
    ).reset_index()
    if out.empty:
        return pd.DataFrame(
            {
                "unit_code": pd.Series(dtype=str),
                "indicator": pd.Series(dtype=str),
                "year": pd.Series(dtype=int),
                "value": pd.Series(dtype=float),
                "partial": pd.Series(dtype=bool),
                "freq": pd.Series(dtype=str),
            }
        )
    complete = out["n"].to_numpy() == out["freq"].map(_FREQ_PERIODS).to_numpy()
    if data_end is not None:
        end = pd.Timestamp(data_end)
        # A year is covered only if the data reach its 31 December.
        covered = (out["year"].to_numpy() < end.year) | (
            (out["year"].to_numpy() == end.year) & (end.month == 12) & (end.day == 31)
        )
        complete = complete & covered
    partial = ~complete
    agg = out["aggregate"].to_numpy()
    value = np.where(
        agg == "sum", out["total"], np.where(agg == "mean", out["mean"], out["last"])
    ).astype(float)
    is_flow = np.isin(agg, FLOW_AGGREGATES)
    value[partial & is_flow] = np.nan
    result = pd.DataFrame(
        {
            "unit_code": out["unit_code"].astype(str),
            "indicator": out["indicator"].astype(str),
            "year": out["year"].astype(int),
            "value": value,
            "partial": partial,
            "freq": out["freq"].astype(str),
        }
    )
    return result.sort_values(["indicator", "unit_code", "year"]).reset_index(drop=True)


# --------------------------------------------------------------------------- windows
def first_full_year(start, precision: str) -> int:
    """``g``: the start year when the start is 1 January given to the day, else the next year.

    A start given by month or year is never read as 1 January.
    """
    precision = check_precision(precision)
    ts = pd.Timestamp(start)
    if precision == "day" and ts.month == 1 and ts.day == 1:
        return int(ts.year)
    return int(ts.year) + 1


def check_precision(precision: str) -> Precision:
    if precision not in PRECISIONS:
        vi, en = both("eval_err_precision", value=precision, choices=", ".join(PRECISIONS))
        raise ParameterError(vi, en)
    return precision  # type: ignore[return-value]


def check_years(pre_years: int, post_years: int) -> tuple[int, int]:
    """Window lengths must be positive integers (papermill may pass them as floats)."""
    out = []
    for value in (pre_years, post_years):
        ok = isinstance(value, (int, np.integer, float)) and float(value).is_integer()
        if not ok or int(value) < 1:
            vi, en = both("eval_err_years", value=value)
            raise ParameterError(vi, en)
        out.append(int(value))
    return out[0], out[1]


@dataclass(frozen=True)
class Window:
    """A pilot's calendar: start year ``T``, first full year ``g`` and the nominal windows.

    ``pre`` and ``post`` are the windows' calendar years before any data are looked at;
    the years actually used are those with a usable value (see :func:`usable_years`).
    ``treated_until`` is the last treated year (the year before the end year), or None.
    """

    T: int
    g: int
    pre: tuple[int, ...]
    post: tuple[int, ...]
    treated_until: int | None
    pre_years: int
    post_years: int

    @property
    def transition(self) -> bool:
        """True when T is a transition year (the pilot started during it)."""
        return self.g > self.T

    def part(self, year: int) -> WindowPart:
        """Where ``year`` falls: "pre", "transition", "post", or "" outside the windows."""
        if year in self.pre:
            return "pre"
        if self.transition and year == self.T:
            return "transition"
        if year in self.post:
            return "post"
        return ""

    def treated(self, year: int) -> bool:
        """Treated from T (the transition year counts) until the year before the end year."""
        return year >= self.T and (self.treated_until is None or year <= self.treated_until)


def pilot_window(
    start,
    precision: str,
    end=None,
    pre_years: int = 3,
    post_years: int = 3,
    shift: int = 0,
) -> Window:
    """The windows of a pilot (DESIGN.md, "Time conventions").

    Parameters
    ----------
    start : date-like
        The pilot's start.
    precision : {"day", "month", "year"}
        How precisely ``start`` is known.
    end : date-like or None
        The pilot's end (NaT or None when open). Post years stop at the year before its year.
    pre_years, post_years : int
        Window lengths in calendar years.
    shift : int
        Move the start by this many years (the start-date sensitivity check), keeping ``end``.
    """
    pre_years, post_years = check_years(pre_years, post_years)
    T = int(pd.Timestamp(start).year) + int(shift)
    g = first_full_year(start, precision) + int(shift)
    until = None
    if end is not None and not pd.isna(end):
        until = int(pd.Timestamp(end).year) - 1
    pre = tuple(range(T - pre_years, T))
    post = tuple(y for y in range(g, g + post_years) if until is None or y <= until)
    return Window(T, g, pre, post, until, pre_years, post_years)


def usable_years(window: Window, years_with_value) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The window years that have a usable value: missing or left-out years are dropped."""
    have = {int(y) for y in years_with_value}
    return (
        tuple(y for y in window.pre if y in have),
        tuple(y for y in window.post if y in have),
    )


def years_text(years) -> str:
    """Years as ``"2015;2016;2017"`` for tidy columns."""
    return ";".join(str(int(y)) for y in years)


# --------------------------------------------------------------------------- wide matrix
@dataclass(frozen=True)
class Matrix:
    """One indicator as a units x years matrix; NaN where missing or a left-out partial flow.

    ``partial`` marks partial years (True even where a stock keeps its value).
    """

    indicator: str
    units: tuple[str, ...]
    years: np.ndarray
    values: np.ndarray
    partial: np.ndarray

    def col(self, year: int) -> int:
        """Column of ``year``, or -1 when the matrix does not reach it."""
        i = int(year) - int(self.years[0]) if len(self.years) else -1
        return i if 0 <= i < len(self.years) else -1

    def cols(self, years) -> np.ndarray:
        return np.array([self.col(y) for y in years], dtype=int)


def indicator_matrix(
    annual: pd.DataFrame,
    indicator: str,
    units=None,
    years=None,
) -> Matrix:
    """The units x years matrix of one indicator from :func:`annual_panel` output.

    ``units`` default to the units with rows for the indicator (sorted); ``years`` to every
    calendar year from the first to the last year of ``annual`` (all indicators), so that all
    matrices of a dataset share one axis.
    """
    rows = annual[annual["indicator"] == indicator]
    if units is None:
        units = sorted(rows["unit_code"].unique())
    units = tuple(str(u) for u in units)
    if years is None:
        if len(annual):
            years = np.arange(int(annual["year"].min()), int(annual["year"].max()) + 1)
        else:
            years = np.arange(0)
    years = np.asarray(years, dtype=int)
    values = np.full((len(units), len(years)), np.nan)
    partial = np.zeros((len(units), len(years)), dtype=bool)
    if len(units) and len(years):
        index = {u: i for i, u in enumerate(units)}
        r = rows["unit_code"].map(index)
        c = rows["year"].to_numpy(dtype=int) - int(years[0])
        keep = r.notna().to_numpy() & (c >= 0) & (c < len(years))
        ri = r.to_numpy()[keep].astype(int)
        ci = c[keep]
        values[ri, ci] = rows["value"].to_numpy(dtype=float)[keep]
        partial[ri, ci] = rows["partial"].to_numpy(dtype=bool)[keep]
    return Matrix(indicator, units, years, values, partial)
