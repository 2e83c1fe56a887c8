"""Event studies of a model's pilots: Callaway and Sant'Anna ATTs by years since the start.

:func:`event_study` runs :func:`kiemnhiem.stats.staggered.att_gt` on one indicator of the model's
annual panel (:func:`kiemnhiem.stats.timeline.annual_panel`) under the conventions of DESIGN.md
("Time conventions"):

- a unit's cohort ``g`` is its pilot's first full year (T, or T + 1 when T is a transition
  year); units that never pilot the model are never treated;
- when any pilot of the model has a transition year, ``anticipation = 1``: the base period is
  ``g - 2`` and a not-yet unit is a comparison in year t only if its ``g > t + 1``;
- the base period is *universal* (every estimate compares year t with the base period), so the
  profile is normalized at event time ``e = -1 - anticipation``: that row has ``att`` 0, ``se``
  missing and ``base`` True;
- comparison units are the never-treated when the model has any with data, else the units not
  yet treated (R's ``"notyettreated"``; then, as in R, the years from the latest cohort's
  ``g - anticipation`` on are left out, and the latest cohort only serves as comparison).

The estimates describe, they do not decide: verdicts come from :mod:`kiemnhiem.stats.evaluation`.
Pure: no I/O, nothing printed, the dataset is not changed.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from ..exceptions import KiemNhiemError, ParameterError
from ..labels import both, label
from .evaluation import _check_level, _context, _resolve_pilot, _series
from .staggered import att_gt
from .timeline import reusing_annual_panel

EVENT_STUDY_COLUMNS = (
    "event_time",
    "att",
    "se",
    "ci_low",
    "ci_high",
    "ci_level",
    "n_units",
    "n_control",
    "base",
    "reliable",
)
# The least number of treated and of comparison units behind an estimate for its analytic
# standard error to mean anything (below it ``reliable`` is False).
MIN_UNITS = 2


def event_study(
    dataset,
    model: str,
    indicator: str,
    unit=None,
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
) -> pd.DataFrame:
    """ATT by event time (years since the first full year ``g``) for one model and indicator.

    Parameters
    ----------
    dataset : Dataset
    model : str
        Model code, e.g. ``"tuyengiao_ttct"``.
    indicator : str
        Indicator code (any indicator of the catalog: one the model does not concern makes a
        placebo check).
    unit : str or int, optional
        None: the model's event study, R's ``aggte(type = "dynamic")``, each event time the
        cohort-size-weighted mean of the cohorts' ATT(g, g + e). A pilot unit of ``model``
        (name or code): the profile of that pilot's cohort, i.e. the ATT(g, t) cells of its
        group re-indexed by ``e = t - g`` (every pilot with the same ``g`` shares it).
    pre_years, post_years : int
        Event times shown: ``-pre_years - anticipation`` to ``post_years - 1``. With a
        transition year they cover the contract's windows: the pre window is e = -pre_years - 1
        to -2 (the base e = -2 is its last year), the transition year e = -1, the post window
        e = 0 to post_years - 1.
    level : float
        Pointwise intervals ``att ± z(1 - level / 2) * se`` (coverage ``1 - level``, the
        package's convention).

    Returns
    -------
    DataFrame
        One row per event time with an estimate, sorted: ``event_time`` (int), ``att``,
        ``se`` (R's analytic influence-function SE; missing for the base row),
        ``ci_low``, ``ci_high``, ``ci_level``, ``n_units`` (pilot units behind the estimate),
        ``n_control`` (comparison units: the fewest over the cohorts' cells), ``base`` (True
        on the normalization row e = -1 - anticipation, whose ``att`` is 0) and ``reliable``
        (False when a cohort behind the estimate has fewer than 2 pilot units, or a cell
        fewer than 2 comparison units: see Notes). ``frame.attrs`` records how it was made:
        ``model``, ``indicator``, ``unit`` (code or None), ``group`` (the cohort's g or
        None), ``control`` ("never"/"notyet"), ``anticipation``, ``base_event_time``,
        ``years`` (the calendar years used), ``level`` and ``dropped``: ``((unit_code,
        reason), ...)`` for units left out (reasons below).

    Raises
    ------
    ParameterError
        Unknown model or indicator, a unit that is not a pilot of the model, a unit left out
        of the balanced panel or whose cohort has no estimate (the latest cohort when every
        unit is a pilot), no cohort left to estimate, invalid windows or level.

    Notes
    -----
    Years used. The calendar years are cut to the span the event times need (from the
    earliest cohort's ``g - pre_years - anticipation`` to the latest cohort's
    ``g + post_years - 1``; for ``unit``, its cohort's), so that a gap outside that span
    costs nothing.

    Partial years and missing values. Flows of partial years (e.g. 2025 when the data end on
    30 June) have no value in the annual panel; a year without a value for any unit simply
    drops out. Otherwise ``att_gt`` keeps the *balanced* subset, as R's ``did`` does: a unit
    with no usable value in some year of the span is left out entirely (reason
    ``incomplete``), never filled. Units first treated in or before the first year plus
    ``anticipation`` have no pre-period (``treated_first_period``). Staggered adoption
    assumes a pilot, once started, stays on: a pilot that ended before the span's last year is
    left out (``ended``).

    Standard errors. The analytic SEs are R's, from influence functions, and treat the units
    as a sample: with a dozen units they are rough. For a cohort of one unit they are not
    reliable at all: the single pilot's influence function is zero (its change *is* the
    cohort mean), so the SE measures only how the comparison units vary and ignores the
    pilot's own year-to-year noise, understating the uncertainty; with one comparison unit
    the same holds the other way round. In the model's profile a one-unit cohort leaves its
    share of the uncertainty out in the same way. Such rows have ``reliable`` False (the
    ``se`` is still shown); read them as descriptions, and use
    :func:`kiemnhiem.stats.evaluation.evaluate_pilot` (placebo ranks) for inference on one pilot.
    """
    level = _check_level(level)
    return _event_study(_context(dataset, model, pre_years, post_years), indicator, unit, level)


def _event_study(ctx, indicator: str, unit, level: float, cohorts=None) -> pd.DataFrame:
    """:func:`event_study` in the model's evaluation context ``ctx`` (``level`` checked).

    ``cohorts``: a dict in which a pilot's cohort estimates and frame are kept by (indicator,
    g) and reused by its cohort's other pilots (:func:`model_profiles`); the panel behind a
    pilot's profile is its cohort's (its years, its balanced subset), so every pilot with the
    same ``g`` gets the same estimates and frame, but for ``attrs["unit"]``.
    """
    dataset, model = ctx.dataset, ctx.model
    if indicator not in ctx.indicators:
        vi, en = both("eval_err_unknown_indicator", indicator=indicator)
        raise ParameterError(vi, en)
    pre_years, post_years = ctx.pre_years, ctx.post_years
    anticipation = 1 if any(p.window.transition for p in ctx.pilots) else 0
    base_e = -1 - anticipation
    first_e, last_e = -pre_years - anticipation, post_years - 1

    pilot = _resolve_pilot(dataset, ctx, unit) if unit is not None else None
    if pilot is not None and cohorts is not None:
        key = (indicator, pilot.window.g)
        if key not in cohorts:
            cohorts[key] = _estimates(ctx, indicator, [pilot.window.g], first_e, last_e)
        estimates = cohorts[key]
    else:
        g_of = {p.code: p.window.g for p in ctx.pilots}
        groups = [pilot.window.g] if pilot is not None else sorted(set(g_of.values()))
        estimates = _estimates(ctx, indicator, groups, first_e, last_e)
    result, cells, control, dropped = estimates

    if pilot is not None:
        why = dict(dropped).get(pilot.code)
        if why is not None:
            name = f"{pilot.name} ({pilot.code})"
            vi, en = (
                label(
                    "es_err_unit_dropped", lang, unit=name, reason=label(f"es_reason_{why}", lang)
                )
                for lang in ("vi", "en")
            )
            raise ParameterError(vi, en)
        # A cohort-mate's frame, already made: only its ``unit`` differs.
        made = cohorts.get(("frame", indicator, pilot.window.g)) if cohorts is not None else None
        if made is not None:
            es = made.copy()
            es.attrs["unit"] = pilot.code
            return es
        cells = cells[cells["group"] == pilot.window.g]
        if cells.empty:
            vi, en = both(
                "es_err_no_estimate", unit=f"{pilot.name} ({pilot.code})", g=pilot.window.g
            )
            raise ParameterError(vi, en)
        table = cells.loc[:, ["event_time", "att", "se"]]
        counts = cells.loc[:, ["event_time", "n_treated", "n_control"]].assign(
            n_smallest=cells["n_treated"]
        )
    else:
        table = result.aggregate("dynamic").to_frame()
        counts = cells.groupby("event_time", as_index=False).agg(
            n_treated=("n_treated", "sum"),
            n_control=("n_control", "min"),
            n_smallest=("n_treated", "min"),
        )
    out = table.merge(counts, on="event_time", how="inner")
    out = out[(out["event_time"] >= first_e) & (out["event_time"] <= last_e)]
    out = out[out["att"].notna()].sort_values("event_time").reset_index(drop=True)

    is_base = out["event_time"].to_numpy() == base_e
    att = out["att"].to_numpy(dtype=float)
    se = np.where(is_base, np.nan, out["se"].to_numpy(dtype=float))
    z = NormalDist().inv_cdf(1.0 - level / 2.0)
    n_units = out["n_treated"].to_numpy(dtype=np.int64)
    n_control = out["n_control"].to_numpy(dtype=np.int64)
    es = pd.DataFrame(
        {
            "event_time": out["event_time"].to_numpy(dtype=np.int64),
            "att": att,
            "se": se,
            "ci_low": att - z * se,
            "ci_high": att + z * se,
            "ci_level": 1.0 - level,
            "n_units": n_units,
            "n_control": n_control,
            "base": is_base,
            "reliable": (out["n_smallest"].to_numpy() >= MIN_UNITS) & (n_control >= MIN_UNITS),
        },
        columns=list(EVENT_STUDY_COLUMNS),
    )
    es.attrs.update(
        model=model,
        indicator=indicator,
        unit=pilot.code if pilot is not None else None,
        group=int(pilot.window.g) if pilot is not None else None,
        control=control,
        anticipation=anticipation,
        base_event_time=base_e,
        years=tuple(int(t) for t in result.times),
        level=level,
        dropped=tuple(dropped),
    )
    if pilot is not None and cohorts is not None:
        cohorts[("frame", indicator, pilot.window.g)] = es.copy()
    return es


def _estimates(ctx, indicator: str, cohorts, first_e: int, last_e: int):
    """``att_gt`` on the years ``cohorts`` need (event times ``first_e`` to ``last_e``):
    ``(result, its cells with an estimate, control, dropped)``."""
    anticipation = 1 if any(p.window.transition for p in ctx.pilots) else 0
    g_of = {p.code: p.window.g for p in ctx.pilots}
    lo = min(cohorts) + first_e if cohorts else 0
    hi = max(cohorts) + last_e if cohorts else 0

    rows = ctx.annual[(ctx.annual["indicator"] == indicator) & ctx.annual["value"].notna()]
    rows = rows[(rows["year"] >= lo) & (rows["year"] <= hi)]
    ended = sorted(
        p.code
        for p in ctx.pilots
        if p.window.treated_until is not None and p.window.treated_until < hi
    )
    rows = rows[~rows["unit_code"].isin(ended)]
    frame = pd.DataFrame(
        {
            "unit_code": rows["unit_code"].to_numpy(),
            "year": rows["year"].to_numpy(dtype=np.int64),
            "value": rows["value"].to_numpy(dtype=float),
            "g": rows["unit_code"].map(g_of).fillna(0).to_numpy(dtype=np.int64),
        }
    )
    never = set(frame.loc[frame["g"] == 0, "unit_code"])
    control = "never" if never else "notyet"

    def run(control: str):
        return att_gt(
            frame,
            "unit_code",
            "year",
            "value",
            "g",
            control=control,
            anticipation=anticipation,
            base_period="universal",
        )

    result = run(control)
    if control == "never" and never <= set(result.dropped["unit"]):
        # Every never-treated unit fell out of the balanced panel: compare with not-yet units
        # rather than let the latest cohort stand in for the never treated.
        control = "notyet"
        result = run(control)
    dropped = [(str(u), "ended") for u in ended] + [
        (str(u), str(r)) for u, r in result.dropped.itertuples(index=False)
    ]
    cells = result.to_frame()
    cells = cells[cells["att"].notna()]
    return result, cells, control, dropped


def pilot_profiles(
    dataset,
    unit,
    model: str,
    indicators,
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, ParameterError]]:
    """What a district's report draws per indicator: ``(series, event_studies, errors)``,
    each keyed by indicator code: the yearly :func:`~kiemnhiem.stats.evaluation.pilot_series`
    against the comparison group, the cohort's :func:`event_study`, and for an indicator that
    has no event study the :class:`~kiemnhiem.exceptions.ParameterError` that says why.

    The same frames as calling the two functions per indicator, with the dataset's annual
    panel and the model's evaluation context computed once for all of them.
    """
    with reusing_annual_panel(dataset):
        return _profiles(dataset, unit, model, indicators, pre_years, post_years, level, {})


def model_profiles(
    dataset,
    model: str,
    indicators_by_unit,
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
) -> dict[str, tuple[dict, dict, dict]]:
    """:func:`pilot_profiles` of several pilots of ``model`` at once, ``{unit: (series,
    event_studies, errors)}`` for ``indicators_by_unit`` (``{unit: indicators}``).

    Each pilot gets the very frames :func:`pilot_profiles` gives it, but the model's context
    and each indicator's matrix are built once, and each cohort's estimates once per
    indicator, not once per pilot (a run draws every pilot of a model: on the demo 5 cohorts
    for 17 pilots). A unit whose profiles raise (not a pilot of the model, an unknown name) is
    left out: its report computes its own and shows the error.
    """
    out: dict[str, tuple[dict, dict, dict]] = {}
    shared: dict = {}
    with reusing_annual_panel(dataset):
        for unit, indicators in indicators_by_unit.items():
            try:
                out[unit] = _profiles(
                    dataset, unit, model, indicators, pre_years, post_years, level, shared
                )
            except KiemNhiemError:  # ParameterError, or a UnitError for a name
                continue
    return out


def _profiles(dataset, unit, model, indicators, pre_years, post_years, level, shared: dict):
    """One pilot's :func:`pilot_profiles`, with what the model's pilots share kept in
    ``shared``: the model's context (built at the first indicator, so that the errors are
    the two functions' own, the series' first), each indicator's layers and each cohort's
    estimates."""
    series: dict[str, pd.DataFrame] = {}
    studies: dict[str, pd.DataFrame] = {}
    errors: dict[str, ParameterError] = {}
    for indicator in indicators:
        # The model's context once for every series and event study (built again per
        # indicator it was about 0.13 CPU-s a report).
        if "context" not in shared:
            shared.update(
                context=_context(dataset, model, pre_years, post_years), layers={}, cohorts={}
            )
        ctx = shared["context"]
        series[indicator] = _series(ctx, dataset, unit, indicator, shared["layers"])
        try:
            checked = _check_level(level)
            studies[indicator] = _event_study(ctx, indicator, unit, checked, shared["cohorts"])
        except ParameterError as exc:
            errors[indicator] = exc
    return series, studies, errors
