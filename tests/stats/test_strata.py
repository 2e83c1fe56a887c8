"""Provinces as strata: stratified assignments and own-province comparisons, worked by hand.

Two provinces of three districts each, one meetings-like indicator (lower is better), pre
window 2016-2017 and post window 2018-2019 (starts on 1 January 2018, day precision: T = g =
2018), every series flat within each window so that a district's change is one number.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.data.catalog import builtin_indicators, builtin_models
from kiemnhiem.data.dataset import Dataset
from kiemnhiem.stats.evaluation import evaluate_all
from kiemnhiem.stats.inference import draw_assignments

# Province 14: 116, 118, 119; province 15: 132, 133, 134 (names made up).
PROVINCE = {"116": "14", "118": "14", "119": "14", "132": "15", "133": "15", "134": "15"}
# Each district's change from its pre to its post window: province 15 rises by about 10.
CHANGE = {"116": -6, "118": 0, "119": 2, "132": -4, "133": 10, "134": 12}


def _dataset(pilots: list[str]) -> Dataset:
    rows = [dict(unit_code=u, period=str(y), freq="year", year=y, sub=0,
                 indicator="so_cuoc_hop", value=float(10 + (CHANGE[u] if y >= 2018 else 0)),
                 note="")
            for u in PROVINCE for y in range(2016, 2020)]
    pilot_rows = pd.DataFrame([
        dict(unit_code=u, unit_name=f"Huyện {u}", model="danvan_mttq",
             start=pd.Timestamp("2018-01-01"), start_precision="day",
             start_status="documented", end=pd.NaT, source="test") for u in pilots])
    units = pd.DataFrame(dict(unit_code=list(PROVINCE), unit_name=[f"Huyện {u}" for u in PROVINCE],
                              unit_short=list(PROVINCE), province_code=list(PROVINCE.values()),
                              province_name=[f"Tỉnh {p}" for p in PROVINCE.values()]))
    return Dataset(
        name="two provinces", province_code=None, province_name=None, synthetic=True,
        description="", source="", data_end=None, panel=pd.DataFrame(rows),
        pilots=pilot_rows, units=units, models=builtin_models(),
        indicators=builtin_indicators(),
        events=pd.DataFrame(columns=["date", "code", "label_vi", "label_en"]),
        comments=pd.DataFrame(columns=["unit_code", "model", "comment", "author"]),
    )


def _row(res: pd.DataFrame, unit: str, scope: str = "pilot") -> SimpleNamespace:
    hit = res[(res.unit_code == unit) & (res.indicator == "so_cuoc_hop") & (res.scope == scope)]
    assert len(hit) == 1
    return SimpleNamespace(**hit.iloc[0].to_dict())


def test_stratified_assignments_by_hand():
    # One pilot in each province: each province's multiset {1, 0, 0} goes on its own three
    # districts, 3!/(1! 2!) = 3 ways each, so |A| = 3 x 3 = 9 (a national permutation would
    # have 6!/(2! 4!) = 15, some with both pilots in one province).
    observed = np.array([1, 0, 0, 1, 0, 0])
    strata = np.array(["14", "14", "14", "15", "15", "15"])
    A = draw_assignments(observed, strata=strata)
    assert A.exact and A.total == 9 and len(A.labels) == 9
    assert len({tuple(r) for r in A.labels}) == 9
    assert (A.labels[:, :3].sum(1) == 1).all() and (A.labels[:, 3:].sum(1) == 1).all()
    # Sampled (more than max_enumerate): every draw keeps each province's multiset, and the
    # same seed gives the same draws.
    S = draw_assignments(observed, max_enumerate=5, draws=50, seed=3, strata=strata)
    assert not S.exact and S.total == 9 and S.labels.shape == (50, 6)
    assert (S.labels[:, :3].sum(1) == 1).all() and (S.labels[:, 3:].sum(1) == 1).all()
    again = draw_assignments(observed, max_enumerate=5, draws=50, seed=3, strata=strata)
    assert (again.labels == S.labels).all()


def test_stratified_enumeration_when_a_province_lacks_a_schedule():
    # Province 14 has the only pilot of schedule 1, province 15 the only one of schedule 2:
    # {1, 0, 0} and {2, 0, 0} on three districts each, 3 x 3 = 9 placements; schedule 2 is
    # never placed in province 14 nor 1 in 15 (counts (2, 1, 0) and (2, 0, 1)).
    observed = np.array([1, 0, 0, 2, 0, 0])
    strata = np.array(["14", "14", "14", "15", "15", "15"])
    A = draw_assignments(observed, strata=strata)
    assert A.exact and A.total == 9 and len({tuple(r) for r in A.labels}) == 9
    assert (np.sort(A.labels[:, :3], axis=1) == [0, 0, 1]).all()
    assert (np.sort(A.labels[:, 3:], axis=1) == [0, 0, 2]).all()


def test_two_provinces_pooled_test_and_comparison_sets_by_hand():
    res = evaluate_all(_dataset(["116", "132"]), pre_years=2, post_years=2, sensitivity=False)
    # Comparison units come from the pilot's own province (its never units):
    # 116: -6 - mean(0, 2) = -7 against 118 and 119 (national never units would give
    # -6 - mean(0, 2, 10, 12) = -12); 132: -4 - mean(10, 12) = -15 against 133 and 134.
    a, b = _row(res, "116"), _row(res, "132")
    assert a.did == pytest.approx(-7) and a.comparison == "never" and a.n_comparison == 2
    assert b.did == pytest.approx(-15) and b.comparison == "never" and b.n_comparison == 2
    # Each district's did when it takes its province's pilot:
    #   province 14: 116 -> -7; 118 -> 0 - (-6 + 2)/2 = 2; 119 -> 2 - (-6 + 0)/2 = 5;
    #   province 15: 132 -> -15; 133 -> 10 - (-4 + 12)/2 = 6; 134 -> 12 - (-4 + 10)/2 = 9.
    # The 9 statistics (mean of the two): (-7, -15) -11; (-7, 6) -0.5; (-7, 9) 1;
    # (2, -15) -6.5; (2, 6) 4; (2, 9) 5.5; (5, -15) -5; (5, 6) 5.5; (5, 9) 7.
    # Observed -11, the lowest of 9 (lower is better): p_better 1/9, p_worse 9/9.
    model = _row(res, "*", "model")
    assert model.did == pytest.approx(-11)
    assert model.n_assignments == 9 and model.n_possible == 9 and model.inference == "exact"
    assert model.p_better == pytest.approx(1 / 9) and model.p_worse == pytest.approx(1.0)
    assert model.p_min == pytest.approx(1 / 9)
    # The placebo rank stays within the province too: 116 among 118 (+2) and 119 (+5)
    # (placebos 118: 0 - 2 = -2, 119: 2 - 0 = 2): the largest fall of 3 districts.
    assert a.n_assignments == 3 and a.p_better == pytest.approx(1 / 3)


def test_a_province_without_a_comparison_takes_the_whole_dataset():
    # Every district of province 15 pilots from the same day: no never unit and no not-yet
    # unit there, so its pilots compare with the never units of the whole dataset (118 and
    # 119), said so as "never_all": 132 -> -4 - mean(0, 2) = -5, 133 -> 10 - 1 = 9,
    # 134 -> 12 - 1 = 11. 116 keeps its own province: -6 - 1 = -7.
    res = evaluate_all(_dataset(["116", "132", "133", "134"]), pre_years=2, post_years=2,
                       sensitivity=False)
    assert _row(res, "116").comparison == "never"
    for unit, did in (("132", -5), ("133", 9), ("134", 11)):
        row = _row(res, unit)
        assert row.comparison == "never_all" and row.did == pytest.approx(did)
        assert row.n_comparison == 2
    # Assignments: province 14 {1, 0, 0} in 3 ways, province 15 {1, 1, 1} in 1: |A| = 3.
    # Placing 14's pilot on 118 makes the never units 116 and 119 (changes -6 and 2, mean -2):
    #   118: 0 - (-6 + 2)/2 = 2; 15's pilots: -4 + 2 = -2, 10 + 2 = 12, 12 + 2 = 14;
    #   mean (2 - 2 + 12 + 14)/4 = 6.5.  On 119: never 116, 118 (mean -3): 119: 2 + 3 = 5;
    #   15's: -1, 13, 15: mean (5 - 1 + 13 + 15)/4 = 8.  Observed: (-7 - 5 + 9 + 11)/4 = 2.
    model = _row(res, "*", "model")
    assert model.did == pytest.approx(2.0) and model.n_assignments == 3
    # 2 is the lowest of 2, 6.5, 8: p_better 1/3.
    assert model.p_better == pytest.approx(1 / 3) and model.p_worse == pytest.approx(1.0)


def test_cores_of_all_pilots_at_once_equal_each_pilot_alone(tmp_path):
    """_cores_all shares comparison and placebo sums among the pilots of a province (issue 17:
    national scale); each pilot's cores must be exactly those it gets alone (_cores_in), on
    a dataset of several provinces with sensitivity windows, so that sharing never changes
    a number."""
    from kiemnhiem.data.catalog import indicators_for_model
    from kiemnhiem.data.dataset import load_dataset
    from kiemnhiem.data.demo import write_demo
    from kiemnhiem.stats import evaluation as ev
    from kiemnhiem.stats.core import _cores_all, _cores_in, _prepare

    ds = load_dataset(write_demo(tmp_path / "d48", units=48))
    checked = 0
    for model in ("danvan_mttq", "tuyengiao_ttct"):
        ctx = ev._context(ds, model, 3, 3)
        assert ctx.strata is not None  # several provinces
        for indicator in list(indicators_for_model(ds.indicators, model)["code"])[:4]:
            values, _ = ev._layers(ctx, indicator)
            index: dict = {}
            for p in ctx.pilots:
                for w in ev._pilot_windows(ctx, p, True):
                    index.setdefault(w, len(index))
            prep = _prepare(values, ctx.years, list(index))
            items = [(p.row, [index[w] for w in ev._pilot_windows(ctx, p, True)])
                     for p in ctx.pilots]
            together = _cores_all(prep, items, ctx.never, ctx.T_units, strata=ctx.strata)
            for (row, schedules), cores in zip(items, together, strict=True):
                alone = _cores_in(prep, row, schedules, ctx.never, ctx.T_units,
                                  strata=ctx.strata)
                for a, b in zip(alone, cores, strict=True):
                    assert (a.comparison, a.did_years, a.reason) == (
                        b.comparison, b.did_years, b.reason)
                    assert np.array_equal(a.did, b.did, equal_nan=True)
                    assert np.array_equal(a.comp_by_year, b.comp_by_year)
                    assert (a.placebo is None) == (b.placebo is None)
                    if a.placebo is not None:
                        assert np.array_equal(a.placebo, b.placebo, equal_nan=True)
                    assert a.pretrend == b.pretrend or (
                        np.isnan(a.pretrend.slope) and np.isnan(b.pretrend.slope))
                    checked += a.placebo is not None
    assert checked > 50  # many pilots with a rank test were compared
