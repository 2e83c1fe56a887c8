"""Per-pilot and per-model estimates of the pilots' effects, with exact rank inference.

(About 1,100 lines, over the layout's 1,000 on purpose: the pilot rows, the model rows and the
district-evidence rows are built from the same per-model context (:class:`_Context`), the same
per-pilot cores and the same row dictionary, and each kind of row reads the others (a district
verdict needs its model row; a model row needs its pilots' cores). The arithmetic lives apart,
in :mod:`.core`, :mod:`.district`, :mod:`.inference` and :mod:`.did`; the words in
:mod:`.wording`. Splitting the row builders further would pass that context across modules.)

DESIGN.md, "Evaluation contract" and "Inference". For pilot ``p`` of a model on one indicator:

``did = mean over usable post-window years t of (Y[p,t] - pre_mean[p])
        - mean over c in C_t of (Y[c,t] - pre_mean[c])``

with every unit's ``pre_mean`` over the pilot's usable pre-window years (windows and partial
years: :mod:`kiemnhiem.stats.timeline`). Readings of the contract made here:

- a comparison unit needs a value in *every* one of the pilot's usable pre years, so that its
  pre mean covers the same years as the pilot's, and a value in year t to count in ``C_t``;
  a unit is never its own comparison;
- ``C_t`` is the units never in the model; if no such unit has the data, the units untreated
  through t (a unit is treated from its T); if none has the data either, before/after only
  (``comparison`` = "none"). The level is chosen once per pilot, never mixed: a post year in
  which the chosen level offers no unit with data is left out of ``did`` (``did_years_used``
  lists the years it averages) rather than compared before/after;
- provinces as strata (README, "Provinces as strata"): in a dataset whose units span several
  provinces, ``C_t`` is first sought in the pilot's own province (never, then not-yet
  units), and only when its province has neither, among the whole dataset's never, then
  not-yet units (``comparison`` "never_all", "notyet_all"); the model test places each
  province's multiset of schedules on its own districts (stratified assignments). A dataset
  of one province is one stratum, unchanged;
- ``did`` is reported only for a pilot that can be assessed (at least 2 usable years on each
  side); the pre/post means and the change are reported whenever they exist;
- ``pretrend_flag`` (an interface change from the contract; README, "What the statistics can
  and cannot show"):
  the contract's rule alone (trend over the 3 pre years, extrapolated, at least half of
  ``did`` with the same sign) fires by chance on about 40 % of rows, because a slope fitted to
  3 noisy points and carried 3 years forward is mostly noise. Here the flag needs both

  1. the contract's size rule: ``trend_effect`` (``pretrend_slope``, the least-squares slope
     a year of pilot minus the mean of the units ``did`` compares with, times the distance
     from the mean of the pre years ``did`` uses to the middle of its post years: the ``did``
     that trend alone would produce) is at least half of ``did`` in size and of the same
     sign, where the slope is fitted over the years before the start, back to twice the pre
     window (``PRETREND_SPAN``: 6 years by default), in which the pilot and all those units
     have a value (``pretrend_years_used``, at least 3; more years than the contract's pre
     window, so a steadier slope), and
  2. evidence that the trend is real: the slope differs from zero at the two-sided
     ``PRETREND_LEVEL`` (0.1 %) in a t-test (``pretrend_p``) whose residual variance pools
     the pilot's gap and each comparison unit's gap to the other comparison units (built as
     the placebos are), and is never taken below the pilot's own residual variance, so that
     one jump or one unusually noisy district does not read as a steady trend; df is
     (comparison units + 1) x (years - 2), or years - 2 with fewer than 2 comparison units.

  0.1 % is the suite's 10 % level shared over the ~100 pilot x indicator rows of a province
  (Bonferroni): a chance flag anywhere in a report set is unlikely, so a flag means something.
  The flag therefore misses mild trends; ``trend_effect`` and ``pretrend_p`` are always shown.
  With before/after only there is no comparison mean, so the flag is missing (as the
  contract says when it cannot be computed), while ``trend_effect`` and ``pretrend_p``
  measure the pilot's own series. For a model: the mean trend effect of its pilots (own
  series for before/after ones, as their change enters the pooled mean as it is) against the
  pooled effect, and at least one pilot with ``pretrend_p`` under the level;
- ``pct_change`` is a fraction (0.25 = +25 %), NaN for a zero pre mean, for shares (their
  change, in share units 0-1, is shown in percentage points: ``change_scale`` = "pp") and for
  ratings.

A pilot row's verdict is the district verdict (:mod:`kiemnhiem.stats.district`; DESIGN.md,
"District evidence"): the model's exact verdict plus the district's own single-case estimate,
its consistency with the model's other pilots and, for pilots with no comparison after their
start, the long difference; the per-pilot rank test below stays as descriptive evidence
(``placebo_verdict``, ``placebo_reason_*``).

Inference (:mod:`kiemnhiem.stats.inference`) ranks the observed statistic among placebo ones:

- per pilot, each eligible unit takes the pilot's windows, the other eligible units being its
  controls, and averages the years the pilot's ``did`` averages: the never units (the model's
  other pilots never), or under not-yet comparison the units untreated through the last year
  the pilot's ``did`` actually averages (the last of ``did_years_used``, not the last year of
  the window). A placebo unit counts when it has at least 2 usable years on each side and a
  control with data. No placebo: no test. This rank is descriptive: with 12 districts it
  cannot go below 1/8, so a pilot row's verdict comes from the district evidence
  (:mod:`kiemnhiem.stats.district`), and the rank test's verdict stays in ``placebo_verdict``;
- per model, the observed multiset of schedules is placed on the units with any usable value
  of the indicator in every possible way. A schedule is a pilot's (T, g, end), which is its
  ``g`` whenever pilots sharing a ``g`` share T and end. Each placement's statistic is the
  mean ``did`` of its assessable pilots, comparison levels and sets recomputed (a placement
  in which no pilot can be assessed has no statistic and is left out). On indicators
  another model with pilots also concerns, the test is joint (``joint_test``): its null is
  that neither model has an effect;
- intervals invert the test on ``Y - tau * D``, D being 1 in the years a pilot of the model is
  treated (T to the year before its end), which assumes a constant additive effect;
  ``hl_estimate`` is the ``tau`` at which the observed statistic sits in the middle of the
  placements' (Hodges-Lehmann), so it always lies in the interval. The contract's pooled
  ``did`` need not: where pilots enter it as before/after changes (a model every unit
  adopted), a common trend moves the mean while every placement shares it and the ranks
  cancel it;
- start-date sensitivity: approximate and assumed starts are moved one year earlier and later
  (per pilot; per model all such starts together) and the verdict recomputed. Only the
  verdict is read, so a model test whose placements are sampled stops at the first of its
  looks (250, 500, ... of its own draws) that settles the verdict of all its draws: exactly
  where the counts decide it, else with a chance of at most 0.1 % of differing from it
  (:func:`_sequential_verdict`, :func:`~kiemnhiem.stats.inference.sequential_verdict`).
  Enumerated placements run the full test.

The core is numpy over one units x years matrix per indicator (:class:`_Prep`): comparison
sums for any set of comparison units are one matrix product, and :func:`_pooled` evaluates the
whole statistic for thousands of placements at once.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

from ..data.catalog import indicators_for_model
from ..exceptions import ParameterError
from ..labels import both, label
from . import district as dist
from .core import (
    PRETREND_LEVEL,
    PRETREND_SPAN,
    _Core,
    _core,
    _cores_all,
    _cores_in,
    _pooled,
    _prepare,
    eligible_units,
    size_rule,
)
from .inference import (
    DRAWS,
    LOOK_RISK,
    LOOKS,
    MAX_ENUMERATE,
    SEED,
    Assignments,
    RankTest,
    decide,
    draw_assignments,
    rank_test,
    sequential_verdict,
    tail_counts,
)
from .timeline import (
    Window,
    annual_panel,
    check_years,
    indicator_matrix,
    pilot_window,
    years_text,
)
from .wording import _explain_test, _fmt_effect, _number, _reason

Comparison = Literal["never", "notyet", "none"]
COMPARISONS: tuple[str, ...] = get_args(Comparison)
Scope = Literal["pilot", "model"]
SHIFTED_STATUSES = ("approximate", "assumed")

RESULT_COLUMNS = (
    "scope", "unit_code", "unit_name", "model", "indicator", "kind", "better", "change_scale",
    "start", "start_precision", "start_status", "end", "T", "g", "transition",
    "pre_years_used", "post_years_used", "did_years_used", "n_pre", "n_post", "n_pilots",
    "pre_mean", "post_mean", "change", "pct_change", "did", "comparison", "n_comparison",
    "ci_low", "ci_high", "ci_level", "hl_estimate", "p_better", "p_worse", "p_two", "p_min",
    "n_assignments", "n_possible", "inference", "mc_error", "rank", "rank_direction",
    "trend_effect", "pretrend_slope", "pretrend_p", "pretrend_years_used", "pretrend_flag",
    "start_sensitive", "verdict_earlier", "verdict_later",
    "mixed_models", "joint_test", "status", "verdict", "reason_code", "reason_vi", "reason_en",
    "level",
    # District evidence (pilot rows; kiemnhiem.stats.district) and the model test's power.
    "own_estimate", "own_low", "own_high", "own_p_better", "own_p_worse", "noise_floor",
    "n_reference", "pooled_estimate", "pooled_low", "pooled_high", "consistency_p",
    "consistency", "long_diff", "long_diff_p", "mde", "model_verdict", "joint_with",
    "placebo_verdict", "placebo_reason_code", "placebo_reason_vi", "placebo_reason_en",
)
#: The district columns that are text ("" when not applicable).
_DISTRICT_TEXT = ("consistency", "model_verdict", "joint_with", "placebo_verdict",
                  "placebo_reason_code", "placebo_reason_vi", "placebo_reason_en")
SERIES_COLUMNS = (
    "year", "pilot", "comparison_mean", "counterfactual", "n_comparison", "window", "partial",
)


# =========================================================================== dataset context
@dataclass(frozen=True)
class _Pilot:
    code: str
    row: int
    name: str
    start: pd.Timestamp
    precision: str
    status: str
    end: object
    window: Window


@dataclass(frozen=True)
class _Context:
    """One dataset x model: the unit axis, the year axis, the model's pilots."""

    dataset: object
    model: str
    annual: pd.DataFrame
    units: tuple[str, ...]
    years: np.ndarray
    pilots: tuple[_Pilot, ...]
    T_units: np.ndarray  # (n,) T of the model's pilots, inf for the others
    never: np.ndarray  # (n,) never in the model
    unit_models: dict  # unit code -> set of models it pilots
    models_with_pilots: tuple[str, ...]
    pre_years: int
    post_years: int
    indicators: dict  # code -> catalog row (dict)
    concerned: dict  # code -> models with pilots that the indicator concerns
    strata: np.ndarray | None = None  # (n,) each unit's province, None within one province
    # Each pilot's windows (_pilot_windows), built once rather than once per indicator.
    windows: dict = field(default_factory=dict, compare=False, repr=False)

    def pilot(self, code: str) -> _Pilot:
        return next(p for p in self.pilots if p.code == code)


def _model_pilots(pilots: pd.DataFrame, model: str) -> pd.DataFrame:
    """The model's pilot rows, one per unit (the earliest start when a unit is listed twice)."""
    rows = pilots[pilots["model"] == model].copy()
    rows = rows.sort_values(["unit_code", "start"]).drop_duplicates("unit_code", keep="first")
    return rows.reset_index(drop=True)


def _check_model(dataset, model: str) -> None:
    known = set(dataset.pilots["model"]) | set(dataset.models["code"])
    if model not in known:
        vi, en = both("eval_err_unknown_model", model=model, models=", ".join(sorted(known)))
        raise ParameterError(vi, en)


def _check_level(level: float) -> float:
    ok = isinstance(level, (int, float, np.floating)) and 0 < float(level) < 1
    if not ok:
        vi, en = both("eval_err_level", value=level)
        raise ParameterError(vi, en)
    return float(level)


def _context(dataset, model: str, pre_years: int, post_years: int, annual=None) -> _Context:
    _check_model(dataset, model)
    pre_years, post_years = check_years(pre_years, post_years)
    if annual is None:
        annual = annual_panel(dataset)
    pilots_all = dataset.pilots
    codes = set(dataset.units["unit_code"].astype(str)) if len(dataset.units) else set()
    codes |= set(annual["unit_code"].astype(str)) | set(pilots_all["unit_code"].astype(str))
    units = tuple(sorted(codes))
    row = {u: i for i, u in enumerate(units)}
    rows = _model_pilots(pilots_all, model)
    pilots = []
    T_units = np.full(len(units), np.inf)
    for rec in rows.itertuples(index=False):
        code = str(rec.unit_code)
        w = pilot_window(rec.start, rec.start_precision, rec.end, pre_years, post_years)
        name = str(getattr(rec, "unit_name", "") or dataset.unit_name(code))
        pilots.append(
            _Pilot(code, row[code], name, pd.Timestamp(rec.start), str(rec.start_precision),
                   str(rec.start_status), rec.end, w)
        )
        T_units[row[code]] = w.T
    # One year axis for the data and every window, shifted starts included, so that window
    # years outside the data are plain missing columns.
    ends = [int(annual["year"].min()), int(annual["year"].max())] if len(annual) else []
    for p in pilots:
        ends += [p.window.T - pre_years - 1, p.window.g + post_years]
    years = np.arange(min(ends), max(ends) + 1) if ends else np.arange(0)
    unit_models: dict[str, set[str]] = {}
    for rec in pilots_all.itertuples(index=False):
        unit_models.setdefault(str(rec.unit_code), set()).add(str(rec.model))
    models_with = tuple(dict.fromkeys(str(m) for m in pilots_all["model"]))
    catalog = dataset.indicators
    ind_rows = {str(r["code"]): r for r in catalog.to_dict("records")}
    concerned = {
        code: [m for m in models_with if "*" in r["models_list"] or m in r["models_list"]]
        for code, r in ind_rows.items()
    }
    return _Context(
        dataset, model, annual, units, years, tuple(pilots), T_units, np.isinf(T_units),
        unit_models, models_with, pre_years, post_years, ind_rows, concerned,
        _unit_strata(dataset, units),
    )


def _unit_strata(dataset, units: tuple[str, ...]) -> np.ndarray | None:
    """Each unit's province code, when the units span more than one province (else None).

    A dataset of one province is one stratum, evaluated exactly as before strata existed.
    """
    table = dataset.units
    if not len(table) or "province_code" not in table:
        return None
    codes = dict(zip(table["unit_code"].astype(str), table["province_code"], strict=True))
    strata = np.array([str(codes.get(u, "") or "") for u in units])
    return strata if len(np.unique(strata)) > 1 else None


def _layers(ctx: _Context, indicator: str) -> tuple[np.ndarray, np.ndarray]:
    """(values (2, n, m), partial (n, m)): the outcome and the model's treatment indicator D.

    D is 1 in the years a pilot of the model is treated (from T to the year before its end)
    and has the outcome's missing cells, so that both layers select the same comparison sets.
    """
    M = indicator_matrix(ctx.annual, indicator, units=ctx.units, years=ctx.years)
    Y = M.values
    D = np.zeros_like(Y)
    for p in ctx.pilots:
        w = p.window
        last = ctx.years[-1] if w.treated_until is None else w.treated_until
        D[p.row, (ctx.years >= w.T) & (ctx.years <= last)] = 1.0
    D[np.isnan(Y)] = np.nan
    return np.stack([Y, D]), M.partial


def _mixed(ctx: _Context, indicator: str, codes) -> bool:
    """Whether the indicator concerns another model with pilots, and these units pilot it too."""
    concerned = ctx.concerned[indicator]
    if len(concerned) < 2:
        return False
    others = set(concerned) - {ctx.model}
    return any(ctx.unit_models.get(c, set()) & others for c in codes)


def _empty_row() -> dict:
    row = dict.fromkeys(RESULT_COLUMNS, np.nan)
    for key in ("unit_code", "unit_name", "pre_years_used", "post_years_used", "did_years_used",
                "pretrend_years_used",
                "comparison", "inference", "rank_direction", "verdict_earlier", "verdict_later",
                "start_precision", "start_status", "reason_vi", "reason_en", "reason_code",
                *_DISTRICT_TEXT):
        row[key] = ""
    row["start"] = pd.NaT
    row["end"] = pd.NaT
    row["pretrend_flag"] = pd.NA
    row["start_sensitive"] = False
    row["mixed_models"] = False
    row["joint_test"] = False
    return row


def _test_fields(row: dict, test: RankTest | None, level: float) -> None:
    row["ci_level"] = 1.0 - level
    if test is None:
        return
    row.update(
        p_better=test.p_better, p_worse=test.p_worse, p_two=test.p_two, p_min=test.p_min,
        n_assignments=test.n_assignments, inference="exact" if test.exact else "sampled",
        mc_error=test.mc_error, ci_low=test.ci_low, ci_high=test.ci_high, rank=test.rank,
        rank_direction=test.direction, hl_estimate=test.estimate,
    )


def _change_fields(row: dict, ind: dict) -> None:
    row["change"] = row["post_mean"] - row["pre_mean"]
    pre = row["pre_mean"]
    relative = ind["kind"] not in ("share", "rating")
    ok = relative and np.isfinite(pre) and pre != 0 and np.isfinite(row["change"])
    # A fraction (0.125 = +12.5 %), like every share in the package; undefined for a zero
    # pre mean; shares move in percentage points and ratings in grades, never in percent.
    row["pct_change"] = row["change"] / abs(pre) if ok else np.nan
    row["change_scale"] = "pp" if ind["kind"] == "share" else "level"


def _sign(ind: dict) -> int:
    return -1 if ind["better"] == "lower" else 1


def _pilot_windows(ctx: _Context, pilot: _Pilot, sensitivity: bool) -> list[Window]:
    """The pilot's window, then (approximate and assumed starts) one year earlier and later."""
    key = (pilot.row, pilot.window, sensitivity)
    windows = ctx.windows.get(key)
    if windows is None:
        windows = [pilot.window]
        if sensitivity and pilot.status in SHIFTED_STATUSES:
            windows += [pilot_window(pilot.start, pilot.precision, pilot.end, ctx.pre_years,
                                     ctx.post_years, shift=shift) for shift in (-1, 1)]
        ctx.windows[key] = windows
    return list(windows)


def _pilot_row(ctx: _Context, pilot: _Pilot, indicator: str, level: float,
               sensitivity: bool, prep, index: dict,
               cores: list | None = None) -> tuple[dict, _Core, list]:
    """One pilot's row; ``prep`` holds every pilot's windows (``index``: window -> its
    schedule in ``prep``), prepared once for the model and indicator; ``cores``: the pilot's
    cores when the caller computed them for all pilots at once (:func:`_cores_all`)."""
    ind = ctx.indicators[indicator]
    windows = _pilot_windows(ctx, pilot, sensitivity)
    shifting = len(windows) > 1
    if cores is None:
        cores = _cores_in(prep, pilot.row, [index[w] for w in windows], ctx.never,
                          ctx.T_units, strata=ctx.strata)
    core, *shifted_cores = cores
    row = _empty_row()
    w = pilot.window
    row.update(
        scope="pilot", unit_code=pilot.code, unit_name=pilot.name, model=ctx.model,
        indicator=indicator, kind=ind["kind"], better=ind["better"], start=pilot.start,
        start_precision=pilot.precision, start_status=pilot.status,
        end=pd.Timestamp(pilot.end) if not pd.isna(pilot.end) else pd.NaT,
        T=w.T, g=w.g, transition=w.transition,
        pre_years_used=years_text(core.pre_used), post_years_used=years_text(core.post_used),
        did_years_used=years_text(core.did_years), n_pre=len(core.pre_used),
        n_post=len(core.post_used), n_pilots=1, pre_mean=core.pre_mean,
        post_mean=core.post_mean, comparison=core.comparison,
        n_comparison=int(core.comp_units.sum()), trend_effect=core.pretrend.effect,
        pretrend_slope=core.pretrend.slope, pretrend_p=core.pretrend.p,
        pretrend_years_used=years_text(core.pretrend.years), pretrend_flag=core.pretrend.flag,
        mixed_models=_mixed(ctx, indicator, [pilot.code]),
        level=level,
    )
    row["joint_test"] = row["mixed_models"]
    _change_fields(row, ind)
    verdict, test = _judge(core, ind, level)
    _fill_verdict(row, verdict, test, core, ind, level, scope="pilot")
    if row["reason_code"] == "before_after" and _all_adopted(ctx, pilot, core):
        # Say the true cause: no district was left without the pilot, not missing data.
        row["reason_code"] = "before_after_all_adopted"
        row["reason_vi"], row["reason_en"] = _reason(
            "before_after_all_adopted", ind, level, scope="pilot", change=row["change"],
            years=core.post_used, n_years=len(core.post_used))
    if shifting:
        shifted = [_judge(c, ind, level, interval=False)[0] for c in shifted_cores]
        row["verdict_earlier"], row["verdict_later"] = shifted
        row["start_sensitive"] = any(v != verdict for v in shifted)
    return row, core, shifted_cores


def _all_adopted(ctx: _Context, pilot: _Pilot, core: _Core) -> bool:
    """Whether no unit but the pilot was outside the model in the first of its post years:
    before/after only because every other district had adopted, not because data are
    missing."""
    if not core.post_used:
        return False
    first = min(core.post_used)
    others = ctx.never | (ctx.T_units > first)
    others[pilot.row] = False
    return not others.any()


def _judge(core: _Core, ind: dict, level: float,
           interval: bool = True) -> tuple[str, RankTest | None]:
    if core.reason or core.placebo is None or len(core.placebo) < 2:
        return "not_assessed", None
    P = core.placebo
    has_d = interval and P.shape[1] > 1
    test = rank_test(
        P[:, 0], float(P[0, 0]), _sign(ind), level, exact=True,
        d_stats=P[:, 1] if has_d else None, d_observed=float(P[0, 1]) if has_d else None,
    )
    return decide(ind["better"], test, level), test


def _fill_verdict(row, verdict, test, core, ind, level, scope, n_pilots=0):
    did = float(core.did[0]) if core is not None else row["did"]
    row["did"] = did
    _test_fields(row, test, level)
    row["verdict"] = verdict
    if test is not None:
        code = _explain_test(verdict, test, level)
        row["status"] = "assessed"
    elif core is not None and core.reason:
        code = core.reason
        row["status"] = "not_assessed"
    elif scope == "pilot" and core.comparison == "none":
        code = "before_after"
        row["status"] = "estimate_only"
    else:
        code = "no_placebo"
        row["status"] = "estimate_only"
    years = core.pre_used if code == "few_pre" else core.post_used if core is not None else ()
    row["reason_code"] = code
    row["reason_vi"], row["reason_en"] = _reason(
        code, ind, level, scope=scope, did=did, change=row["change"], test=test,
        n_pilots=n_pilots, years=years, n_years=len(years),
    )


# =========================================================================== one model
def _model_row(ctx: _Context, indicator: str, values: np.ndarray, cores: list,
               level: float, sensitivity: bool, seed: int, max_enumerate: int,
               draws: int) -> dict:
    ind = ctx.indicators[indicator]
    row = _empty_row()
    row.update(scope="model", unit_code="*", unit_name="", model=ctx.model,
               indicator=indicator, kind=ind["kind"], better=ind["better"], level=level)
    assessed = [(p, c) for p, c in cores if not c.reason]
    row["n_pilots"] = len(assessed)
    if assessed:
        row["pre_mean"] = float(np.mean([c.pre_mean for _, c in assessed]))
        row["post_mean"] = float(np.mean([c.post_mean for _, c in assessed]))
        comps = sorted({c.comparison for _, c in assessed})
        row["comparison"] = ";".join(comps)
        row["n_comparison"] = int(np.logical_or.reduce([c.comp_units for _, c in assessed]).sum())
        trends = [c.pretrend.effect for _, c in assessed]
        trend_ps = [c.pretrend.p for _, c in assessed]
    _change_fields(row, ind)
    row["mixed_models"] = _mixed(ctx, indicator, [p.code for p in ctx.pilots])
    row["joint_test"] = row["mixed_models"]
    row["ci_level"] = 1.0 - level
    run = _pooled_test(ctx, values, ctx.pilots, ind, level, seed, max_enumerate, draws)
    obs, test, total, code, mde = run
    row["did"] = obs
    row["mde"] = mde
    row["n_possible"] = total
    _test_fields(row, test, level)
    if assessed and np.isfinite(obs) and all(np.isfinite(trends)):
        effect = float(np.mean(trends))
        row["trend_effect"] = effect
        smallest = min((p for p in trend_ps if np.isfinite(p)), default=math.nan)
        row["pretrend_p"] = smallest
        row["pretrend_flag"] = size_rule(effect, obs) and smallest < PRETREND_LEVEL
    verdict = decide(ind["better"], test, level) if test is not None else "not_assessed"
    row["verdict"] = verdict
    if test is not None:
        code = _explain_test(verdict, test, level)
        row["status"] = "assessed"
    else:
        row["status"] = "estimate_only" if np.isfinite(obs) else "not_assessed"
    row["reason_code"] = code
    row["reason_vi"], row["reason_en"] = _reason(
        code, ind, level, scope="model", did=obs, change=row["change"], test=test,
        n_pilots=len(assessed),
    )
    shifted_pilots = [p for p in ctx.pilots if p.status in SHIFTED_STATUSES]
    if sensitivity and shifted_pilots:
        verdicts = []
        for shift in (-1, 1):
            moved = tuple(
                p if p.status not in SHIFTED_STATUSES else _shift_pilot(ctx, p, shift)
                for p in ctx.pilots
            )
            verdicts.append(_shifted_verdict(ctx, values[:1], moved, ind, level, seed,
                                             max_enumerate, draws))
        row["verdict_earlier"], row["verdict_later"] = verdicts
        row["start_sensitive"] = any(v != verdict for v in verdicts)
    return row


def _shift_pilot(ctx: _Context, p: _Pilot, shift: int) -> _Pilot:
    w = pilot_window(p.start, p.precision, p.end, ctx.pre_years, ctx.post_years, shift=shift)
    return _Pilot(p.code, p.row, p.name, p.start, p.precision, p.status, p.end, w)


def _schedule_key(w: Window) -> tuple[int, int, int]:
    # An open end sorts after every year.
    return (w.T, w.g, w.treated_until if w.treated_until is not None else 10**6)


@dataclass(frozen=True)
class _Placements:
    """A model test's observed labels, per-unit pieces and assignments (:func:`_place`)."""

    labels: np.ndarray  # (n,) the observed schedule label of each usable unit (0 = never)
    prep: object  # core._Prep over the usable units and the schedules
    T_of_label: np.ndarray  # (K + 1,) each label's T (inf for never)
    strata: np.ndarray | None
    A: Assignments


def _place(ctx, values, pilots, seed, max_enumerate, draws) -> _Placements | None:
    """What a model test ranks over: the model's observed multiset of schedules (T, g, end;
    0 = never) and its placements on the units with any usable value of the indicator.
    None when no pilot has one."""
    usable = np.flatnonzero(~np.isnan(values[0]).all(1))
    pos = {int(r): i for i, r in enumerate(usable)}
    placed = [p for p in pilots if p.row in pos]
    by_key = {}
    for p in placed:
        by_key.setdefault(_schedule_key(p.window), p.window)
    keys = sorted(by_key)
    if not keys:
        return None
    windows = [by_key[k] for k in keys]
    labels = np.zeros(len(usable), dtype=np.int16)
    for p in placed:
        labels[pos[p.row]] = keys.index(_schedule_key(p.window)) + 1
    prep = _prepare(values[:, usable], ctx.years, windows)
    T_of_label = np.array([np.inf] + [w.T for w in windows])
    strata = ctx.strata[usable] if ctx.strata is not None else None
    A = draw_assignments(labels, max_enumerate, draws, seed, strata=strata)
    return _Placements(labels, prep, T_of_label, strata, A)


def _pooled_test(ctx, values, pilots, ind, level, seed, max_enumerate, draws):
    """(observed statistic, test or None, number of possible assignments, reason code,
    minimum detectable effect).

    Assignments place the model's observed multiset of schedules (T, g, end; 0 = never) on
    the units with any usable value of the indicator (:func:`_place`).
    """
    return _placed_test(_place(ctx, values, pilots, seed, max_enumerate, draws), values, ind,
                        level)


def _placed_test(pl: _Placements | None, values, ind, level):
    """:func:`_pooled_test` over placements :func:`_place` made."""
    if pl is None:
        return math.nan, None, 0, "no_pilots", math.nan
    A = pl.A
    # One pass for the observed assignment (row 0) and all the others.
    stats = _pooled(pl.prep, np.vstack([pl.labels[None], A.labels]), pl.T_of_label, pl.strata)
    observed, stats = stats[0], stats[1:]
    if not np.isfinite(observed[0]):
        return math.nan, None, 0, "no_pilots", math.nan
    if A.total <= 1:
        return float(observed[0]), None, A.total, "one_assignment", math.nan
    has_d = values.shape[0] > 1
    test = rank_test(
        stats[:, 0], float(observed[0]), _sign(ind), level, exact=A.exact,
        d_stats=stats[:, 1] if has_d else None,
        d_observed=float(observed[1]) if has_d else None,
    )
    if test.n_assignments < 2:
        return float(observed[0]), None, A.total, "one_assignment", math.nan
    mde = math.nan
    if has_d:
        # The null spread on the data with the estimated effect taken out (Y - hl D).
        hl = test.estimate if math.isfinite(test.estimate) else 0.0
        null = stats[:, 0] - hl * stats[:, 1]
        ok = np.isfinite(null) & np.isfinite(stats[:, 1])
        if ok.any():
            leverage = float(observed[1]) - float(stats[ok, 1].mean())
            mde = dist.minimum_detectable_effect(null[ok], level, leverage=leverage,
                                                 n_extra=0 if A.exact else 1)
    return float(observed[0]), test, A.total, "", mde


def _shifted_verdict(ctx, values, pilots, ind, level, seed, max_enumerate, draws) -> str:
    """The verdict of :func:`_pooled_test` on the outcome (``values`` (1, n, m)) with shifted
    starts: all that the start-date sensitivity reads.

    Enumerated placements run the full test, exactly as before. Sampled
    ones are read sequentially (:func:`_sequential_verdict`); a verdict still open after the
    last look is the full test's, computed in one pass as before, so it is exactly the one of
    all ``draws``.
    """
    pl = _place(ctx, values, pilots, seed, max_enumerate, draws)
    if pl is None:
        return "not_assessed"
    verdict = None
    if not pl.A.exact and pl.A.total > 1:
        verdict = _sequential_verdict(pl, ind, level)
    if verdict is None:
        test = _placed_test(pl, values, ind, level)[1]
        verdict = decide(ind["better"], test, level) if test else "not_assessed"
    return verdict


def _sequential_verdict(pl: _Placements, ind: dict, level: float) -> str | None:
    """The full test's verdict read from growing prefixes of its own sampled assignments
    (:data:`LOOKS`: the first 250, 500, ... of ``pl.A``'s rows, never more), stopping at the
    first look where :func:`sequential_verdict` settles it; None if none does.

    Why (issue 17): at 696 districts the start-date sensitivity's 36 shifted tests, each over
    9,999 placements, took two thirds of the pooled tests' time for a verdict that is usually
    plain after a few hundred. Measured on the 696-unit demo, stopping only where the counts
    settle the verdict exactly (curtailment) would still evaluate about 39 % of the draws (a
    p-value of 0.1-0.2 needs thousands of draws to pass 500 extreme ones), the bounded-risk
    stops in both directions about 12 %. So both are used: the verdict differs from the one
    of all draws with chance at most :data:`LOOK_RISK` (0.1 %) per test, whatever the true
    p-values, small beside the Monte-Carlo error of 9,999 draws themselves near ``level``.

    The rows are the same draws in the same order as the full test's: a prefix of
    independent uniform placements is itself such a sample, so the looks are legitimate
    (for stratified draws too, although those of a smaller ``draws`` differ). Each look
    evaluates only its new rows; :func:`_pooled`'s statistic of a row does not depend on the
    rows beside it (up to rounding in the last bit).
    """
    A = pl.A
    B = len(A)
    looks = [k for k in LOOKS if k < B]
    if not looks:
        return None
    risk = LOOK_RISK / len(looks)
    sign = _sign(ind)
    b_better = b_worse = n_nan = done = 0
    observed = None
    for k in looks:
        rows = A.rows(done, k)
        if observed is None:  # the observed assignment with the first look's rows
            stats = _pooled(pl.prep, np.vstack([pl.labels[None], rows]), pl.T_of_label,
                            pl.strata)[:, 0]
            observed, stats = float(stats[0]), stats[1:]
            if not math.isfinite(observed):
                return "not_assessed"
        else:
            stats = _pooled(pl.prep, rows, pl.T_of_label, pl.strata)[:, 0]
        good, bad = tail_counts(stats, observed, sign)
        b_better, b_worse = b_better + good, b_worse + bad
        n_nan += int(np.isnan(stats).sum())
        done = k
        verdict = sequential_verdict(ind["better"], b_better, b_worse, n_nan, k, B, level,
                                     risk)
        if verdict is not None:
            return verdict
    return None


# =========================================================================== district evidence
def _model_block(ctx: _Context, indicator: str, level: float, sensitivity: bool, seed: int,
                 max_enumerate: int, draws: int) -> tuple[list[dict], dict]:
    """Every pilot row and the model row of one model x indicator, district evidence included.

    :func:`evaluate_pilot` and :func:`evaluate_all` both go through here, so a pilot's district
    verdict (which needs the model's verdict and the other pilots) is the same in both.
    """
    values, _ = _layers(ctx, indicator)
    rows, cores, shifted = [], [], []
    # One set of per-unit pieces for every pilot's windows (linear in the units).
    index: dict[Window, int] = {}
    for pilot in ctx.pilots:
        for w in _pilot_windows(ctx, pilot, sensitivity):
            index.setdefault(w, len(index))
    prep = _prepare(values, ctx.years, list(index)) if index else None
    every = _cores_all(prep, [(p.row, [index[w] for w in _pilot_windows(ctx, p, sensitivity)])
                              for p in ctx.pilots], ctx.never, ctx.T_units,
                       strata=ctx.strata) if index else []
    for pilot, its in zip(ctx.pilots, every, strict=True):
        row, core, moved = _pilot_row(ctx, pilot, indicator, level, sensitivity, prep, index,
                                      its)
        rows.append(row)
        cores.append((pilot, core))
        shifted.append(moved)
    model_row = _model_row(ctx, indicator, values, cores, level, sensitivity, seed,
                           max_enumerate, draws)
    _district(ctx, indicator, values[0], cores, shifted, rows, model_row, level)
    return rows, model_row


def _own(ctx: _Context, core: _Core, p: int, Y: np.ndarray, level: float,
         sign: int, memo: dict | None = None) -> tuple[dist.OwnEstimate, np.ndarray | None]:
    """The own estimate of pilot row ``p`` under ``core``'s window, and every unit's change on
    that window with NaN outside the reference districts (None without an estimate).

    Reference districts: the never units, or under not-yet comparison the units untreated
    through the last year ``did`` averages, each with a value in every pre year and every year
    ``did`` averages (``did`` itself may use unbalanced comparison sets). The changes row is
    shared (read-only) by the pilots compared with the same districts.
    """
    if core.reason or core.comparison == "none" or not core.did_years:
        return dist.NO_ESTIMATE, None
    years = ctx.years
    obs = core.prep.obs  # ~isnan(Y): the prep was built from the same values
    # The reference districts and their changes are the same for every pilot of a province
    # with these years (``memo``), unless the pilot itself would be one of them.
    local = ctx.strata is not None and not core.comparison.endswith("_all")
    key = (core.comparison, ctx.strata[p] if local else None, core.pre_used, core.did_years)
    got = memo.get(key) if memo is not None else None
    if got is None or got[0][p]:
        pre = np.zeros(len(years), dtype=bool)
        post = pre.copy()
        pre[np.asarray(core.pre_used, dtype=int) - int(years[0])] = True
        post[np.asarray(core.did_years, dtype=int) - int(years[0])] = True
        last = max(core.did_years)
        cand = eligible_units(core.comparison, p, ctx.never, ctx.T_units, ctx.strata, last)
        base = cand.copy()  # the pool, p included if it belongs (its own stratum: always)
        base[p] = bool(ctx.never[p]) if core.comparison.removesuffix("_all") == "never" \
            else bool(ctx.T_units[p] > last)
        idx = np.flatnonzero(cand)
        idx = idx[obs[idx][:, pre | post].all(axis=1)]  # the reference districts
        # Changes of the references only (row by row the same arithmetic as dist.changes on
        # every unit: a national dataset has 696 units, a province a dozen).
        Y_ref = Y[idx]
        got = (base, pre, post, dist.References(idx, dist.changes(Y_ref, pre, post), Y_ref,
                                                 len(Y)))
        if memo is not None and not base[p]:
            memo[key] = got
    _, pre, post, refs = got
    row = Y[p]
    # (dist.changes on this row: the same sums)
    e_p = row[post].sum() / post.sum() - row[pre].sum() / pre.sum()
    # The noise floor looks back as far as the pre-trend check (PRETREND_SPAN pre windows).
    w = core.window
    span = memo.get(("span", w.T, w.pre_years)) if memo is not None else None
    if span is None:
        span = (years < w.T) & (years >= w.T - PRETREND_SPAN * w.pre_years)
        if memo is not None:
            memo[("span", w.T, w.pre_years)] = span
    before = span & obs[p]
    if refs.n:
        before &= refs.observed
    floor = refs.noise_floor(row[before], before)
    own = refs.single_case(float(e_p), floor, level, sign)
    if own.n_reference < 2:
        return dist.NO_ESTIMATE, None
    return own, refs.E


def _joint_with(ctx: _Context, indicator: str) -> list[str]:
    """The other models whose pilots overlap this model's on an indicator both concern: the
    models the model test is joint with."""
    others = [m for m in ctx.concerned.get(indicator, []) if m != ctx.model]
    return [m for m in others if any(m in ctx.unit_models.get(p.code, set())
                                     for p in ctx.pilots)]


def _model_name(ctx: _Context, code: str, lang: str) -> str:
    models = ctx.dataset.models
    names = dict(zip(models["code"].tolist(), models[f"label_{lang}"].tolist(), strict=True))
    text = names.get(code)
    return text if isinstance(text, str) and text else code


def _direction(model_row: dict, b: int, fallback: float) -> int:
    """The way the model's effect goes: the verdict's when conclusive, else the others'."""
    verdict = model_row["verdict"]
    if verdict == "improved":
        return b
    if verdict == "worsened":
        return -b
    if verdict == "changed":
        est = model_row["hl_estimate"]
        est = est if np.isfinite(est) else model_row["did"]
        return 1 if est >= 0 else -1
    if np.isfinite(fallback) and fallback != 0:
        return 1 if fallback > 0 else -1
    return b


def _district(ctx: _Context, indicator: str, Y: np.ndarray, cores: list, shifted: list,
              rows: list[dict], model_row: dict, level: float) -> None:
    """Fill the district evidence of the pilot rows and turn their verdicts into the district
    vocabulary (kiemnhiem.stats.district; DESIGN.md, "District evidence")."""
    ind = ctx.indicators[indicator]
    b = _sign(ind) if ind["better"] != "none" else 1
    M = str(model_row["verdict"])
    owns, Es = [], []
    memo: dict = {}  # reference districts shared by the pilots of a province, spans (_own)
    for (pilot, core), row in zip(cores, rows, strict=True):
        own, E = _own(ctx, core, pilot.row, Y, level, b, memo)
        owns.append(own)
        Es.append(E)
        row.update(own_estimate=own.estimate, own_low=own.low, own_high=own.high,
                   own_p_better=own.p_better, own_p_worse=own.p_worse,
                   noise_floor=own.noise_floor, n_reference=own.n_reference)
    # Pooled and leave-one-out over the pilots with an own estimate, within each province
    # (module docstring of kiemnhiem.stats.district: "Provinces as strata").
    # A pilot whose noise floor is infinite (its reference districts never vary, it does)
    # carries no evidence to pool.
    idx = [i for i, E in enumerate(Es) if E is not None and math.isfinite(owns[i].noise_floor)]
    P = len(idx)
    pos = {k: j for j, k in enumerate(idx)}
    pooled = tuple(np.full(P, np.nan) for _ in range(3))
    p_het, expected = np.full(P, np.nan), np.full(P, np.nan)
    others = np.zeros(P, dtype=int)
    for group in _by_stratum(ctx, [cores[i][0] for i in idx]):
        members = [idx[j] for j in group]
        others[group] = len(group) - 1
        if len(group) < 2:
            continue
        d = np.array([owns[i].estimate for i in members])
        Sigma = dist.shared_covariance(np.array([Es[i] for i in members]),
                                       np.array([owns[i].noise_floor for i in members]))
        nu = min(owns[i].n_reference for i in members) - 1
        for out, values in zip(pooled, dist.pooled_effects(d, Sigma, nu, level), strict=True):
            out[group] = values
        p_het[group], expected[group] = dist.loo_consistency(d, Sigma, nu)
    # Long difference, for the pilots with no comparison after their start.
    long_windows = _long_windows(ctx)
    long_memo: dict = {}  # per province: its long differences (dist.LongDifferences)
    joint = _joint_with(ctx, indicator) if model_row["joint_test"] else []
    joint_names = {lang: ", ".join(_model_name(ctx, m, lang) for m in joint)
                   for lang in ("vi", "en")} if joint else {}
    for k, ((pilot, core), row, own) in enumerate(zip(cores, rows, owns, strict=True)):
        row["placebo_verdict"] = row["verdict"]
        row["placebo_reason_code"] = row["reason_code"]
        row["placebo_reason_vi"], row["placebo_reason_en"] = row["reason_vi"], row["reason_en"]
        row["model_verdict"] = M
        row["mde"] = model_row["mde"]
        row["joint_with"] = ";".join(joint)
        comparison = core.comparison != "none"
        flagged, rel = False, ""
        ld = dist.NO_LONG_DIFFERENCE
        if k in pos:
            j = pos[k]
            row["pooled_estimate"], row["pooled_low"], row["pooled_high"] = (
                float(pooled[0][j]), float(pooled[1][j]), float(pooled[2][j]))
            row["consistency_p"] = float(p_het[j])
            if np.isfinite(p_het[j]):
                flagged = bool(p_het[j] <= dist.FLAG_LEVEL)
                direction = _direction(model_row, b, expected[j])
                rel = dist.relation(own.estimate, float(expected[j]), direction, flagged)
                row["consistency"] = rel
                if flagged:  # shown only "if the pilots work alike"
                    row["pooled_estimate"] = row["pooled_low"] = row["pooled_high"] = np.nan
        elif not core.reason and not comparison and long_windows:
            ld = _long_difference(ctx, Y, long_windows, pilot.row, long_memo)
            row["long_diff"], row["long_diff_p"] = ld.estimate, ld.p_two
            if np.isfinite(ld.p_two):
                flagged = bool(ld.p_two <= dist.FLAG_LEVEL)
                direction = _direction(model_row, b, math.nan)
                rel = dist.relation(ld.estimate, 0.0, direction, flagged, opposite=False)
                row["consistency"] = rel
        pre_flag = row["pretrend_flag"]
        pretrend_on = bool(pre_flag) if not pd.isna(pre_flag) else False

        rule = functools.partial(
            _rule, pretrend=pretrend_on, flagged=flagged, relation=rel,
            long_difference=bool(np.isfinite(ld.estimate)), level=level, better=ind["better"])

        verdict = rule(core, M, own)
        row["verdict"] = verdict
        _district_reason(row, verdict, core, own, ld, rel, M, ind, level, joint_names,
                         float(expected[pos[k]]) if k in pos else math.nan,
                         int(others[pos[k]]) if k in pos else 0)
        if shifted[k]:
            moved = []
            for c, key in zip(shifted[k], ("verdict_earlier", "verdict_later"), strict=True):
                m = model_row[key] or M
                # The rule reads the own p-values only to tell improved or worsened from
                # in_line (district_verdict): no own estimate is needed otherwise.
                o = _own(ctx, c, pilot.row, Y, level, b, memo)[0] \
                    if m in ("improved", "worsened") and ind["better"] != "none" \
                    else dist.NO_ESTIMATE
                moved.append(rule(c, m, o))
            row["verdict_earlier"], row["verdict_later"] = moved
            row["start_sensitive"] = any(v != verdict for v in moved)


def _stratum(ctx: _Context, row: int):
    return ctx.strata[row] if ctx.strata is not None else ""


def _by_stratum(ctx: _Context, pilots: list[_Pilot]) -> list[list[int]]:
    """Positions in ``pilots`` grouped by province (one group within one province)."""
    groups: dict = {}
    for j, p in enumerate(pilots):
        groups.setdefault(_stratum(ctx, p.row), []).append(j)
    return list(groups.values())


def _long_difference(ctx: _Context, Y: np.ndarray, long_windows: dict, row: int,
                     memo: dict) -> dist.LongDifference:
    """The long difference of unit row ``row`` against the other units of its province."""
    key = _stratum(ctx, row)
    got = memo.get(key)
    if got is None:
        rows_in, long_pre, long_post = long_windows[key]
        got = memo[key] = ({int(r): j for j, r in enumerate(rows_in)},
                           dist.LongDifferences(Y[rows_in], ctx.years, long_pre, long_post))
    position, ld = got
    return ld.of(position[row])


def _long_windows(ctx: _Context) -> dict:
    """Per province: (its unit rows, pre years, post years) of the long difference: before
    any of its pilots of the model started, after all of them had (and before any ended)."""
    out = {}
    for group in _by_stratum(ctx, list(ctx.pilots)):
        pilots = [ctx.pilots[j] for j in group]
        key = _stratum(ctx, pilots[0].row)
        rows = (np.flatnonzero(ctx.strata == key) if ctx.strata is not None
                else np.arange(len(ctx.units)))
        last = [p.window.treated_until for p in pilots if p.window.treated_until is not None]
        pre = ctx.years < min(p.window.T for p in pilots)
        post = ctx.years >= max(p.window.g for p in pilots)
        if last:
            post &= ctx.years <= min(last)
        out[key] = (rows, pre, post)
    return out


def _rule(c: _Core, m: str, o: dist.OwnEstimate, **fixed) -> str:
    """The district verdict for ``c`` (the main or a shifted window), model verdict ``m``."""
    return dist.district_verdict(assessable=not c.reason, comparison=c.comparison != "none",
                                 model_verdict=m, p_better=o.p_better, p_worse=o.p_worse,
                                 **fixed)


def _district_reason(row, verdict, core, own, ld, rel, M, ind, level, joint_names, expected,
                     n_others) -> None:
    """reason_code and the one-sentence reasons of a district verdict: which evidence decided
    (the model's verdict, the district's own estimate and range, the other pilots)."""
    if verdict == "no_data":
        code = core.reason  # no_data, few_pre, few_post: the existing sentences
        years = core.pre_used if code == "few_pre" else core.post_used
        row["reason_code"] = code
        row["reason_vi"], row["reason_en"] = _reason(
            code, ind, level, scope="pilot", years=years, n_years=len(years))
        return
    code = f"district_{verdict}"
    if verdict == "differs" and core.comparison == "none":
        code = "district_differs_before_after"
    out = []
    for lang in ("vi", "en"):
        f: dict[str, object] = {}
        m_key = M if M in ("improved", "worsened", "changed", "no_clear_change") else (
            "not_assessed")
        f["model"] = label(f"dist_model_{m_key}", lang)
        if M in ("improved", "worsened", "changed"):
            f["model_dir"] = label(f"dist_dir_{M}", lang)
        if np.isfinite(own.estimate):
            f["own"] = label(
                "dist_own", lang, estimate=_fmt_effect(own.estimate, ind, lang),
                pct=_number(100 * (1 - level), lang, 0),
                low=_fmt_effect(own.low, ind, lang), high=_fmt_effect(own.high, ind, lang),
                n=own.n_reference)
        else:
            f["own"] = label("dist_own_missing", lang)
        if rel:
            f["relation"] = label(f"dist_rel_{rel}", lang)
        if np.isfinite(expected):
            f["expected"] = _fmt_effect(expected, ind, lang)
        if np.isfinite(row["change"]):
            f["change"] = _fmt_effect(row["change"], ind, lang)
        else:
            f["change"] = "–"
        if np.isfinite(ld.estimate):
            f["ld"] = _fmt_effect(ld.estimate, ind, lang)
        f["year"] = core.window.g
        text = label(f"eval_reason_{code}", lang, **f)
        if verdict in ("improved", "worsened", "in_line", "no_clear_change") and n_others >= 2 \
                and rel in ("consistent", "stronger"):
            text += " " + label(f"dist_consistency_{rel}", lang, k=n_others)
        if joint_names:
            text += " " + label("dist_joint", lang, other=joint_names[lang])
        out.append(text)
    row["reason_code"] = code
    row["reason_vi"], row["reason_en"] = out


# =========================================================================== public API
def _resolve_pilot(dataset, ctx: _Context, unit) -> _Pilot:
    codes = {p.code for p in ctx.pilots}
    text = str(unit).strip()
    code = None
    if text in codes:
        code = text
    elif text.isdigit() and text.zfill(3) in codes:
        code = text.zfill(3)
    else:
        from ..data.units import UnitMatcher

        code = UnitMatcher(dataset.province_code).resolve(text).code
    if code not in codes:
        names = ", ".join(f"{p.name} ({p.code})" for p in ctx.pilots) or "–"
        vi, en = both("eval_err_not_pilot", unit=text, model=ctx.model, pilots=names)
        raise ParameterError(vi, en)
    return ctx.pilot(code)


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    for col in ("T", "g", "n_pre", "n_post", "n_pilots", "n_comparison", "n_assignments",
                "rank"):
        frame[col] = frame[col].astype("Int64")
    # n!/prod(m_k!) overflows 64-bit integers beyond a few dozen units: a float keeps its size.
    frame["n_possible"] = frame["n_possible"].astype(float)
    for col in ("pretrend_flag", "transition"):
        frame[col] = frame[col].astype("boolean")
    for col in ("start_sensitive", "mixed_models", "joint_test"):
        frame[col] = frame[col].astype(bool)
    for col in ("start", "end"):
        frame[col] = pd.to_datetime(frame[col])
    return frame


def evaluate_pilot(dataset, unit, model: str, pre_years: int = 3, post_years: int = 3,
                   level: float = 0.10, *, sensitivity: bool = True) -> pd.DataFrame:
    """One pilot on every indicator that concerns its model: its rows of :func:`evaluate_all`.

    The district verdict needs the model's verdict and the other pilots, so each indicator's
    whole model block is computed (with the default ``seed``, ``max_enumerate`` and
    ``draws``); the pilot's row is the same as in :func:`evaluate_all`.

    Parameters
    ----------
    dataset : Dataset
    unit : str or int
        Name (any spelling :class:`~kiemnhiem.data.units.UnitMatcher` resolves in the dataset's
        province) or code of a pilot unit of ``model``.
    model : str
        Model code, e.g. ``"tuyengiao_ttct"``.
    pre_years, post_years : int
        Window lengths (calendar years).
    level : float
        Test level: verdicts at ``level``, intervals with coverage ``1 - level``.
    sensitivity : bool
        Re-evaluate approximate and assumed starts one year earlier and later.

    Returns
    -------
    DataFrame
        One row per indicator, columns :data:`RESULT_COLUMNS` (``scope`` = "pilot").

    Raises
    ------
    ParameterError
        Unknown model, a unit that is not a pilot of the model, invalid windows or level.
    """
    level = _check_level(level)
    ctx = _context(dataset, model, pre_years, post_years)
    pilot = _resolve_pilot(dataset, ctx, unit)
    rows = []
    k = ctx.pilots.index(pilot)
    for indicator in indicators_for_model(dataset.indicators, model)["code"]:
        pilot_rows, _ = _model_block(ctx, indicator, level, sensitivity, SEED, MAX_ENUMERATE,
                                     DRAWS)
        rows.append(pilot_rows[k])
    return _frame(rows)


def evaluate_all(dataset, pre_years: int = 3, post_years: int = 3, level: float = 0.10, *,
                 models=None, sensitivity: bool = True, seed: int = SEED,
                 max_enumerate: int = MAX_ENUMERATE, draws: int = DRAWS) -> pd.DataFrame:
    """Every pilot x indicator of every model, plus one pooled row per model x indicator.

    Parameters
    ----------
    dataset : Dataset
    pre_years, post_years, level, sensitivity
        As :func:`evaluate_pilot`.
    models : list of str, optional
        Restrict to these models (default: every model with pilots, in order of appearance).
    seed, max_enumerate, draws
        The pooled test enumerates all assignments when there are at most ``max_enumerate``,
        else draws ``draws`` of them uniformly with replacement from ``seed``.

    Returns
    -------
    DataFrame
        Per model the pilot rows (``scope`` "pilot", by unit code, then indicator in catalog
        order), then one row per indicator for the pooled effect (``scope`` "model",
        ``unit_code`` "*", ``unit_name`` ""). Columns (:data:`RESULT_COLUMNS`):

        - identity: ``scope``, ``unit_code``, ``unit_name``, ``model``, ``indicator``,
          ``kind``, ``better``; pilot rows also ``start``, ``start_precision``,
          ``start_status``, ``end``, ``T``, ``g``, ``transition``;
        - data used: ``pre_years_used``, ``post_years_used``, ``did_years_used`` ("2015;2016;
          2017"), ``n_pre``, ``n_post``; ``n_pilots`` (model rows: pilots assessed);
        - estimates: ``pre_mean``, ``post_mean``, ``change`` (model rows: means over the
          assessed pilots), ``change_scale`` ("pp" for shares, else "level"),
          ``pct_change`` (fraction), ``did`` (model rows: the pooled effect),
          ``comparison`` ("never", "notyet", "none"; model rows ";"-joined),
          ``n_comparison`` (distinct units compared with);
        - inference: ``p_better``, ``p_worse``, ``p_two``, ``p_min``, ``n_assignments``
          (|A|, the observed included; 1 + draws when sampled), ``n_possible`` (model rows:
          all possible placements), ``inference`` ("exact", "sampled" or ""), ``mc_error``,
          ``rank`` and ``rank_direction`` ("rise"/"fall": the observed is the ``rank``-th
          largest of the |A|), ``ci_low``, ``ci_high`` (may be infinite), ``ci_level``,
          ``hl_estimate`` (Hodges-Lehmann: always inside the interval);
        - checks: ``trend_effect``, ``pretrend_slope`` (a year; pilot rows),
          ``pretrend_p`` (model rows: the smallest of its pilots'), ``pretrend_years_used``,
          ``pretrend_flag`` (nullable), ``start_sensitive``,
          ``verdict_earlier``, ``verdict_later`` ("" when the start is documented),
          ``mixed_models``, ``joint_test``;
        - outcome: ``status`` ("assessed"; "estimate_only" when there is an estimate but no
          test; "not_assessed"), ``verdict``, ``reason_code`` (the ``eval_reason_*`` label),
          ``reason_vi``, ``reason_en`` (one sentence each), ``level``. Model rows: verdict
          "improved", "worsened", "changed", "no_clear_change", "not_assessed"; reason codes
          improved, worsened, changed, no_clear_change, inconclusive, no_pilots,
          one_assignment. Pilot rows take the district vocabulary
          (:data:`kiemnhiem.stats.district.DISTRICT_VERDICTS`, DESIGN.md "District evidence"):
          "improved", "worsened", "in_line", "differs", "pretrend", "no_clear_change",
          "no_data", and without a comparison after the start "in_line_before_after",
          "no_clear_change_before_after", "before_after_only"; reason codes
          ``district_<verdict>`` (``district_differs_before_after`` for a flagged long
          difference) or, for "no_data", no_data, few_pre, few_post. For an indicator with
          no better direction a district is "in_line" when the model "changed", never
          improved or worsened;
        - the per-pilot rank test, now descriptive: ``placebo_verdict``,
          ``placebo_reason_code`` (inconclusive, no_clear_change, before_after, ...),
          ``placebo_reason_vi``, ``placebo_reason_en`` (with the rank: "the largest fall of
          the 8 districts"), beside ``p_better`` ... ``rank``;
        - district evidence (pilot rows; :mod:`kiemnhiem.stats.district`): ``own_estimate``,
          ``own_low``, ``own_high`` (``1 - level`` interval), ``own_p_better``,
          ``own_p_worse`` (single-case t; for ``better`` = none a rise and a fall),
          ``noise_floor``, ``n_reference``; ``pooled_estimate``, ``pooled_low``,
          ``pooled_high`` ("if the pilots work alike"; NaN where the pilot is flagged);
          ``consistency_p``, ``consistency`` (consistent, weaker, stronger, opposite; for
          pilots without a comparison after the start, from the long difference, whose p is
          ``long_diff_p``); ``long_diff``, ``long_diff_p``; ``model_verdict`` (M, the model
          row's verdict); ``joint_with`` (";"-joined models the model test is joint with on
          this indicator);
        - power: ``mde`` (model rows, copied onto their pilot rows): the effect size the
          model test would find 80 % of the time with these districts, years and noise
          (:func:`kiemnhiem.stats.district.minimum_detectable_effect`); ``inf`` when no test can
          conclude, NaN without a test.
    """
    level = _check_level(level)
    annual = annual_panel(dataset)
    if models is None:
        models = list(dict.fromkeys(str(m) for m in dataset.pilots["model"]))
    rows = []
    for model in models:
        ctx = _context(dataset, model, pre_years, post_years, annual)
        pilot_rows, model_rows = [], []
        for indicator in indicators_for_model(dataset.indicators, model)["code"]:
            block, model_row = _model_block(ctx, indicator, level, sensitivity, seed,
                                            max_enumerate, draws)
            pilot_rows += block
            model_rows.append(model_row)
        order = {code: i for i, code in enumerate(dataset.indicators["code"])}
        pilot_rows.sort(key=lambda r: (r["unit_code"], order.get(r["indicator"], 0)))
        rows += pilot_rows + model_rows
    return _frame(rows)


def pilot_series(dataset, unit, model: str, indicator: str, pre_years: int = 3,
                 post_years: int = 3) -> pd.DataFrame:
    """The yearly series behind one pilot's estimate, for charts.

    Returns
    -------
    DataFrame
        One row per year of the data (the dataset's first to last year):

        - ``year``;
        - ``pilot``: the pilot's value, NaN when missing or a left-out partial flow;
        - ``comparison_mean``: mean level of the comparison units with a value that year. In
          the years ``did`` averages, exactly ``C_t``; in other years the units ``did``
          compares with; when ``did`` has no comparison, the units never in the model, else
          those untreated through the year;
        - ``counterfactual``: the pilot's pre mean plus the comparison units' mean deviation
          from their own pre means, i.e. where the pilot would be had it moved like them
          (NaN without a comparison); in the years ``did`` averages, ``pilot`` minus it
          averages to ``did``;
        - ``n_comparison``: how many units ``comparison_mean`` averages;
        - ``window``: "pre", "transition", "post" or "";
        - ``partial``: the year is partial for the pilot (a stock keeps its value).
    """
    return _series(_context(dataset, model, pre_years, post_years), dataset, unit, indicator)


def _series(ctx: _Context, dataset, unit, indicator: str, layers: dict | None = None
            ) -> pd.DataFrame:
    """:func:`pilot_series` in the model's context ``ctx``, which a report builds once for all
    its indicators (:func:`kiemnhiem.stats.eventstudy.pilot_profiles`). ``layers``: a dict
    in which :func:`_layers` is kept by indicator for the model's other pilots (they only read
    it, as :func:`evaluate_all`'s pilots share it)."""
    pilot = _resolve_pilot(dataset, ctx, unit)
    if indicator not in set(dataset.indicators["code"]):
        vi, en = both("eval_err_unknown_indicator", indicator=indicator)
        raise ParameterError(vi, en)
    if layers is None:
        values, partial = _layers(ctx, indicator)
    else:
        if indicator not in layers:
            layers[indicator] = _layers(ctx, indicator)
        values, partial = layers[indicator]
    core = _core(values, ctx.years, pilot.row, pilot.window, ctx.never, ctx.T_units,
                 inference=False, strata=ctx.strata)
    Y = values[0]
    p = pilot.row
    obs = ~np.isnan(Y)
    pm = core.prep.pre_means(core.s, p)[0]  # (c,) units' pre means, pilot's pre years
    # Without a comparison, the units shown are the pilot's province's.
    scope = ctx.strata == ctx.strata[p] if ctx.strata is not None else np.ones(len(Y), bool)
    pre_mean = core.pre_mean
    slot = {int(y): j for j, y in enumerate(core.prep.qyears[core.s])
            if core.prep.qin[core.s, j]}
    did_years = set(core.did_years)
    first, last = (int(ctx.annual["year"].min()), int(ctx.annual["year"].max())) if len(
        ctx.annual) else (0, -1)
    rows = []
    for i, year in enumerate(ctx.years):
        year = int(year)
        if not first <= year <= last:
            continue  # the axis also spans window years the data do not reach
        if core.comparison != "none" and year in did_years:
            members = core.comp_by_year[:, slot[year]]
        elif core.comparison != "none":
            members = core.comp_units & obs[:, i]
        elif (ctx.never & scope & obs[:, i]).any():
            members = ctx.never & scope & obs[:, i]
        else:
            members = (ctx.T_units > year) & scope & obs[:, i]
        members = members.copy()
        members[p] = False
        n_c = int(members.sum())
        mean = float(Y[members, i].mean()) if n_c else math.nan
        counterfactual = math.nan
        with_pm = members & ~np.isnan(pm)
        if core.comparison != "none" and with_pm.any() and np.isfinite(pre_mean):
            counterfactual = pre_mean + float((Y[with_pm, i] - pm[with_pm]).mean())
        rows.append({
            "year": year,
            "pilot": float(Y[p, i]),
            "comparison_mean": mean,
            "counterfactual": counterfactual,
            "n_comparison": n_c,
            "window": pilot.window.part(year),
            "partial": bool(partial[p, i]),
        })
    return pd.DataFrame(rows, columns=list(SERIES_COLUMNS))


def chance_verdicts(results: pd.DataFrame, level: float = 0.10) -> tuple[int, float]:
    """(number of rows that could give a verdict by chance, verdicts chance alone would give).

    - Model rows (and the pilot rows of result frames without district evidence, i.e. no
      ``placebo_verdict`` column) with a test (``status`` "assessed"): under no effect each
      gives a verdict other than "no clear change" with probability at most ``level``
      (``level / 2`` per direction), an exact bound.
    - District rows (pilot rows in the district vocabulary) that could be called improved or
      worsened (an own estimate and a model test; not ``better`` = none): "improved" needs
      the model's verdict and the district's own one-sided p, each at most ``level / 2``, so
      about ``level / 4`` per direction at most (DESIGN.md, "District evidence": at most
      2.5 % of rows per direction at the default 0.10, as the validation checks), i.e.
      ``level / 2`` a row.

    The expected number is ``level`` x the tests plus ``level / 2`` x the district rows.
    """
    if "scope" in results and "placebo_verdict" in results:
        in_district = results["scope"] == "pilot"
    else:
        in_district = pd.Series(False, index=results.index)
    tests = (results["status"] == "assessed") & ~in_district
    n_tests = int(tests.sum())
    if in_district.any():
        can = (in_district & results["own_p_better"].notna() & (results["better"] != "none")
               & results["model_verdict"].isin(["improved", "worsened", "no_clear_change"]))
        n_district = int(can.sum())
    else:
        n_district = 0
    return n_tests + n_district, level * n_tests + level / 2.0 * n_district
