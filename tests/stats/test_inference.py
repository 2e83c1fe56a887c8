"""Exact rank inference: assignment sets, p-values, intervals, verdicts, sensitivity.

Tiny cases enumerated by hand in the comments; one independent, deliberately slow reference
implementation of the contract's statistic checks the vectorized one on every assignment.
"""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.data.catalog import builtin_indicators, builtin_models, with_model_lists
from kiemnhiem.data.dataset import Dataset
from kiemnhiem.stats import evaluation
from kiemnhiem.stats.evaluation import evaluate_all, evaluate_pilot
from kiemnhiem.stats.inference import (
    LOOK_RISK,
    LOOKS,
    SEED,
    count_assignments,
    decide,
    draw_assignments,
    hodges_lehmann,
    invert_interval,
    rank_test,
    sequential_verdict,
    significant_cut,
    tail_counts,
)
from kiemnhiem.stats.timeline import pilot_window

NAMES = {
    "116": "Thành phố Sơn La", "118": "Huyện Quỳnh Nhai", "119": "Huyện Thuận Châu",
    "120": "Huyện Mường La", "121": "Huyện Bắc Yên", "122": "Huyện Phù Yên",
    "123": "Huyện Mộc Châu", "124": "Huyện Yên Châu",
}


def make_dataset(series, pilots, indicators=None):
    """Dataset from ``{(unit, indicator): {year: value}}`` and pilot tuples
    ``(unit, model, start, precision[, status])``."""
    rows = [dict(unit_code=u, period=str(y), freq="year", year=int(y), sub=0, indicator=i,
                 value=float(v), note="")
            for (u, i), values in series.items() for y, v in values.items()]
    panel = pd.DataFrame(rows)
    pilots_frame = pd.DataFrame([
        dict(unit_code=p[0], unit_name=NAMES[p[0]], model=p[1], start=pd.Timestamp(p[2]),
             start_precision=p[3], start_status=p[4] if len(p) > 4 else "documented",
             end=pd.NaT, source="test")
        for p in pilots
    ])
    codes = sorted(set(panel.unit_code) | set(pilots_frame.unit_code))
    units = pd.DataFrame(dict(unit_code=codes, unit_name=[NAMES[c] for c in codes],
                              unit_short=codes, province_code="14", province_name="Sơn La"))
    return Dataset(
        name="test", province_code="14", province_name="Sơn La", synthetic=True,
        description="", source="", data_end=None, panel=panel, pilots=pilots_frame,
        units=units, models=builtin_models(),
        indicators=builtin_indicators() if indicators is None else indicators,
        events=pd.DataFrame(columns=["date", "code", "label_vi", "label_en"]),
        comments=pd.DataFrame(columns=["unit_code", "model", "comment", "author"]),
    )


def _row(frame, unit, indicator="so_cuoc_hop"):
    hit = frame[(frame.unit_code == unit) & (frame.indicator == indicator)]
    assert len(hit) == 1
    return SimpleNamespace(**hit.iloc[0].to_dict())


# =========================================================================== assignment sets
def test_count_assignments():
    # 3 pilots with one start among 5 units: 5! / (2! 3!) = 10.
    assert count_assignments([2, 3]) == 10
    # 5 of 12 sharing one g: 12! / (7! 5!) = 792 (DESIGN.md).
    assert count_assignments([7, 5]) == 792
    # 7 never, then 1, 2 and 2 pilots on three schedules: 12! / (7! 1! 2! 2!) = 23760.
    assert count_assignments([7, 1, 2, 2]) == 23760


def test_enumeration_is_complete_and_distinct():
    observed = np.array([1, 1, 1, 0, 0])
    A = draw_assignments(observed)
    assert A.exact and A.total == 10 and A.labels.shape == (10, 5)
    rows = {tuple(r) for r in A.labels}
    assert len(rows) == 10 and tuple(observed) in rows
    assert all(sorted(r) == [0, 0, 1, 1, 1] for r in rows)
    # Two schedules: 5! / (2! 2! 1!) = 30 distinct placements.
    B = draw_assignments(np.array([0, 0, 1, 1, 2]))
    assert B.total == 30 and len({tuple(r) for r in B.labels}) == 30


def test_sampling_beyond_the_enumeration_limit():
    observed = np.array([1, 1, 1, 0, 0])
    A = draw_assignments(observed, max_enumerate=5, draws=99, seed=7)
    assert not A.exact and A.total == 10 and A.labels.shape == (99, 5)
    assert (np.sort(A.labels, axis=1) == [0, 0, 1, 1, 1]).all()
    again = draw_assignments(observed, max_enumerate=5, draws=99, seed=7)
    assert (again.labels == A.labels).all()
    other = draw_assignments(observed, max_enumerate=5, draws=99, seed=8)
    assert (other.labels != A.labels).any()


def test_a_prefix_of_the_draws_is_the_same_stream():
    observed = np.array([1, 1, 1, 0, 0, 2, 0])
    A = draw_assignments(observed, max_enumerate=5, draws=99, seed=7)
    # ``rows`` makes only the rows asked for, the same as those of ``labels``.
    assert (A.rows(10, 30) == A.labels[10:30]).all() and len(A) == 99
    # Unstratified, the first k of 99 draws are the k draws of a smaller ``draws``: one stream.
    fewer = draw_assignments(observed, max_enumerate=5, draws=30, seed=7)
    assert (fewer.labels == A.labels[:30]).all()


# =========================================================================== rank test
def test_rank_test_exact_by_hand():
    # Lower is better. Statistics of 5 assignments, the observed -5 among them (twice).
    stats = [-5.0, -1.0, 0.0, 2.0, -5.0]
    t = rank_test(stats, -5.0, sign=-1, level=0.10)
    # Signed (larger is better): 5, 1, 0, -2, 5 against 5.
    # p_better = #{>= 5} / 5 = 2/5; p_worse = #{<= 5} / 5 = 1; p_two = min(1, 0.8).
    assert (t.p_better, t.p_worse, t.p_two, t.p_min) == pytest.approx((0.4, 1.0, 0.8, 0.2))
    assert t.n_assignments == 5 and t.exact and t.mc_error == 0
    # A fall; two statistics fall at least as far: rank 2.
    assert (t.direction, t.rank) == ("fall", 2)
    assert decide("lower", t, 0.10) == "no_clear_change"


def test_rank_test_sampled_adds_the_observed():
    # 9 draws, 1 of them at least as good as the observed 3 (higher is better).
    draws = [3.0, 1.0, 0.0, -1.0, 2.0, 0.5, -2.0, 1.5, 2.5]
    t = rank_test(draws, 3.0, sign=1, level=0.10, exact=False)
    # (1 + 1) / (1 + 9) = 0.2; worse side (1 + 9) / 10 = 1.
    assert (t.p_better, t.p_worse, t.p_min) == pytest.approx((0.2, 1.0, 0.1))
    assert t.n_assignments == 10 and not t.exact
    assert t.mc_error == pytest.approx(math.sqrt(0.2 * 0.8 / 9))


def test_ties_count_against_the_pilot():
    # A statistic equal up to rounding counts as at least as extreme.
    t = rank_test([1.0, 1.0 + 1e-12, 0.0, 0.0], 1.0, sign=1)
    assert t.p_better == pytest.approx(0.5)


@pytest.mark.parametrize(
    "better, pb, pw, expected",
    [
        ("lower", 0.05, 1.0, "improved"),   # p_better <= 0.10 / 2
        ("lower", 0.06, 1.0, "no_clear_change"),
        ("higher", 1.0, 0.05, "worsened"),
        ("none", 0.05, 1.0, "changed"),     # p_two = 0.10 <= 0.10
        ("none", 0.06, 1.0, "no_clear_change"),
    ],
)
def test_verdict_rule(better, pb, pw, expected):
    test = SimpleNamespace(p_better=pb, p_worse=pw, p_two=min(1, 2 * min(pb, pw)))
    assert decide(better, test, 0.10) == expected
    assert decide(better, None, 0.10) == "not_assessed"


def test_interval_inversion_by_hand():
    # Per-pilot shape: observed did 10, 39 placebo dids 0..38; on Y - tau D the observed
    # statistic moves by -tau (e = 1) and the placebos stay (d_a = 10 - y_a).
    y = np.arange(39.0)
    d = np.concatenate([[0.0], 10 - y])
    e = np.concatenate([[0.0], np.ones(39)])
    lo, hi = invert_interval(d, e, 0.10, tol=0.0)
    # |A| = 40, level/2 * 40 = 2: tau is kept when more than 2 of the 40 statistics are at
    # least (and at most) as large as the observed one.
    # At least as large: 1 + #{y_a >= 10 - tau} >= 3 <=> 10 - tau <= 37 <=> tau >= -27.
    # At most as large: 1 + #{y_a <= 10 - tau} >= 3 <=> 10 - tau >= 1 <=> tau <= 9.
    assert (lo, hi) == pytest.approx((-27.0, 9.0))
    # With 8 statistics p_min = 1/8 > 0.05: every tau is kept.
    assert invert_interval(d[:8], e[:8], 0.10) == (-math.inf, math.inf)


def test_hodges_lehmann_by_hand():
    # The observed assignment (d = e = 0) and three others with e = 1, d = 1, 2, 4.
    # At least as large: 1 + #{d_a <= tau}; at most as large: 1 + #{d_a >= tau}.
    # tau < 1: min(1, 4) = 1; tau = 1 or in (1, 2): min(2, 4) or min(2, 3) = 2;
    # tau = 2: min(3, 3) = 3; (2, 4): min(3, 2) = 2: the middle is tau = 2, the median.
    d, e = np.array([0.0, 1, 2, 4]), np.array([0.0, 1, 1, 1])
    assert hodges_lehmann(d, e, tol=0.0) == pytest.approx(2.0)
    # With d = 1, 2, 3, 4 the counts are (3, 4), (3, 3), (4, 3) on [2, 3]: its midpoint 2.5.
    d = np.array([0.0, 1, 2, 3, 4])
    assert hodges_lehmann(d, np.array([0.0, 1, 1, 1, 1]), tol=0.0) == pytest.approx(2.5)
    # Nothing depends on tau: no estimate.
    assert math.isnan(hodges_lehmann(np.zeros(3), np.zeros(3)))


def test_hodges_lehmann_lies_in_every_interval_and_rank_test_reports_it():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(5, 60))
        d = rng.normal(3.0, 5.0, n)
        e = rng.normal(0.6, 0.5, n)  # mostly positive, some negative, as placements give
        estimate = hodges_lehmann(d, e, n_extra=1)
        for level in (0.05, 0.10, 0.5):
            lo, hi = invert_interval(d, e, level, n_extra=1)
            if not math.isnan(lo):
                assert lo <= estimate <= hi
    # rank_test: the per-pilot shape above, observed 10 among placebo dids 0..38: the
    # estimate is 10 - median(0..38) = 10 - 19 = -9.
    y = np.arange(39.0)
    stats = np.concatenate([[10.0], y])
    d_stats = np.concatenate([[1.0], np.zeros(39)])
    test = rank_test(stats, 10.0, 1, 0.10, d_stats=d_stats, d_observed=1.0)
    assert test.estimate == pytest.approx(-9.0)
    assert test.ci_low <= test.estimate <= test.ci_high


# =========================================================================== per model, by hand
def _five_units():
    # danvan_mttq pilots 116, 118, 119 from 1 January 2019 (day): T = g = 2019.
    # With pre_years = post_years = 2: pre 2017-2018 (20, 20), post 2019-2020 (20 + d, 20 + d).
    # Changes d: 116 -6, 118 -4, 119 -5 (pilots), 121 0, 122 +1 (never).
    change = {"116": -6, "118": -4, "119": -5, "121": 0, "122": 1}
    series = {(u, "so_cuoc_hop"): {2017: 20, 2018: 20, 2019: 20 + d, 2020: 20 + d}
              for u, d in change.items()}
    pilots = [(u, "danvan_mttq", "2019-01-01", "day") for u in ("116", "118", "119")]
    return make_dataset(series, pilots)


def test_pooled_effect_enumerated_by_hand():
    res = evaluate_all(_five_units(), pre_years=2, post_years=2)
    model = _row(res[res.scope == "model"], "*")
    # Balanced data and never comparison: an assignment with pilot set P (sum of changes
    # S_P) and never set N has statistic mean_P d - mean_N d = S_P/3 - (-14 - S_P)/2
    # = (5 S_P + 42) / 6. The 10 sets of 3 among {-6, -4, -5, 0, 1}:
    # {-6,-4,-5} -15 -> -5.5 (observed) | {-6,-4,0} -10 -> -4/3 | {-6,-4,1} -9 -> -1/2
    # {-6,-5,0} -11 -> -13/6 | {-6,-5,1} -10 -> -4/3 | {-6,0,1} -5 -> 17/6
    # {-4,-5,0} -9 -> -1/2 | {-4,-5,1} -8 -> 1/3 | {-4,0,1} -3 -> 9/2 | {-5,0,1} -4 -> 11/3
    assert model.did == pytest.approx(-5.5)
    assert model.n_assignments == 10 and model.n_possible == 10 and model.inference == "exact"
    # Lower is better: only the observed is as low -> p_better 1/10; p_worse 10/10.
    assert (model.p_better, model.p_worse, model.p_two, model.p_min) == pytest.approx(
        (0.1, 1.0, 0.2, 0.1))
    # p_min 0.1 > 0.05: no verdict possible, the interval is unbounded, the reason says why.
    assert model.verdict == "no_clear_change" and model.reason_code == "inconclusive"
    assert (model.ci_low, model.ci_high) == (-math.inf, math.inf)
    assert "the largest fall of the 10 possible placements" in model.reason_en
    assert "no test can be conclusive" in model.reason_en
    assert "mức giảm lớn nhất trong 10" in model.reason_vi
    assert model.n_pilots == 3 and model.unit_code == "*" and not model.mixed_models


def test_per_pilot_placebos_by_hand():
    res = evaluate_all(_five_units(), pre_years=2, post_years=2)
    row = _row(res[res.scope == "pilot"], "116")
    # Observed: -6 - mean(0, 1) = -6.5. Placebos (the never units, each controlled by the
    # other): 121 -> 0 - 1 = -1; 122 -> 1 - 0 = +1. The other pilots are never eligible.
    # Signed 6.5, 1, -1: p_better 1/3, p_worse 3/3, p_two 2/3; 3 districts.
    assert row.did == pytest.approx(-6.5)
    assert row.n_assignments == 3
    assert (row.p_better, row.p_worse, row.p_two, row.p_min) == pytest.approx(
        (1 / 3, 1.0, 2 / 3, 1 / 3))
    # The rank stays descriptive: its verdict and sentence move to the placebo_* columns.
    assert row.placebo_verdict == "no_clear_change" and row.placebo_reason_code == "inconclusive"
    assert row.placebo_reason_en.startswith("Inconclusive: a difference-in-differences of −6.5")
    assert "the largest fall of the 3 districts; with 3 districts no test can be" in (
        row.placebo_reason_en)
    assert "mức giảm lớn nhất trong 3 đơn vị cấp huyện" in row.placebo_reason_vi


def test_per_pilot_placebos_not_yet_by_hand():
    # tuyengiao_ttct everywhere; 116 from 1 January 2017: pre 2014-2016, post 2017-2019.
    lop = {
        "116": {2014: 4, 2015: 5, 2016: 6, 2017: 9, 2018: 10, 2019: 11},
        "118": {2014: 2, 2015: 2, 2016: 2, 2017: 3, 2018: 4, 2019: 50},
        "119": {2014: 7, 2015: 8, 2016: 9, 2017: 8, 2018: 10, 2019: 11},
        "120": {2014: 1, 2015: 1, 2016: 1, 2017: 1, 2018: 1, 2019: 4},
    }
    pilots = [("116", "tuyengiao_ttct", "2017-01-01", "day"),
              ("118", "tuyengiao_ttct", "2019-03-01", "day"),
              ("119", "tuyengiao_ttct", "2021-06-01", "month"),
              ("120", "tuyengiao_ttct", "2022-01-01", "day")]
    ds = make_dataset({(u, "so_lop_boi_duong"): v for u, v in lop.items()}, pilots)
    row = _row(evaluate_pilot(ds, "116", "tuyengiao_ttct"), "116", "so_lop_boi_duong")
    # Observed did 31/9 (tests/test_evaluation.py). Eligible: untreated through 2019, the last
    # post year: 119 (T 2021) and 120 (T 2022); 118 (T 2019) is not.
    # Placebo 119, control 120: deviations 0, 2, 3 minus 0, 0, 3 -> 2/3.
    # Placebo 120, control 119: 0, 0, 3 minus 0, 2, 3 -> -2/3.
    # Higher is better: 31/9 is the largest: p_better 1/3, p_worse 1.
    assert row.did == pytest.approx(31 / 9)
    assert row.n_assignments == 3
    assert (row.p_better, row.p_worse) == pytest.approx((1 / 3, 1.0))
    assert "the largest rise of the 3 districts" in row.placebo_reason_en


def test_one_assignment_cannot_be_assessed():
    years = range(2015, 2022)
    series = {(u, "so_cuoc_hop"): {y: 10 + (y > 2018) * i for y in years}
              for i, u in enumerate(("116", "118", "119"))}
    pilots = [(u, "tuyengiao_ttct", "2018-08-01", "month") for u in ("116", "118", "119")]
    res = evaluate_all(make_dataset(series, pilots))
    model = _row(res[res.scope == "model"], "*")
    # Every unit with data has the same schedule: 3! / 3! = 1 placement.
    assert model.verdict == "not_assessed" and model.reason_code == "one_assignment"
    assert model.n_possible == 1 and math.isnan(model.p_better)


def test_sampled_pooled_test():
    ds = _five_units()
    res = evaluate_all(ds, pre_years=2, post_years=2, max_enumerate=5, draws=99)
    model = _row(res[res.scope == "model"], "*")
    # Units in code order 116, 118, 119, 121, 122 -> observed labels 1, 1, 1, 0, 0. Only a
    # draw that puts the pilots back where they are is as low as the observed -5.5.
    observed = np.array([1, 1, 1, 0, 0])
    draws = draw_assignments(observed, max_enumerate=5, draws=99, seed=SEED).labels
    b = int((draws == observed).all(1).sum())
    assert model.inference == "sampled" and model.n_assignments == 100
    assert model.p_better == pytest.approx((1 + b) / 100)
    p = model.p_better
    assert model.mc_error == pytest.approx(math.sqrt(p * (1 - p) / 99))


# =========================================================================== intervals, sensitivity
def _six_units():
    # danvan_mttq pilots 116, 118, 119, start "2019" (year, approximate): T 2019, g 2020.
    # Never units 121, 122, 123 are 10 every year. Pilots: 10 up to 2019, then 0 in 2020 and
    # 2021, 20 in 2022. pre_years = post_years = 2.
    series = {}
    for u in ("116", "118", "119"):
        values = {y: 10 for y in range(2015, 2020)} | {2020: 0, 2021: 0, 2022: 20}
        series[(u, "so_cuoc_hop")] = values
        series[(u, "chi_so_thu")] = values
    for u in ("121", "122", "123"):
        series[(u, "so_cuoc_hop")] = dict.fromkeys(range(2015, 2023), 10)
        series[(u, "chi_so_thu")] = dict.fromkeys(range(2015, 2023), 10)
    extra = builtin_indicators().iloc[:1].drop(columns="models_list").copy()
    extra["code"], extra["better"] = "chi_so_thu", "none"
    indicators = with_model_lists(pd.concat(
        [builtin_indicators().drop(columns="models_list"), extra], ignore_index=True))
    pilots = [(u, "danvan_mttq", "2019", "year", "approximate") for u in ("116", "118", "119")]
    return make_dataset(series, pilots, indicators)


def test_conclusive_model_verdict_point_interval_and_start_sensitivity():
    res = evaluate_all(_six_units(), pre_years=2, post_years=2)
    model = _row(res[res.scope == "model"], "*")
    # Main windows: pre 2017-2018, post 2020-2021. Pilot changes -10, never 0. With x of the
    # 3 actual pilots placed among the 3 assigned, the statistic is 10 (3 - 2x) / 3; only the
    # observed placement (x = 3) reaches -10: p_better = 1/20 = 0.05 <= 0.05 -> improved.
    assert model.n_assignments == 20 and model.did == pytest.approx(-10)
    assert model.p_better == pytest.approx(0.05) and model.verdict == "improved"
    # On D (1 for the actual pilots from 2019) the statistic is (2x - 3) / 3, so
    # S_obs - S_a = -10 (S_obs(D) - S_a(D)) for every placement: -10 is the only tau at which
    # the observed placement is not extreme, and the interval is the point -10.
    assert model.ci_low == pytest.approx(-10, abs=1e-6)
    assert model.ci_high == pytest.approx(-10, abs=1e-6)
    # One year earlier: pre 2016-2017, post 2019-2020 -> changes -5: still improved.
    # One year later: pre 2018-2019, post 2021-2022 -> changes 0: every placement ties,
    # p_better = 1 -> no clear change. The verdict depends on the start: sensitive.
    assert model.verdict_earlier == "improved"
    assert model.verdict_later == "no_clear_change"
    assert bool(model.start_sensitive)
    # Per pilot the rank among 4 districts (p_min 1/4) is never conclusive.
    pilot = _row(res[res.scope == "pilot"], "116")
    assert pilot.placebo_verdict == "no_clear_change"
    # District verdict: the never units' changes are all 0 (SD 0), so the pilot's own -10 is
    # certain (own p_better 0) and the model improved: improved. One year earlier the change
    # is -5 against 0 and the model still improved: improved. One year later the change is 0
    # (own p_better 1) and the model shows no clear change: no clear change. Sensitive.
    assert pilot.own_estimate == pytest.approx(-10) and pilot.own_p_better == 0
    assert pilot.verdict == "improved" and pilot.model_verdict == "improved"
    assert (pilot.verdict_earlier, pilot.verdict_later) == ("improved", "no_clear_change")
    assert bool(pilot.start_sensitive)


def test_changed_when_no_direction_is_better():
    res = evaluate_all(_six_units(), pre_years=2, post_years=2, sensitivity=False)
    model = _row(res[res.scope == "model"], "*", "chi_so_thu")
    # Same numbers, better = none: the observed -10 is the unique lowest of 20:
    # p_worse (signed +1) = 1/20, p_two = 0.10 <= 0.10 -> changed.
    assert model.p_two == pytest.approx(0.10)
    assert model.verdict == "changed" and "two-sided p = 0.100" in model.reason_en


def test_statistic_is_linear_in_the_effect():
    # Taking tau away from the pilots in their treated years (from T = 2019) lowers each
    # pilot's did and the pooled effect by exactly tau: S(Y - tau D) = S(Y) - tau S(D) with
    # S_obs(D) = 1, the identity the interval inversion rests on.
    base = evaluate_all(_five_units(), pre_years=2, post_years=2, sensitivity=False)
    ds = _five_units()
    panel = ds.panel.copy()
    treated = panel.unit_code.isin(["116", "118", "119"]) & (panel.year >= 2019)
    panel.loc[treated, "value"] -= 2.5
    moved = evaluate_all(Dataset(**{**ds.__dict__, "panel": panel}), pre_years=2, post_years=2,
                         sensitivity=False)
    hop = base.indicator == "so_cuoc_hop"
    np.testing.assert_allclose(moved.did[hop], base.did[hop] - 2.5)


# =========================================================================== reference
def _reference_did(Y, years, u, window, T, never):
    """The contract's per-pilot did, written out with loops and dictionaries."""
    def ok(c, t):
        return t in years and not math.isnan(Y[c][years.index(t)])

    def val(c, t):
        return Y[c][years.index(t)]

    P = [t for t in window.pre if ok(u, t)]
    Q = [t for t in window.post if ok(u, t)]
    if len(P) < 2 or len(Q) < 2:
        return None
    pm = {c: sum(val(c, t) for t in P) / len(P) for c in Y if all(ok(c, t) for t in P)}
    for level in ("never", "notyet"):
        terms = []
        for t in Q:
            if level == "never":
                C = [c for c in never if c in pm and ok(c, t) and c != u]
            else:
                C = [c for c in Y if T[c] > t and c in pm and ok(c, t) and c != u]
            if C:
                mean_c = sum(val(c, t) - pm[c] for c in C) / len(C)
                terms.append((val(u, t) - pm[u]) - mean_c)
        if terms:
            return sum(terms) / len(terms)
    return sum(val(u, t) - pm[u] for t in Q) / len(Q)


def _reference_pooled(Y, years, placement, windows):
    """Mean did over the assessable pilots of one placement {unit: schedule or None}."""
    T = {c: (windows[s].T if s is not None else math.inf) for c, s in placement.items()}
    never = [c for c, s in placement.items() if s is None]
    dids = [_reference_did(Y, years, c, windows[s], T, never)
            for c, s in placement.items() if s is not None]
    dids = [d for d in dids if d is not None]
    return sum(dids) / len(dids) if dids else math.nan


@pytest.mark.parametrize("model", ["danvan_mttq", "tuyengiao_ttct"])
def test_vectorized_statistic_matches_reference_on_every_placement(model):
    rng = np.random.default_rng(11)
    units = ["116", "118", "119", "120", "121", "122"]
    years = list(range(2014, 2023))
    Y = {u: list(rng.integers(0, 30, len(years)).astype(float)) for u in units}
    for u, y in [("118", 2016), ("120", 2019), ("121", 2015), ("122", 2021), ("116", 2022)]:
        Y[u][years.index(y)] = math.nan  # missing years in pre and post windows
    if model == "danvan_mttq":
        # 3 never units: never comparisons; 6! / (3! 2! 1!) = 60 placements.
        starts = {"116": ("2017-06-01", "month"), "118": ("2017-06-01", "month"),
                  "119": ("2018-01-01", "day")}
    else:
        # Every unit in the model: not-yet comparisons; 6! / (2! 2! 2!) = 90 placements.
        starts = {"116": ("2017-06-01", "month"), "118": ("2017-06-01", "month"),
                  "119": ("2018-01-01", "day"), "120": ("2018-01-01", "day"),
                  "121": ("2020-03-01", "month"), "122": ("2020-03-01", "month")}
    series = {(u, "so_cuoc_hop"): {y: v for y, v in zip(years, Y[u], strict=True)
                                   if not math.isnan(v)} for u in units}
    pilots = [(u, model, s, p) for u, (s, p) in starts.items()]
    res = evaluate_all(make_dataset(series, pilots), sensitivity=False)
    model_row = _row(res[res.scope == "model"], "*")

    keys = sorted({starts[u] for u in starts})
    windows = [pilot_window(s, p) for s, p in keys]
    observed = {u: (keys.index(starts[u]) if u in starts else None) for u in units}
    labels = [observed[u] for u in units]
    placements = set(itertools.permutations(labels, len(units)))
    stats = [_reference_pooled(Y, years, dict(zip(units, pl, strict=True)), windows)
             for pl in placements]
    obs_stat = _reference_pooled(Y, years, observed, windows)
    assert model_row.did == pytest.approx(obs_stat)
    # The pilot rows average to the pooled effect.
    pilot_rows = res[(res.scope == "pilot") & res.did.notna()]
    assert pilot_rows.did.mean() == pytest.approx(obs_stat)
    # so_cuoc_hop: lower is better.
    n = len(placements)
    tol = 1e-9 * max(1, abs(obs_stat))
    assert model_row.n_assignments == n
    assert model_row.p_better == pytest.approx(sum(s <= obs_stat + tol for s in stats) / n)
    assert model_row.p_worse == pytest.approx(sum(s >= obs_stat - tol for s in stats) / n)

    # The interval: tau just inside each finite end is kept by the test redone on
    # Y - tau * D (D = 1 for the actual pilots from their T), just outside it is rejected.
    def kept(tau):
        Yt = {u: [v - tau * (u in starts and y >= windows[observed[u]].T)
                  for y, v in zip(years, Y[u], strict=True)] for u in units}
        s = [_reference_pooled(Yt, years, dict(zip(units, pl, strict=True)), windows)
             for pl in placements]
        o = _reference_pooled(Yt, years, observed, windows)
        ge = sum(x >= o - 1e-9 for x in s) / n
        le = sum(x <= o + 1e-9 for x in s) / n
        return ge > 0.05 and le > 0.05

    for end, inward in ((model_row.ci_low, 1), (model_row.ci_high, -1)):
        if math.isfinite(end):
            assert kept(end + inward * 1e-6)
            assert not kept(end - inward * 1e-6)


# =========================================================================== sequential verdicts
def test_significant_cut_by_hand():
    # 9,999 draws at the 10 % level: (499 + 1) / 10,000 = 0.05 <= 0.05, 501 / 10,000 is not.
    assert significant_cut(9999, 0.10) == 499
    # 99 draws: 5 / 100 = 0.05 is the last; 19 draws: 1 / 20; 18 draws: 1 / 19 > 0.05, none.
    assert significant_cut(99, 0.10) == 4
    assert significant_cut(19, 0.10) == 0
    assert significant_cut(18, 0.10) == -1


def test_tail_counts_are_rank_tests_counts():
    # Lower is better (sign -1); observed -5: better are <= -5 (2), worse are >= -5 (3);
    # NaN in neither. rank_test on the non-NaN draws adds the observed: (2 + 1) / 5.
    stats = [-5.0, -1.0, float("nan"), -7.0, 3.0]
    assert tail_counts(stats, -5.0, sign=-1) == (2, 3)
    t = rank_test([-5.0, -1.0, -7.0, 3.0], -5.0, sign=-1, exact=False)
    assert (t.p_better, t.p_worse) == pytest.approx((3 / 5, 4 / 5))


def test_sequential_verdict_exact_settlement():
    # risk 0: only the verdicts the counts already decide (9,999 draws, cut 499).
    # 500 draws at least as good and 501 as bad among the first 1,000: whatever the other
    # 8,999 draws, p_better >= 501 / 10,000 > 0.05 and p_worse too: no clear change.
    assert sequential_verdict("lower", 500, 501, 0, 1000, 9999, 0.10, 0.0) == "no_clear_change"
    # 499 good: p_better could still end at 500 / 10,000 = 0.05: open.
    assert sequential_verdict("lower", 499, 501, 0, 1000, 9999, 0.10, 0.0) is None
    # 0 good among the first 9,600: even if the last 399 all were, 400 / 10,000 <= 0.05.
    assert sequential_verdict("higher", 0, 9600, 0, 9600, 9999, 0.10, 0.0) == "improved"
    # ... unless NaN draws count too: 101 NaN + 399 left = 500 > 499: open.
    assert sequential_verdict("higher", 0, 9499, 101, 9600, 9999, 0.10, 0.0) is None
    # Worsened needs "not improved" settled too; with no better direction either tail.
    assert sequential_verdict("lower", 9600, 0, 0, 9600, 9999, 0.10, 0.0) == "worsened"
    assert sequential_verdict("none", 9600, 0, 0, 9600, 9999, 0.10, 0.0) == "changed"
    # Every draw NaN so far: nothing is settled (the full test might be "not assessed").
    assert sequential_verdict("lower", 0, 0, 250, 250, 9999, 0.10, 0.0) is None


def test_sequential_verdict_bounded_risk_by_hand():
    risk = 8e-5  # delta = risk / 8 = 1e-5 per bound
    # No draw as good among 250: the Clopper-Pearson upper bound of the rate is
    # 1 - 1e-5 ** (1 / 250) = 1 - exp(-11.513 / 250) = 0.0450; the other 9,749 draws then
    # give 439 extreme ones on average (SD 20.5), and more than 499 is 2.9 SD away
    # (chance about 2e-3 > 1e-5): still open. Among 500 the bound is 0.0228: 217 on
    # average (SD 14.6), 499 is 19 SD away: improved.
    assert sequential_verdict("lower", 0, 250, 0, 250, 9999, 0.10, risk) is None
    assert sequential_verdict("lower", 0, 500, 0, 500, 9999, 0.10, risk) == "improved"
    # 50 of 250 as good (rate 0.2; lower bound about 0.107): at least 0.107 x 9,749 = 1,040
    # more are expected, far above 499: not improved, and 200 of 250 as bad likewise.
    assert sequential_verdict("lower", 50, 200, 0, 250, 9999, 0.10, risk) == "no_clear_change"
    # 20 of 250 (rate 0.08, lower bound about 0.026, so as few as 251 more plausible, below
    # the 479 still allowed): open.
    assert sequential_verdict("lower", 20, 230, 0, 250, 9999, 0.10, risk) is None


def test_sequential_verdict_claims_match_an_independent_computation():
    from scipy import stats

    # The same rule written with scipy.stats' distributions instead of scipy.special's
    # functions, on a grid of counts at every look.
    B, level, risk = 9999, 0.10, 6e-4
    delta, cut = risk / 8, 499
    for k in [k for k in LOOKS if k < B]:
        for h in range(0, min(k, 700) + 1, 7):
            up = stats.beta.ppf(1 - delta, h + 1, k - h) if h < k else 1.0
            low = stats.beta.ppf(delta, h, k - h + 1) if h > 0 else 0.0
            sig = h + (B - k) <= cut or (h <= cut and stats.binom.sf(cut - h, B - k, up) <= delta)
            non = h > cut or (h > 0 and stats.binom.cdf(cut - h, B - k, low) <= delta)
            expected = "improved" if sig else "no_clear_change" if non else None
            # The other tail is plainly not significant (k - h as bad, h <= 700 << k or > cut).
            got = sequential_verdict("higher", h, max(k - h, cut + 1), 0, k, B, level, risk)
            assert got == expected, (k, h)


def test_sequential_verdicts_agree_with_all_draws_near_the_cut():
    # Bernoulli streams whose rate sits around level / 2 = 0.05, where the verdict of 9,999
    # draws is itself uncertain and a sequential stop most likely to differ from it. The bound
    # allows 1e-3 x 1,400 = 1.4 disagreements; none may occur with this seed.
    rng = np.random.default_rng(5)
    B, level = 9999, 0.10
    looks = [k for k in LOOKS if k < B]
    disagree = stopped_early = 0
    for p in (0.03, 0.045, 0.05, 0.055, 0.07, 0.2, 0.5):
        for _ in range(200):
            hits = np.cumsum(rng.random(B) < p)
            full = "improved" if (hits[-1] + 1) / (B + 1) <= level / 2 else "no_clear_change"
            for k in looks:
                got = sequential_verdict("higher", int(hits[k - 1]), k, 0, k, B, level,
                                         LOOK_RISK / len(looks))
                if got is not None:
                    stopped_early += 1
                    disagree += got != full
                    break
    assert disagree == 0
    # Rates 0.2 and 0.5 stop early every time (400 streams), and many near the cut too.
    assert stopped_early > 400


def _eight_units():
    # danvan_mttq pilots 116, 118, 119, 120, start "2019" (year, approximate): T 2019, g 2020.
    # Pilots are 10 up to 2017 and 0 from 2018; never units 121-124 are 10 every year.
    # pre_years = post_years = 2.
    series = {}
    for u in ("116", "118", "119", "120"):
        series[(u, "so_cuoc_hop")] = {y: 10 if y <= 2017 else 0 for y in range(2014, 2024)}
    for u in ("121", "122", "123", "124"):
        series[(u, "so_cuoc_hop")] = dict.fromkeys(range(2014, 2024), 10)
    pilots = [(u, "danvan_mttq", "2019", "year", "approximate")
              for u in ("116", "118", "119", "120")]
    return make_dataset(series, pilots)


def _shifted_rows(monkeypatch):
    """Record the rows of every shifted test's ``_pooled`` call (the outcome layer only)."""
    calls = []
    pooled = evaluation._pooled

    def counting(prep, labels, *args, **kwargs):
        if prep.values.shape[0] == 1:
            calls.append(len(labels))
        return pooled(prep, labels, *args, **kwargs)

    monkeypatch.setattr(evaluation, "_pooled", counting)
    return calls


def test_sampled_start_sensitivity_stops_early_with_the_full_verdicts(monkeypatch):
    # C(8, 4) = 70 placements, more than max_enumerate = 50: 9,999 draws. With x of the 4
    # actual pilots among the 4 placed and a pilot change c, a placed pilot's did is
    # c - (4 - x) c / 4 and a placed never unit's -(4 - x) c / 4 (its comparison units are
    # the 4 others), so the statistic is c (x - 2) / 2: only the observed set (x = 4) is as
    # low, a draw in 70.
    # One year earlier (pre 2016-2017, post 2019-2020) c = -10: p_better about 1/70 + 1/10,000
    # < 0.05, improved. One year later (pre 2018-2019, post 2021-2022) c = 0: every draw ties,
    # p_better = p_worse = 1, no clear change.
    kw = dict(pre_years=2, post_years=2, max_enumerate=50)
    calls = _shifted_rows(monkeypatch)
    res = evaluate_all(_eight_units(), **kw)
    model = _row(res[res.scope == "model"], "*")
    assert model.inference == "sampled" and model.n_possible == 70
    assert (model.verdict_earlier, model.verdict_later) == ("improved", "no_clear_change")
    # The main window (pre 2017-2018, post 2020-2021): c = -5, improved; sensitive.
    assert model.verdict == "improved" and bool(model.start_sensitive)

    # Which look settles the earlier test, from the draws themselves (the units in code
    # order: observed labels 1, 1, 1, 1, 0, 0, 0, 0; a draw is as good iff it is the
    # observed set) and the rule written with scipy.stats.
    from scipy import stats

    observed = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    good = np.cumsum((draw_assignments(observed, 50, 9999, SEED).labels == observed).all(1))
    delta = LOOK_RISK / len(LOOKS) / 8
    settle = next(k for k in LOOKS if stats.binom.sf(
        499 - good[k - 1], 9999 - k, stats.beta.ppf(1 - delta, good[k - 1] + 1,
                                                     k - good[k - 1])) <= delta)
    # Each look evaluates its new rows only, the first also the observed assignment. The
    # later test: 250 ties of 250 are settled at once (rate bound delta ** (1 / 250) > 0.95).
    earlier = [LOOKS[0] + 1] + [k - j for j, k in zip(LOOKS, LOOKS[1:], strict=False)
                                if k <= settle]
    assert calls == earlier + [251]
    assert sum(calls) < 2 * 10_000 / 4

    # The same verdicts from all 9,999 draws of each test (no look made).
    monkeypatch.setattr(evaluation, "LOOKS", ())
    full = _row(evaluate_all(_eight_units(), **kw).query("scope == 'model'"), "*")
    assert (full.verdict_earlier, full.verdict_later) == ("improved", "no_clear_change")


def test_curtailment_alone_settles_a_tie(monkeypatch):
    # With no risk allowed, only counts that decide the verdict stop the test. Later start:
    # every draw ties, so after 500 draws both tails hold 500 > 499 draws: p_better and
    # p_worse are at least 501 / 10,000 > 0.05 whatever comes next. Rows: the first look's 250
    # with the observed assignment, then 250 more. The earlier test is never settled by counts
    # before 9,500 draws (its good draws could all come last), so it runs every look and then
    # the full test: 8,000 + 1, then 9,999 + 1.
    monkeypatch.setattr(evaluation, "LOOK_RISK", 0.0)
    calls = _shifted_rows(monkeypatch)
    res = evaluate_all(_eight_units(), pre_years=2, post_years=2, max_enumerate=50)
    model = _row(res[res.scope == "model"], "*")
    assert (model.verdict_earlier, model.verdict_later) == ("improved", "no_clear_change")
    assert calls == [251, 250, 500, 1000, 2000, 4000, 10_000, 251, 250]


def test_enumerated_start_sensitivity_runs_the_full_test(monkeypatch):
    # Placements enumerated (C(8, 4) = 70 <= 20,000): no look is made, the full test runs.
    calls = _shifted_rows(monkeypatch)
    res = evaluate_all(_eight_units(), pre_years=2, post_years=2)
    model = _row(res[res.scope == "model"], "*")
    assert model.inference == "exact"
    # Earlier: only the observed set (1 of 70) is as low: p_better = 1/70 <= 0.05; later ties.
    assert (model.verdict_earlier, model.verdict_later) == ("improved", "no_clear_change")
    assert calls == [71, 71]
