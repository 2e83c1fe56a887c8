"""Staggered adoption: Callaway and Sant'Anna (2021) group-time ATTs, as R's ``did`` computes them.

:func:`att_gt` estimates ATT(g, t) on a panel without covariates (unconditional parallel trends),
so every cell is the 2x2 difference in mean outcome changes between cohort ``g`` and its
comparison units, with the analytic influence-function standard errors of R's ``did`` (no
bootstrap). :meth:`ATTGTResult.aggregate` reproduces ``did::aggte`` for the ``simple``,
``dynamic``, ``group`` and ``calendar`` summaries, including the influence-function term that
accounts for estimating the group-size weights.

The reference is R's ``did`` 2.5.1 (``pre_process_did2.R``, ``compute.att_gt2.R``,
``compute.aggte.R``); the tests check agreement with ``moderndid``, its Python port. Without
covariates R's default doubly robust estimator reduces to the difference in means, and its
influence function for unit i (scaled by R's n / n_cell) is::

    n * [ D_i (dY_i - mean_treated) / n_treated  -  C_i (dY_i - mean_control) / n_control ]

with ``se = sqrt(mean(IF**2) / n)``; a standard error at or below ``10 * sqrt(machine eps)`` is
reported as missing, as in R. This module knows nothing of pilots, catalogs or files: verdicts
come from :mod:`kiemnhiem.stats.evaluation`; this serves event studies and the check against R.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Literal, get_args

import numpy as np
import pandas as pd

from ..exceptions import ParameterError

Control = Literal["never", "notyet"]
BasePeriod = Literal["varying", "universal"]
AggregationKind = Literal["simple", "dynamic", "group", "calendar"]

CONTROLS: tuple[str, ...] = get_args(Control)
BASE_PERIODS: tuple[str, ...] = get_args(BasePeriod)
AGGREGATIONS: tuple[str, ...] = get_args(AggregationKind)

# R's did reports a standard error at or below this as NA (a cell with no sampling variation).
_SE_FLOOR = float(np.sqrt(np.finfo(float).eps) * 10)
# R's default estimator (DRDID::drdid_panel) trims comparison units whose propensity score is at
# least 0.995; with an intercept-only score that is every comparison unit once the cohort makes
# up 99.5% of the cell, and the cell comes out NA.
_MAX_TREATED_SHARE = 0.995
# Key column of each aggregation's table.
_AGG_KEYS = {"dynamic": "event_time", "group": "group", "calendar": "time"}


@dataclass(frozen=True, eq=False)
class AggregateResult:
    """One ``did::aggte`` summary of group-time ATTs.

    Attributes
    ----------
    kind : {"simple", "dynamic", "group", "calendar"}
        The aggregation.
    overall_att, overall_se : float
        The overall summary and its analytic standard error (R's ``overall.att``,
        ``overall.se``): for ``dynamic`` the mean over event times >= 0, for ``group`` the
        cohort effects weighted by cohort size, for ``calendar`` the mean over periods.
    table : pandas.DataFrame
        One row per level: ``event_time``, ``group`` or ``time`` (by kind), then ``att`` and
        ``se``. For ``simple`` there is no level column and one row holding the overall value.
        Read it through :meth:`to_frame`.
    influence : numpy.ndarray
        Influence functions of the levels, shape (n_units, n_levels), rows in
        :attr:`ATTGTResult.units` order.
    overall_influence : numpy.ndarray
        Influence function of the overall value, shape (n_units,).
    """

    kind: str
    overall_att: float
    overall_se: float
    table: pd.DataFrame
    influence: np.ndarray
    overall_influence: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """The levels as a tidy frame (a copy): key column, ``att``, ``se``."""
        return self.table.copy()


@dataclass(frozen=True, eq=False)
class ATTGTResult:
    """Group-time average treatment effects and what is needed to aggregate them.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (group, time) cell in R's order (group, then time); read it through
        :meth:`to_frame`, which documents the columns.
    influence : numpy.ndarray
        Influence functions, shape (n_units, n_cells), columns in ``table`` order, rows in
        ``units`` order, on R's scale (``se = sqrt(mean(IF**2) / n_units)``).
    units : pandas.Index
        The units kept, sorted.
    unit_groups : numpy.ndarray
        Each kept unit's first-treated period as used in estimation (``inf`` for units
        treated as never treated).
    times : tuple
        The periods used.
    control, base_period : str
        The options the estimates were made with.
    anticipation : int
        Periods of anticipation.
    dropped : pandas.DataFrame
        Units left out, with columns ``unit`` and ``reason``: ``incomplete`` (not observed with
        an outcome in every period) or ``treated_first_period`` (first treated in or before the
        first period plus ``anticipation``, so with no pre-period).
    """

    table: pd.DataFrame
    influence: np.ndarray
    units: pd.Index
    unit_groups: np.ndarray
    times: tuple
    control: str
    base_period: str
    anticipation: int
    dropped: pd.DataFrame

    @property
    def n_units(self) -> int:
        """Number of units in the estimation sample (R's ``n``)."""
        return len(self.units)

    def to_frame(self) -> pd.DataFrame:
        """The group-time ATTs as a tidy frame (a copy).

        Columns: ``group``, ``time``, ``att``, ``se``, then ``base_time`` (the period the change
        is measured from), ``event_time`` (time - group), ``post`` (time >= group),
        ``n_treated`` and ``n_control`` (units in the cell). A cell R cannot estimate (no
        treated or no comparison unit) has missing ``att`` and ``se``; with
        ``base_period="universal"`` the reference cell (time = group - 1 - anticipation) is 0
        with a missing ``se``.
        """
        return self.table.copy()

    def aggregate(self, kind: AggregationKind) -> AggregateResult:
        """Aggregate the ATT(g, t) as R's ``did::aggte(..., type=kind, na.rm=TRUE)``.

        Parameters
        ----------
        kind : {"simple", "dynamic", "group", "calendar"}
            ``simple``: post-treatment cells weighted by cohort size. ``dynamic``: event study,
            one value per event time e = t - g (pre-periods included), weighted by cohort size;
            the overall value is the mean over e >= 0. ``group``: per cohort the mean of its
            post-treatment cells; overall weighted by cohort size. ``calendar``: per period the
            cohort-size-weighted mean of the post-treatment cells; overall their mean.

        Returns
        -------
        AggregateResult

        Notes
        -----
        Cells with a missing ATT are left out first (R's ``na.rm = TRUE``), and cohorts or
        periods with no post-treatment cell are left out of ``group`` and ``calendar``. Cohort
        sizes are shares of all units, never-treated included, and the standard errors add
        R's influence-function term for estimating them (not for the equal weights of the
        overall ``dynamic`` and ``calendar`` means, as in R).
        """
        kind = _check_choice("kind", kind, AGGREGATIONS)
        tab = self.table
        ok = tab["att"].notna().to_numpy()
        group = tab["group"].to_numpy(dtype=float)[ok]
        time = tab["time"].to_numpy(dtype=float)[ok]
        att = tab["att"].to_numpy(dtype=float)[ok]
        inf = self.influence[:, ok]
        n = self.n_units
        ugroups = self.unit_groups
        pg_by_group = {g: float(np.mean(ugroups == g)) for g in np.unique(group)}
        pg = np.array([pg_by_group[g] for g in group])
        post = group <= time

        if kind == "simple":
            est, if_ = _weighted(att, inf, post, pg, ugroups, group)
            se = _se(if_, n)
            table = pd.DataFrame({"att": [est], "se": [se]})
            return _agg_result(kind, est, se, table, if_[:, None], if_)

        if kind == "dynamic":
            event = time - group
            levels = np.unique(event)
            parts = [_weighted(att, inf, event == e, pg, ugroups, group) for e in levels]
            overall_mask = levels >= 0
        elif kind == "group":
            levels = np.array([g for g in np.unique(group) if np.any(post & (group == g))])
            parts = [_mean(att, inf, post & (group == g)) for g in levels]
            overall_mask = None
        else:  # calendar
            cal = np.unique(time)
            if len(group):
                cal = cal[cal >= group.min()]
            levels = np.array([t for t in cal if np.any(post & (time == t))])
            parts = [_weighted(att, inf, post & (time == t), pg, ugroups, group) for t in levels]
            overall_mask = np.ones(len(levels), dtype=bool)

        level_att = np.array([p[0] for p in parts], dtype=float)
        level_inf = np.column_stack([p[1] for p in parts]) if parts else np.zeros((n, 0))
        level_se = np.array([_se(level_inf[:, j], n) for j in range(len(parts))], dtype=float)

        if kind == "group":
            # Cohort effects weighted by cohort size, with the weight term over cohorts.
            pgg = np.array([pg_by_group[g] for g in levels], dtype=float)
            every = np.ones(len(levels), dtype=bool)
            overall, overall_if = _weighted(level_att, level_inf, every, pgg, ugroups, levels)
        else:
            overall, overall_if = _mean(level_att, level_inf, overall_mask)
        table = pd.DataFrame(
            {_AGG_KEYS[kind]: _tidy_numbers(levels), "att": level_att, "se": level_se}
        )
        return _agg_result(kind, overall, _se(overall_if, n), table, level_inf, overall_if)


def att_gt(
    frame: pd.DataFrame,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    control: Control = "never",
    anticipation: int = 0,
    base_period: BasePeriod = "varying",
) -> ATTGTResult:
    """Group-time ATTs of Callaway and Sant'Anna (2021) on a panel, without covariates.

    Reproduces R's ``did::att_gt(yname=outcome, tname=time, idname=unit, gname=first_treated,
    xformla=~1, panel=TRUE, bstrap=FALSE, control_group=..., anticipation=...,
    base_period=...)`` with analytic standard errors.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long panel, one row per unit and period. Not modified.
    unit, time, outcome, first_treated : str
        Column names. ``time`` and ``outcome`` are numeric; ``first_treated`` is the first
        period of treatment, constant within a unit, 0 or missing for never-treated units.
    control : {"never", "notyet"}
        Comparison units of cell (g, t): ``never``, the never-treated; ``notyet``, also the
        units whose first_treated > max(t, base period) + anticipation (R's
        ``"notyettreated"``), cohort g itself excluded.
    anticipation : int
        Periods before first_treated in which treatment may already act (R's
        ``anticipation``): the post-treatment base period is the last period before
        g - anticipation.
    base_period : {"varying", "universal"}
        ``varying``: pre-treatment cells compare t with the period before t, post-treatment
        cells compare t with the last period before g - anticipation. ``universal``: every
        cell compares t with that last period, whose own cell is the reference, 0 by
        construction.

    Returns
    -------
    ATTGTResult
        ``.to_frame()`` gives one row per cell (group, time, att, se, ...);
        ``.aggregate(kind)`` gives R's ``aggte`` summaries.

    Raises
    ------
    ParameterError
        An option outside its choices, a missing or non-numeric column, a unit with two rows in
        one period or two first_treated values, fewer than two periods, or no treated cohort
        left to estimate.

    Notes
    -----
    The data are prepared as R's ``did`` does for a balanced panel:

    * rows with a missing unit, time or outcome are dropped, then every unit not observed in
      all remaining periods is dropped (listed in ``dropped`` as ``incomplete``): estimates
      always use a balanced panel, and missing cells are never filled;
    * first_treated later than the last period + anticipation counts as never treated;
    * without never-treated units, periods from (latest cohort - anticipation) on are dropped;
      under ``never`` the latest cohort then serves as never treated, under ``notyet`` it
      remains a not-yet-treated comparison and gets no estimates of its own;
    * units first treated in or before the first period + anticipation are dropped (listed as
      ``treated_first_period``): they have no pre-period.

    A cell without treated or comparison units, or whose cohort is 99.5% or more of the cell
    (R's default estimator trims every comparison unit then), is kept with a missing ATT, as in
    R. One deviation by design: R drops rows whose first_treated is missing, while here missing
    means never treated, as the project's data contract says.
    """
    control = _check_choice("control", control, CONTROLS)
    base_period = _check_choice("base_period", base_period, BASE_PERIODS)
    anticipation = _check_anticipation(anticipation)
    panel = _prepare_panel(frame, unit, time, outcome, first_treated, control, anticipation)
    y, times, groups, ugroups = panel["y"], panel["times"], panel["groups"], panel["ugroups"]
    n, n_times = y.shape

    # Enumerate the cells as R does: groups in order, then times (all but the first under
    # "varying", whose base is the previous period).
    first_time = 1 if base_period == "varying" else 0
    cells = []
    for g in groups:
        pre_g = int(np.flatnonzero(times + anticipation < g)[-1])
        for cur in range(first_time, n_times):
            is_post = g <= times[cur]
            base = pre_g if (base_period == "universal" or is_post) else cur - 1
            cells.append((g, cur, base))
    cell_g = np.array([c[0] for c in cells], dtype=float)
    cur_idx = np.array([c[1] for c in cells], dtype=int)
    base_idx = np.array([c[2] for c in cells], dtype=int)
    reference = cur_idx == base_idx

    # All cells at once, as (unit x cell) arrays.
    change = y[:, cur_idx] - y[:, base_idx]
    treated = ugroups[:, None] == cell_g[None, :]
    never = np.isinf(ugroups)[:, None]
    if control == "never":
        comparison = np.broadcast_to(never, treated.shape)
    else:
        cutoff = np.maximum(times[cur_idx], times[base_idx]) + anticipation
        comparison = never | ((ugroups[:, None] > cutoff[None, :]) & ~treated)
    n_treated = treated.sum(axis=0)
    n_control = comparison.sum(axis=0)
    estimable = (
        (n_treated > 0)
        & (n_control > 0)
        & (n_treated < _MAX_TREATED_SHARE * (n_treated + n_control))
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_treated = np.where(treated, change, 0.0).sum(axis=0) / n_treated
        mean_control = np.where(comparison, change, 0.0).sum(axis=0) / n_control
        att = mean_treated - mean_control
        influence = n * (
            np.where(treated, change - mean_treated, 0.0) / n_treated
            - np.where(comparison, change - mean_control, 0.0) / n_control
        )
    att[~estimable] = np.nan
    influence[:, ~estimable] = np.nan
    att[reference] = 0.0
    influence[:, reference] = 0.0
    se = _se_columns(influence, n)

    table = pd.DataFrame(
        {
            "group": _tidy_numbers(cell_g),
            "time": _tidy_numbers(times[cur_idx]),
            "att": att,
            "se": se,
            "base_time": _tidy_numbers(times[base_idx]),
            "event_time": _tidy_numbers(times[cur_idx] - cell_g),
            "post": cell_g <= times[cur_idx],
            "n_treated": n_treated.astype(np.int64),
            "n_control": n_control.astype(np.int64),
        }
    )
    influence.flags.writeable = False
    ugroups.flags.writeable = False
    return ATTGTResult(
        table=table,
        influence=influence,
        units=panel["units"],
        unit_groups=ugroups,
        times=tuple(_tidy_numbers(times).tolist()),
        control=control,
        base_period=base_period,
        anticipation=anticipation,
        dropped=panel["dropped"],
    )


# --- preparation ---------------------------------------------------------------------------


def _prepare_panel(
    frame: pd.DataFrame,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    control: str,
    anticipation: int,
) -> dict:
    """Validate and balance the panel as R's ``pre_process_did2`` does; returns arrays."""
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(
            "frame phải là một pandas.DataFrame.", "frame must be a pandas.DataFrame."
        )
    missing = [c for c in (unit, time, outcome, first_treated) if c not in frame.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise ParameterError(f"Không tìm thấy cột: {names}.", f"Column(s) not found: {names}.")
    for col in (time, outcome, first_treated):
        dtype = frame[col].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise ParameterError(
                f"Cột {col!r} phải chứa số (kiểu hiện tại: {dtype}).",
                f"Column {col!r} must be numeric (its type is {dtype}).",
            )

    data = pd.DataFrame(
        {
            "u": frame[unit].to_numpy(copy=True),
            "t": frame[time].to_numpy(dtype=float, na_value=np.nan),
            "y": frame[outcome].to_numpy(dtype=float, na_value=np.nan),
            "g": frame[first_treated].to_numpy(dtype=float, na_value=np.nan),
        }
    )
    # Missing first_treated means never treated (the project's contract); R codes it 0.
    data["g"] = data["g"].fillna(0.0).replace(0.0, np.inf)
    data = data[data["u"].notna() & data["t"].notna()]

    dup = data.duplicated(["u", "t"], keep=False)
    if dup.any():
        examples = _examples(data.loc[dup, ["u", "t"]].itertuples(index=False, name=None))
        raise ParameterError(
            f"Mỗi đơn vị chỉ được có một dòng trong mỗi kỳ; bị trùng: {examples}.",
            f"Each unit may have only one row per period; duplicated: {examples}.",
        )
    n_g = data.groupby("u", sort=True)["g"].nunique()
    if (n_g > 1).any():
        examples = _examples(n_g.index[n_g > 1])
        raise ParameterError(
            f"Cột {first_treated!r} phải giống nhau ở mọi kỳ của một đơn vị; khác ở: {examples}.",
            f"Column {first_treated!r} must be constant within a unit; it varies for: {examples}.",
        )

    # R keeps complete cases only: a missing outcome removes the row (and below, the unit).
    data = data[data["y"].notna()]
    times = np.unique(data["t"].to_numpy())
    if len(times) < 2:
        raise ParameterError(
            "Cần ít nhất hai kỳ có số liệu.", "At least two periods with data are needed."
        )
    g = data["g"].to_numpy()
    g = np.where(g > times[-1] + anticipation, np.inf, g)
    data = data.assign(g=g)

    latest = None
    if not np.isinf(g).any() and np.isfinite(g).any():
        # No never-treated units: keep the periods before the latest cohort (minus
        # anticipation); under "never" that cohort stands in for the never treated.
        latest = float(g[np.isfinite(g)].max())
        data = data[data["t"] < latest - anticipation]
        if control == "never":
            data = data.assign(g=data["g"].replace(latest, np.inf))
        times = np.unique(data["t"].to_numpy())

    dropped = []
    first = times[0] if len(times) else np.inf
    early = np.isfinite(data["g"]) & (data["g"] <= first + anticipation)
    if early.any():
        dropped += [(u, "treated_first_period") for u in pd.unique(data.loc[early, "u"])]
        data = data[~early]
        times = np.unique(data["t"].to_numpy())

    # Balanced panel: a unit must have an outcome in every period.
    counts = data.groupby("u", sort=True).size()
    incomplete = counts.index[counts < len(times)]
    if len(incomplete):
        dropped += [(u, "incomplete") for u in incomplete]
        data = data[~data["u"].isin(incomplete)]
    times = np.unique(data["t"].to_numpy())

    ug = data.groupby("u", sort=True)["g"].first()
    groups = np.unique(ug.to_numpy()[np.isfinite(ug.to_numpy())])
    if len(times):
        groups = groups[groups > times[0] + anticipation]
    if control == "notyet" and latest is not None and not np.isinf(ug.to_numpy()).any():
        groups = groups[groups < latest]
    if len(times) < 2 or len(groups) == 0:
        raise ParameterError(
            "Không còn nhóm được can thiệp nào để ước lượng (cần ít nhất hai kỳ và một nhóm "
            "bắt đầu sau kỳ đầu tiên, trên bảng cân đối).",
            "No treated cohort is left to estimate (at least two periods and one cohort first "
            "treated after the first period are needed, on the balanced panel).",
        )

    wide = data.pivot(index="u", columns="t", values="y").sort_index()
    return {
        "y": wide.to_numpy(dtype=float),
        "times": wide.columns.to_numpy(dtype=float),
        "units": pd.Index(wide.index, name=unit),
        "ugroups": ug.reindex(wide.index).to_numpy(dtype=float),
        "groups": groups,
        "dropped": pd.DataFrame(dropped, columns=["unit", "reason"]),
    }


# --- helpers -------------------------------------------------------------------------------


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ParameterError(
            f"Giá trị {name}={value!r} không hợp lệ; chọn một trong: {valid}.",
            f"Invalid {name}={value!r}; choose one of: {valid}.",
        )
    return value


def _check_anticipation(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ParameterError(
            f"anticipation phải là số nguyên không âm (nhận được {value!r}).",
            f"anticipation must be a non-negative integer (got {value!r}).",
        )
    return int(value)


def _examples(items, limit: int = 5) -> str:
    items = list(dict.fromkeys(items))
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f", … (+{len(items) - limit})" if len(items) > limit else "")


def _tidy_numbers(values) -> np.ndarray:
    """Whole numbers (years) as int64, anything else left as float."""
    arr = np.asarray(values, dtype=float)
    if arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    return arr


def _se(influence: np.ndarray, n: int) -> float:
    """R's analytic standard error from one influence function; tiny values are missing."""
    se = float(np.sqrt(np.mean(influence**2) / n))
    return se if se > _SE_FLOOR else float("nan")


def _se_columns(influence: np.ndarray, n: int) -> np.ndarray:
    se = np.sqrt(np.mean(influence**2, axis=0) / n)
    se[~(se > _SE_FLOOR)] = np.nan
    return se


def _mean(att: np.ndarray, inf: np.ndarray, keep: np.ndarray) -> tuple[float, np.ndarray]:
    """Equal-weight mean of the kept estimates and its influence function (no weight term)."""
    k = int(np.sum(keep))
    if k == 0:
        return float("nan"), np.zeros(inf.shape[0])
    return float(np.mean(att[keep])), inf[:, keep] @ np.full(k, 1.0 / k)


def _weighted(
    att: np.ndarray,
    inf: np.ndarray,
    keep: np.ndarray,
    pg: np.ndarray,
    ugroups: np.ndarray,
    group: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Cohort-size-weighted mean and its influence function, with R's ``wif`` term.

    ``pg[k]`` is the share of all units in the cohort of estimate k; the weights
    pg / sum(pg) are estimated, and R adds their influence function (``wif`` in
    ``compute.aggte.R``) times the estimates.
    """
    if not np.any(keep):
        return float("nan"), np.zeros(inf.shape[0])
    pk = pg[keep]
    total = pk.sum()
    weights = pk / total
    # (unit x kept) matrix of 1{unit in the estimate's cohort} - pg.
    centered = (ugroups[:, None] == group[keep][None, :]) - pk[None, :]
    wif = centered / total - centered.sum(axis=1)[:, None] * (pk / total**2)[None, :]
    est = float(np.sum(att[keep] * weights))
    return est, inf[:, keep] @ weights + wif @ att[keep]


def _agg_result(kind, overall, overall_se, table, influence, overall_if) -> AggregateResult:
    influence = np.array(influence, dtype=float)
    overall_if = np.array(overall_if, dtype=float)
    influence.flags.writeable = False
    overall_if.flags.writeable = False
    return AggregateResult(
        kind=kind,
        overall_att=float(overall),
        overall_se=float(overall_se),
        table=table,
        influence=influence,
        overall_influence=overall_if,
    )
