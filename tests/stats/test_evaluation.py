"""Per-pilot estimates: did_2x2, the contract's did, comparison sets, pre-trend flag, changes.

Tiny hand-written panels; every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from kiemnhiem.data.catalog import builtin_indicators, builtin_models
from kiemnhiem.data.dataset import Dataset
from kiemnhiem.exceptions import ParameterError
from kiemnhiem.stats.evaluation import (
    RESULT_COLUMNS,
    SERIES_COLUMNS,
    chance_verdicts,
    evaluate_all,
    evaluate_pilot,
    pilot_series,
)

NAMES = {
    "116": "Thành phố Sơn La", "118": "Huyện Quỳnh Nhai", "119": "Huyện Thuận Châu",
    "120": "Huyện Mường La", "121": "Huyện Bắc Yên", "122": "Huyện Phù Yên",
    "123": "Huyện Mộc Châu", "124": "Huyện Yên Châu",
}
CONTRACT_COLUMNS = (
    "unit_code unit_name model indicator start g n_pre n_post pre_mean post_mean change "
    "pct_change did ci_low ci_high ci_level p_better p_worse p_two p_min n_assignments "
    "mc_error n_comparison comparison pretrend_flag start_sensitive mixed_models verdict "
    "reason_vi reason_en"
).split()


def make_dataset(series, pilots, data_end=None):
    """A Dataset from ``{(unit, indicator): {year: value}}`` and pilot tuples
    ``(unit, model, start, precision[, status[, end]])``."""
    rows = []
    for (unit, indicator), values in series.items():
        for year, value in values.items():
            rows.append(dict(unit_code=unit, period=str(year), freq="year", year=int(year),
                             sub=0, indicator=indicator, value=float(value), note=""))
    panel = pd.DataFrame(rows)
    prows = []
    for p in pilots:
        status = p[4] if len(p) > 4 else "documented"
        end = pd.Timestamp(p[5]) if len(p) > 5 and p[5] else pd.NaT
        prows.append(dict(unit_code=p[0], unit_name=NAMES[p[0]], model=p[1],
                          start=pd.Timestamp(p[2]), start_precision=p[3],
                          start_status=status, end=end, source="test"))
    pilots_frame = pd.DataFrame(prows)
    codes = sorted(set(panel["unit_code"]) | set(pilots_frame["unit_code"]))
    units = pd.DataFrame(dict(unit_code=codes, unit_name=[NAMES[c] for c in codes],
                              unit_short=[NAMES[c].split(" ", 1)[1] for c in codes],
                              province_code="14", province_name="Sơn La"))
    return Dataset(
        name="test", province_code="14", province_name="Sơn La", synthetic=True,
        description="", source="", data_end=data_end, panel=panel, pilots=pilots_frame,
        units=units, models=builtin_models(), indicators=builtin_indicators(),
        events=pd.DataFrame(columns=["date", "code", "label_vi", "label_en"]),
        comments=pd.DataFrame(columns=["unit_code", "model", "comment", "author"]),
    )


def _row(frame, unit, indicator, scope="pilot"):
    hit = frame[(frame.unit_code == unit) & (frame.indicator == indicator)
                & (frame.scope == scope)]
    assert len(hit) == 1
    # A namespace, since Series attributes such as .T or .pct_change shadow columns.
    return SimpleNamespace(**hit.iloc[0].to_dict())


# =========================================================================== never comparison
def _never_dataset():
    # danvan_mttq pilot 116 from 08/2018 (month): T 2018, g 2019,
    # pre 2015-2017, post 2019-2021. Never-in-model units 121, 122, 123, 124.
    hop = {
        "116": {2015: 10, 2016: 12, 2017: 14, 2018: 99, 2019: 8, 2020: 6, 2021: 10},
        "121": {2015: 20, 2016: 20, 2017: 20, 2018: 20, 2019: 21, 2020: 22, 2021: 23},
        "122": {2015: 30, 2016: 32, 2017: 34, 2018: 30, 2019: 33, 2020: 32, 2021: 31},
        # 123 lacks 2016, one of the pilot's pre years: no pre mean, never a comparison.
        "123": {2015: 40, 2017: 40, 2018: 40, 2019: 41, 2020: 41, 2021: 41},
        # 124 lacks 2020: a comparison in 2019 and 2021 only.
        "124": {2015: 5, 2016: 5, 2017: 5, 2018: 5, 2019: 9, 2021: 5},
    }
    series = {(u, "so_cuoc_hop"): v for u, v in hop.items()}
    return make_dataset(series, [("116", "danvan_mttq", "2018-08-01", "month")])


def test_did_never_comparison_with_missing_years():
    row = _row(evaluate_pilot(_never_dataset(), "116", "danvan_mttq"), "116", "so_cuoc_hop")
    # Pilot: pre mean (10+12+14)/3 = 12; post 8, 6, 10 -> deviations -4, -6, -2.
    # Pre means: 121 -> 20, 122 -> (30+32+34)/3 = 32, 124 -> 5; 123 has none.
    # 2019: C = {121, 122, 124}, deviations 1, 1, 4 -> mean 2.
    # 2020: C = {121, 122}, deviations 2, 0 -> mean 1 (124 missing).
    # 2021: C = {121, 122, 124}, deviations 3, -1, 0 -> mean 2/3.
    # did = mean(-4 - 2, -6 - 1, -2 - 2/3) = (-6 - 7 - 8/3) / 3 = -47/9.
    assert row.did == pytest.approx(-47 / 9)
    assert row.comparison == "never" and row.n_comparison == 3
    assert (row.T, row.g, row.n_pre, row.n_post) == (2018, 2019, 3, 3)
    assert row.pre_years_used == "2015;2016;2017" and row.post_years_used == "2019;2020;2021"
    # Change before/after: 8 - 12 = -4, i.e. -1/3 as a fraction.
    assert (row.pre_mean, row.post_mean, row.change) == pytest.approx((12, 8, -4))
    assert row.pct_change == pytest.approx(-1 / 3)
    assert row.change_scale == "level"


def test_pretrend_flag_false_when_trend_opposes_did():
    row = _row(evaluate_pilot(_never_dataset(), "116", "danvan_mttq"), "116", "so_cuoc_hop")
    # Gap to the comparison units {121, 122, 124} in the pre years:
    # 2015: 10 - 55/3 = -25/3; 2016: 12 - 57/3 = -21/3; 2017: 14 - 59/3 = -17/3.
    # Slope +4/3 a year; middle of the post years 2020 is 4 years after the pre mean 2016:
    # trend effect +16/3, opposite in sign to did (-47/9) -> False.
    assert row.trend_effect == pytest.approx(16 / 3)
    assert not pd.isna(row.pretrend_flag) and not row.pretrend_flag


def test_pretrend_flag_true_and_missing():
    series = {
        ("116", "so_cuoc_hop"): {2015: 18, 2016: 16, 2017: 14, 2018: 12, 2019: 10, 2020: 8,
                                 2021: 6},
        ("121", "so_cuoc_hop"): dict.fromkeys(range(2015, 2022), 20),
    }
    ds = make_dataset(series, [("116", "danvan_mttq", "2018-08-01", "month")])
    row = _row(evaluate_pilot(ds, "116", "danvan_mttq"), "116", "so_cuoc_hop")
    # Pilot pre mean 16, post mean 8; comparison flat: did = -8.
    # Gap -2, -4, -6: slope -2, times 4 years = -8: same sign, at least half -> True.
    assert row.did == pytest.approx(-8)
    assert row.trend_effect == pytest.approx(-8)
    assert bool(row.pretrend_flag) is True
    # The slope is fitted over 2015-2017 (no earlier data). One comparison unit, so only the
    # pilot's own residuals: the gap lies exactly on its line, residual variance 0, p = 0.
    assert row.pretrend_years_used == "2015;2016;2017"
    assert row.pretrend_slope == pytest.approx(-2)
    assert row.pretrend_p == 0
    # With 2 pre years the trend cannot be judged: missing.
    row2 = _row(evaluate_pilot(ds, "116", "danvan_mttq", pre_years=2), "116", "so_cuoc_hop")
    assert pd.isna(row2.pretrend_flag)


# Pre-trend check over every year before the start (2014-2017 here) with a t-test.
# Pilot 116 of danvan_mttq from 08/2018: T 2018, pre window 2015-2017, post 2019-2021.
# Comparison units 121, 122, 124 with a mean of 20 every year, so the pilot's gap is its value
# minus 20. Years 2014-2017: dt = -1.5, -0.5, 0.5, 1.5, Sxx = 5.
# Critical values of Student's t (two-sided), df 8: 3.355 at 0.01, 5.041 at 0.001 (any table).
FLAT = {"121": [20] * 8, "122": [30] * 8, "124": [10] * 8}
NOISY = {"121": [20, 21, 19, 20] + [20] * 4, "122": [30, 29, 31, 30] + [30] * 4,
         "124": [10] * 8}


def _trend_dataset(pilot_pre, comparisons):
    years = range(2014, 2022)
    series = {("116", "so_cuoc_hop"): dict(zip(years, [*pilot_pre, 18, 20, 22, 24]))}
    for unit, values in comparisons.items():
        series[(unit, "so_cuoc_hop")] = dict(zip(years, values))
    ds = make_dataset(series, [("116", "danvan_mttq", "2018-08-01", "month")])
    return _row(evaluate_pilot(ds, "116", "danvan_mttq"), "116", "so_cuoc_hop")


def test_pretrend_steady_trend_is_flagged():
    row = _trend_dataset([10, 12, 13, 16], FLAT)
    # Gap -10, -8, -7, -4: mean -7.25, centred -2.75, -0.75, 0.25, 3.25;
    # slope = (4.125 + 0.375 + 0.125 + 4.875) / 5 = 1.9 a year.
    assert row.pretrend_years_used == "2014;2015;2016;2017"
    assert row.pretrend_slope == pytest.approx(1.9)
    # trend_effect = 1.9 x (2020 - 2016) = 7.6. did = mean(20, 22, 24) - (12 + 13 + 16) / 3
    # = 22 - 41/3 = 25/3 (comparison units do not move): 7.6 >= 25/6, same sign.
    assert row.trend_effect == pytest.approx(7.6)
    assert row.did == pytest.approx(25 / 3)
    # Residuals 0.1, 0.2, -0.7, 0.4: RSS 0.70. The comparison units' gaps to the others are
    # constant (RSS 0), so the pooled variance 0.70 / (4 x 2) = 0.0875 is below the pilot's
    # own 0.70 / 2 = 0.35, which is used: t = 1.9 / sqrt(0.35 / 5) = 7.18 > 5.041, df 8.
    assert row.pretrend_p < 0.001
    assert bool(row.pretrend_flag) is True


def test_pretrend_never_below_the_pilots_own_scatter():
    # The same line (slope 1.9) with residuals doubled: 0.2, 0.4, -1.4, 0.8 (RSS 2.8).
    row = _trend_dataset([10.1, 12.2, 12.3, 16.4], FLAT)
    assert row.pretrend_slope == pytest.approx(1.9)
    # Pooled alone, 2.8 / 8 = 0.35 would give t = 7.18; the pilot's own 2.8 / 2 = 1.4 gives
    # t = 1.9 / sqrt(1.4 / 5) = 3.59: between 3.355 and 5.041, so 0.001 < p < 0.01.
    assert 0.001 < row.pretrend_p < 0.01
    # The size rule still holds: trend_effect 7.6 against did 22 - 40.9 / 3 = 8.367.
    assert row.trend_effect == pytest.approx(7.6)
    assert row.did == pytest.approx(22 - 40.9 / 3)
    assert not pd.isna(row.pretrend_flag) and not row.pretrend_flag


def test_pretrend_pools_the_comparison_units_scatter():
    row = _trend_dataset([10, 12, 13, 16], NOISY)
    # Comparison mean still 20 a year, so the slope is 1.9 with RSS 0.70 as above.
    # 121 minus the mean of 122 and 124: 0, 1.5, -1.5, 0: slope -0.3, RSS 4.05.
    # 122 minus the mean of 121 and 124: 15, 13.5, 16.5, 15: slope 0.3, RSS 4.05.
    # 124 minus the mean of 121 and 122: -15 each year: RSS 0.
    # Pooled: (0.70 + 4.05 + 4.05) / 8 = 1.1 > 0.35: t = 1.9 / sqrt(1.1 / 5) = 4.05, df 8.
    assert row.pretrend_slope == pytest.approx(1.9)
    assert 0.001 < row.pretrend_p < 0.01
    assert not pd.isna(row.pretrend_flag) and not row.pretrend_flag


def test_pretrend_looks_back_twice_the_pre_window_at_most():
    # Pre window 2015-2017 (3 years): the slope uses 2012-2017 at most. A wild 2008-2011
    # (a boundary change, say) must not move it: the same flagged case as above, from 2014.
    years = range(2008, 2022)
    pilot = [90, 70, 50, 30, 10, 10, 10, 12, 13, 16, 18, 20, 22, 24]
    # 2012 and 2013 at 10 then 10, 12, 13, 16: gap -10, -10, -10, -8, -7, -4 over 2012-2017.
    series = {("116", "so_cuoc_hop"): dict(zip(years, pilot))}
    for unit, level in (("121", 20), ("122", 30), ("124", 10)):
        series[(unit, "so_cuoc_hop")] = dict.fromkeys(years, level)
    ds = make_dataset(series, [("116", "danvan_mttq", "2018-08-01", "month")])
    row = _row(evaluate_pilot(ds, "116", "danvan_mttq"), "116", "so_cuoc_hop")
    assert row.pretrend_years_used == "2012;2013;2014;2015;2016;2017"
    # dt = -2.5..2.5 (Sxx 17.5); gap centred at -8.1667: -1.8333 x 3, 0.1667, 1.1667, 4.1667;
    # sum dt x gap = 4.5833 + 2.75 + 0.9167 + 0.0833 + 1.75 + 10.4167 = 20.5: slope 20.5/17.5.
    assert row.pretrend_slope == pytest.approx(20.5 / 17.5)


def test_pretrend_before_after_only_is_missing_but_measured():
    ds = make_dataset(
        {("116", "so_cuoc_hop"): dict(zip(range(2014, 2022), [10, 12, 13, 16, 18, 20, 22, 24]))},
        [("116", "danvan_mttq", "2018-08-01", "month")],
    )
    row = _row(evaluate_pilot(ds, "116", "danvan_mttq"), "116", "so_cuoc_hop")
    assert row.comparison == "none"
    # No comparison mean: the contract's flag cannot be computed. The own series has the
    # slope 1.9 of the gap above (the gap was the series minus 20).
    assert pd.isna(row.pretrend_flag)
    assert row.pretrend_slope == pytest.approx(1.9)
    assert row.trend_effect == pytest.approx(7.6)


# =========================================================================== not-yet and none
def _notyet_dataset():
    # tuyengiao_ttct in every unit, so no unit is never in the model.
    # 116 from 1 January 2017 (day): T = g = 2017, pre 2014-2016, post 2017-2019.
    # 118 from 03/2019: T 2019. 119 from 06/2021: T 2021, g 2022. 120 from 2022-01-01: T 2022.
    lop = {
        "116": {2014: 4, 2015: 5, 2016: 6, 2017: 9, 2018: 10, 2019: 11},
        "118": {2014: 2, 2015: 2, 2016: 2, 2017: 3, 2018: 4, 2019: 50},
        "119": {2014: 7, 2015: 8, 2016: 9, 2017: 8, 2018: 10, 2019: 11, 2020: 12,
                2022: 15, 2023: 16, 2024: 17},
        "120": {2014: 1, 2015: 1, 2016: 1, 2017: 1, 2018: 1, 2019: 4},
    }
    series = {(u, "so_lop_boi_duong"): v for u, v in lop.items()}
    pilots = [
        ("116", "tuyengiao_ttct", "2017-01-01", "day"),
        ("118", "tuyengiao_ttct", "2019-03-01", "day"),
        ("119", "tuyengiao_ttct", "2021-06-01", "month"),
        ("120", "tuyengiao_ttct", "2022-01-01", "day"),
    ]
    return make_dataset(series, pilots)


def test_did_not_yet_comparison():
    res = evaluate_all(_notyet_dataset(), models=["tuyengiao_ttct"], sensitivity=False)
    row = _row(res, "116", "so_lop_boi_duong")
    # 116: pre mean 5, deviations 4, 5, 6. Pre means: 118 -> 2, 119 -> 8, 120 -> 1.
    # 2017: untreated through 2017 = {118, 119, 120}: deviations 1, 0, 0 -> 1/3; 4 - 1/3 = 11/3
    # 2018: same units: 2, 2, 0 -> 4/3; 5 - 4/3 = 11/3
    # 2019: 118 starts in 2019, so {119, 120}: 3, 3 -> 3; 6 - 3 = 3 (118's 50 never used)
    # did = (11/3 + 11/3 + 3) / 3 = 31/9.
    assert row.comparison == "notyet"
    assert row.did == pytest.approx(31 / 9)
    assert row.n_comparison == 3
    assert (row.T, row.g, bool(row.transition)) == (2017, 2017, False)


def test_before_after_only_when_no_comparison():
    res = evaluate_all(_notyet_dataset(), models=["tuyengiao_ttct"], sensitivity=False)
    row = _row(res, "119", "so_lop_boi_duong")
    # 119: T 2021, g 2022; pre 2018-2020 = 10, 11, 12 (mean 11); post 15, 16, 17 (mean 16).
    # Every other unit starts by 2022: no unit untreated through 2022 -> before/after only.
    assert row.comparison == "none"
    assert row.did == pytest.approx(5) and row.change == pytest.approx(5)
    # The long difference needs years after every pilot started (2022 on) in which at least
    # 4 districts have a value: only 119 has 2022-2024, so it cannot be computed.
    assert row.verdict == "before_after_only"
    assert row.reason_code == "district_before_after_only"
    # Every other unit had started by 2022: the rank test says that cause (issue 12).
    assert row.placebo_verdict == "not_assessed"
    assert row.placebo_reason_code == "before_after_all_adopted"
    assert row.status == "estimate_only" and math.isnan(row.long_diff)
    assert "before/after only (+5.0 courses" in row.reason_en and "trước – sau" in row.reason_vi
    assert row.reason_vi.startswith("Không đánh giá được")


def test_too_few_years_cannot_be_assessed():
    res = evaluate_all(_notyet_dataset(), models=["tuyengiao_ttct"], sensitivity=False)
    # 118: T 2019, g 2020: post 2020-2022 has no data -> 0 usable post years.
    row = _row(res, "118", "so_lop_boi_duong")
    assert row.n_post == 0 and row.verdict == "no_data" and row.reason_code == "few_post"
    assert row.placebo_verdict == "not_assessed"
    assert math.isnan(row.did)
    # 120: T 2022, pre 2019-2021 has only 2019 -> 1 usable pre year.
    row = _row(res, "120", "so_lop_boi_duong")
    assert row.n_pre == 1 and row.reason_code == "few_pre"
    assert "2019" in row.reason_en and "ít nhất 2" in row.reason_vi


# =========================================================================== kinds of change
def _single_unit():
    # One tuyengiao pilot from 1 January 2019: pre 2016-2018, post 2019-2021; no other unit.
    years = range(2016, 2022)
    series = {
        ("116", "so_hoc_vien"): {y: 0 if y < 2019 else y - 2017 for y in years},
        ("116", "dat_chuan_co_so"): {y: 0.5 if y < 2019 else 0.7 for y in years},
        ("116", "so_lop_boi_duong"): {y: 4 if y < 2019 else 5 for y in years},
        ("116", "xep_loai"): {y: 2 if y < 2019 else 3 for y in years},
    }
    return make_dataset(series, [("116", "tuyengiao_ttct", "2019-01-01", "day")])


def test_percent_change_share_and_rating():
    res = evaluate_pilot(_single_unit(), "Thành phố", "tuyengiao_ttct")
    hv = _row(res, "116", "so_hoc_vien")
    # Pre 0, 0, 0; post 2, 3, 4: change 3, percent change of a zero mean undefined.
    assert hv.change == pytest.approx(3) and math.isnan(hv.pct_change)
    lop = _row(res, "116", "so_lop_boi_duong")
    # 4 -> 5: +1, i.e. +25 % stored as 0.25.
    assert lop.pct_change == pytest.approx(0.25)
    share = _row(res, "116", "dat_chuan_co_so")
    # 0.5 -> 0.7: +0.2 in share units, shown as +20 percentage points; no percent change.
    assert share.change == pytest.approx(0.2) and share.change_scale == "pp"
    assert math.isnan(share.pct_change)
    assert "+20.0 percentage points" in share.reason_en
    assert "+20,0 điểm phần trăm" in share.reason_vi
    rating = _row(res, "116", "xep_loai")
    # 2 -> 3: one grade up; ratings show no percent change.
    assert rating.change == pytest.approx(1) and math.isnan(rating.pct_change)


# =========================================================================== mixed models
def test_mixed_models():
    years = range(2015, 2022)
    series = {}
    for u in ("116", "121", "122"):
        series[(u, "so_cuoc_hop")] = dict.fromkeys(years, 10)
        series[(u, "so_cuoc_kiem_tra_giam_sat")] = dict.fromkeys(years, 3)
    pilots = [
        ("116", "danvan_mttq", "2018-08-01", "month"),
        ("116", "tuyengiao_ttct", "2018-08-01", "month"),
        ("121", "tuyengiao_ttct", "2019-01-01", "day"),
    ]
    res = evaluate_all(make_dataset(series, pilots), sensitivity=False)
    # so_cuoc_hop concerns both models; 116 pilots both: mixed for either model.
    assert bool(res[(res.model == "danvan_mttq") & (res.unit_code == "116")
                    & (res.indicator == "so_cuoc_hop")].mixed_models.iloc[0])
    tg = res[res.model == "tuyengiao_ttct"]
    assert bool(tg[(tg.unit_code == "116") & (tg.indicator == "so_cuoc_hop")].mixed_models
                .iloc[0])
    # 121 pilots only tuyengiao_ttct: not mixed.
    assert not bool(tg[(tg.unit_code == "121") & (tg.indicator == "so_cuoc_hop")].mixed_models
                    .iloc[0])
    # Inspections concern danvan_mttq alone: not mixed.
    dv = res[res.model == "danvan_mttq"]
    assert not bool(dv[dv.indicator == "so_cuoc_kiem_tra_giam_sat"].mixed_models.iloc[0])


# =========================================================================== API
def test_evaluate_pilot_columns_and_unit_resolution():
    ds = _never_dataset()
    res = evaluate_pilot(ds, "TP Sơn La", "danvan_mttq")
    assert set(CONTRACT_COLUMNS) <= set(res.columns)
    assert list(res.columns) == list(RESULT_COLUMNS)
    # One row per indicator that concerns danvan_mttq.
    expected = [c for c, ms in zip(ds.indicators.code, ds.indicators.models_list, strict=True)
                if "*" in ms or "danvan_mttq" in ms]
    assert list(res.indicator) == expected
    assert (res.scope == "pilot").all() and (res.unit_code == "116").all()
    assert (res.unit_name == "Thành phố Sơn La").all()


@pytest.mark.parametrize("unit", ["Bắc Yên", "121"])
def test_evaluate_pilot_not_a_pilot(unit):
    with pytest.raises(ParameterError) as err:
        evaluate_pilot(_never_dataset(), unit, "danvan_mttq")
    assert "danvan_mttq" in err.value.message_vi and "danvan_mttq" in err.value.message_en
    assert err.value.message_vi != err.value.message_en


def test_bad_parameters():
    ds = _never_dataset()
    with pytest.raises(ParameterError):
        evaluate_pilot(ds, "116", "khong_co_mo_hinh")
    with pytest.raises(ParameterError):
        evaluate_pilot(ds, "116", "danvan_mttq", level=1.5)
    with pytest.raises(ParameterError):
        evaluate_pilot(ds, "116", "danvan_mttq", pre_years=0)


def test_inputs_not_changed():
    ds = _never_dataset()
    panel, pilots = ds.panel.copy(), ds.pilots.copy()
    evaluate_all(ds)
    pd.testing.assert_frame_equal(ds.panel, panel)
    pd.testing.assert_frame_equal(ds.pilots, pilots)


def test_pilot_series():
    s = pilot_series(_never_dataset(), "116", "danvan_mttq", "so_cuoc_hop")
    assert list(s.columns) == list(SERIES_COLUMNS)
    assert list(s.year) == list(range(2015, 2022))
    assert list(s.window) == ["pre", "pre", "pre", "transition", "post", "post", "post"]
    by = s.set_index("year")
    # 2019: C = {121, 122, 124}: levels 21, 33, 9 -> 21; counterfactual 12 + 2 = 14.
    assert by.loc[2019, "comparison_mean"] == pytest.approx(21)
    assert by.loc[2019, "counterfactual"] == pytest.approx(14)
    assert by.loc[2019, "n_comparison"] == 3
    # 2020: 124 missing: (22 + 32) / 2 = 27.
    assert by.loc[2020, "comparison_mean"] == pytest.approx(27)
    assert by.loc[2020, "n_comparison"] == 2
    # 2015 (pre): the did's comparison units {121, 122, 124}: (20 + 30 + 5) / 3.
    assert by.loc[2015, "comparison_mean"] == pytest.approx(55 / 3)
    assert by.loc[2018, "pilot"] == 99 and not by["partial"].any()


def test_pilot_series_partial_year():
    from datetime import date

    series = {("116", "so_cuoc_hop"): {2022: 5, 2023: 6, 2024: 7, 2025: 3},
              ("121", "so_cuoc_hop"): {2022: 5, 2023: 6, 2024: 7, 2025: 3}}
    ds = make_dataset(series, [("116", "danvan_mttq", "2023-05-01", "month")],
                      data_end=date(2025, 6, 30))
    s = pilot_series(ds, "116", "danvan_mttq", "so_cuoc_hop").set_index("year")
    # 2025 is half a year: partial, and the flow is left out.
    assert bool(s.loc[2025, "partial"]) and math.isnan(s.loc[2025, "pilot"])
    assert s.loc[2025, "window"] == "post" and s.loc[2023, "window"] == "transition"


def test_chance_verdicts():
    frame = pd.DataFrame({"status": ["assessed"] * 20 + ["not_assessed"] * 3})
    # 20 tests at level 0.10: about 2 verdicts by chance alone.
    assert chance_verdicts(frame, 0.10) == (20, pytest.approx(2.0))


def test_post_year_without_comparison_is_left_out_not_compared_before_after():
    # Pilot 116 from 08/2018: pre 2015-2017, post 2019-2021. The only never unit, 121, has
    # no 2020 value: 2020 has no comparison, so did averages 2019 and 2021 only.
    series = {
        ("116", "so_cuoc_hop"): {2015: 10, 2016: 10, 2017: 10, 2019: 6, 2020: 0, 2021: 8},
        ("121", "so_cuoc_hop"): {2015: 20, 2016: 20, 2017: 20, 2019: 21, 2021: 23},
    }
    ds = make_dataset(series, [("116", "danvan_mttq", "2018-08-01", "month")])
    row = _row(evaluate_pilot(ds, "116", "danvan_mttq"), "116", "so_cuoc_hop")
    # 2019: (6 - 10) - (21 - 20) = -5; 2021: (8 - 10) - (23 - 20) = -5 -> did -5.
    # The pilot's own post mean still uses 2020: (6 + 0 + 8) / 3 = 14/3.
    assert row.did == pytest.approx(-5)
    assert row.did_years_used == "2019;2021" and row.post_years_used == "2019;2020;2021"
    assert row.post_mean == pytest.approx(14 / 3)


def test_partial_2025_flow_left_out_stock_kept():
    from datetime import date

    # Pilot from 1 January 2023 (day): pre 2020-2022, post 2023-2025; data end 30/06/2025.
    years = range(2020, 2026)
    series = {("116", "so_cuoc_hop"): dict.fromkeys(years, 10),
              ("116", "so_bien_che"): dict.fromkeys(years, 10)}
    ds = make_dataset(series, [("116", "danvan_mttq", "2023-01-01", "day")],
                      data_end=date(2025, 6, 30))
    res = evaluate_pilot(ds, "116", "danvan_mttq")
    # The half-year 2025 of a flow is left out; a stock's mid-2025 value is still a reading.
    assert _row(res, "116", "so_cuoc_hop").post_years_used == "2023;2024"
    assert _row(res, "116", "so_bien_che").post_years_used == "2023;2024;2025"


def test_documented_start_is_not_shifted():
    row = _row(evaluate_pilot(_never_dataset(), "116", "danvan_mttq"), "116", "so_cuoc_hop")
    assert row.start_status == "documented"
    assert row.verdict_earlier == "" and row.verdict_later == "" and not row.start_sensitive
