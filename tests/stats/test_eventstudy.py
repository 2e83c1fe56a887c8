"""Event studies: att_gt on a model's annual panel, normalized, with anticipation.

Tiny hand-written panels; every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.data.catalog import builtin_indicators, builtin_models
from kiemnhiem.data.dataset import Dataset
from kiemnhiem.exceptions import ParameterError
from kiemnhiem.stats.eventstudy import EVENT_STUDY_COLUMNS, event_study

NAMES = {
    "116": "Thành phố Sơn La",
    "118": "Huyện Quỳnh Nhai",
    "119": "Huyện Thuận Châu",
    "120": "Huyện Mường La",
}
MODEL = "danvan_mttq"
IND = "so_cuoc_hop"
YEARS = (2017, 2018, 2019, 2020, 2021, 2022)

# The hand panel (meetings a year). A = 116, B = 118 pilot the model; C = 119, D = 120 never.
#
#   unit        2017 2018 2019 2020 2021 2022
#   A  116         4    4    5    9   10   11
#   B  118         7    7    7    8   12   14
#   C  119        10   10   10   10   10   10
#   D  120        19   20   21   22   23   24      (rises by 1 a year)
#
# Each cell ATT(g, t) = (A or B's change from the base year to t) - (mean change of the
# comparison units over the same years). C never changes and D changes by (t - base), so the
# comparison change is (t - base) / 2 whenever C and D are the comparison units.
VALUES = {
    "116": (4, 4, 5, 9, 10, 11),
    "118": (7, 7, 7, 8, 12, 14),
    "119": (10, 10, 10, 10, 10, 10),
    "120": (19, 20, 21, 22, 23, 24),
}


def make_dataset(pilots, values=VALUES, skip=()):
    """A Dataset of one indicator; ``pilots`` as ``(unit, start, precision)`` of MODEL;
    ``skip`` lists (unit, year) cells left out."""
    rows = [
        dict(
            unit_code=u,
            period=str(y),
            freq="year",
            year=y,
            sub=0,
            indicator=IND,
            value=float(v),
            note="",
        )
        for u, vals in values.items()
        for y, v in zip(YEARS, vals)
        if (u, y) not in skip
    ]
    prows = [
        dict(
            unit_code=u,
            unit_name=NAMES[u],
            model=MODEL,
            start=pd.Timestamp(s),
            start_precision=p,
            start_status="documented",
            end=pd.NaT,
            source="test",
        )
        for u, s, p in pilots
    ]
    codes = sorted(values)
    units = pd.DataFrame(
        dict(
            unit_code=codes,
            unit_name=[NAMES[c] for c in codes],
            unit_short=[NAMES[c].split(" ", 1)[1] for c in codes],
            province_code="14",
            province_name="Sơn La",
        )
    )
    return Dataset(
        name="test",
        province_code="14",
        province_name="Sơn La",
        synthetic=True,
        description="",
        source="",
        data_end=None,
        panel=pd.DataFrame(rows),
        pilots=pd.DataFrame(prows),
        units=units,
        models=builtin_models(),
        indicators=builtin_indicators(),
        events=pd.DataFrame(columns=["date", "code", "label_vi", "label_en"]),
        comments=pd.DataFrame(columns=["unit_code", "model", "comment", "author"]),
    )


def _col(frame, column):
    return dict(zip(frame["event_time"], frame[column]))


# --- no transition year: anticipation 0, normalized at e = -1 ------------------------------
# A starts 2020-01-01, B 2021-01-01 (to the day): g = T, anticipation 0, base g - 1.
# pre_years = post_years = 2: event times -2..1, years 2018 (2020 - 2) to 2022 (2021 + 1).
#
# A (g 2020, base 2019): e=-2 (2018): A -1, comparison (0 + -1)/2 = -0.5   -> -0.5
#                        e=0 (2020):  A +4, comparison (0 + 1)/2 = 0.5     ->  3.5
#                        e=1 (2021):  A +5, comparison (0 + 2)/2 = 1       ->  4
# B (g 2021, base 2020): e=-2 (2019): B -1, comparison -0.5                -> -0.5
#                        e=0 (2021):  B +4, comparison 0.5                 ->  3.5
#                        e=1 (2022):  B +6, comparison 1                   ->  5
# Dynamic (two cohorts of one unit: equal weights): -0.5, 0, 3.5, 4.5.
JAN_FIRST = [("116", "2020-01-01", "day"), ("118", "2021-01-01", "day")]


def test_dynamic_profile_by_hand():
    es = event_study(make_dataset(JAN_FIRST), MODEL, IND, pre_years=2, post_years=2)
    assert tuple(es.columns) == EVENT_STUDY_COLUMNS
    assert list(es["event_time"]) == [-2, -1, 0, 1]
    assert _col(es, "att") == pytest.approx({-2: -0.5, -1: 0.0, 0: 3.5, 1: 4.5})
    assert set(es["n_units"]) == {2} and set(es["n_control"]) == {2}
    # Two pilots, but each cohort is one unit whose own noise the SE leaves out.
    assert not es["reliable"].any()
    assert es.attrs["anticipation"] == 0 and es.attrs["control"] == "never"
    assert es.attrs["years"] == (2018, 2019, 2020, 2021, 2022)
    assert es.attrs["dropped"] == ()


def test_normalization_row():
    es = event_study(make_dataset(JAN_FIRST), MODEL, IND, pre_years=2, post_years=2)
    base = es[es["base"]]
    assert list(base["event_time"]) == [-1] and es.attrs["base_event_time"] == -1
    assert base["att"].iloc[0] == 0.0
    assert base[["se", "ci_low", "ci_high"]].isna().all(axis=None)
    others = es[~es["base"]]
    assert (others["se"] > 0).all()
    z = NormalDist().inv_cdf(0.95)  # level 0.10: 90 % intervals
    assert np.allclose(others["ci_low"], others["att"] - z * others["se"])
    assert np.allclose(others["ci_high"], others["att"] + z * others["se"])


def test_one_unit_cohort_profile_and_its_se():
    es = event_study(make_dataset(JAN_FIRST), MODEL, IND, unit="116", pre_years=2, post_years=2)
    assert es.attrs["group"] == 2020 and es.attrs["unit"] == "116"
    assert _col(es, "att") == pytest.approx({-2: -0.5, -1: 0.0, 0: 3.5, 1: 4.0})
    # One pilot: its own influence is zero, so the SE is the comparison units' alone.
    # e=0: n = 4 units; C's change 0 and D's 1 around their mean 0.5; influence of each
    # comparison unit -n (dY - 0.5) / 2 = +-1, so se = sqrt((1 + 1) / 4 / 4) = sqrt(1/8).
    assert _col(es, "se")[0] == pytest.approx(math.sqrt(1 / 8))
    assert not es["reliable"].any()
    assert set(es["n_units"]) == {1}
    # ... and the pilot's own values do not move it (only the ATT moves).
    moved = dict(VALUES, **{"116": (4, 4, 5, 19, 10, 11)})
    es2 = event_study(
        make_dataset(JAN_FIRST, moved), MODEL, IND, unit="116", pre_years=2, post_years=2
    )
    assert _col(es2, "att")[0] == pytest.approx(13.5)
    assert _col(es2, "se")[0] == pytest.approx(math.sqrt(1 / 8))


def test_years_outside_the_span_cost_nothing_inside_they_drop_the_unit():
    # D lacks 2017, outside 2018-2022: nothing changes.
    es = event_study(
        make_dataset(JAN_FIRST, skip=[("120", 2017)]), MODEL, IND, pre_years=2, post_years=2
    )
    assert _col(es, "att") == pytest.approx({-2: -0.5, -1: 0.0, 0: 3.5, 1: 4.5})
    # D lacks 2019, inside: the balanced panel leaves D out and C, which never changes, is the
    # only comparison unit: A at e=0 is +4, B at e=0 +4, at e=1 +5 and +6.
    es = event_study(
        make_dataset(JAN_FIRST, skip=[("120", 2019)]), MODEL, IND, pre_years=2, post_years=2
    )
    assert es.attrs["dropped"] == (("120", "incomplete"),)
    assert _col(es, "att") == pytest.approx({-2: -1.0, -1: 0.0, 0: 4.0, 1: 5.5})
    assert set(es["n_control"]) == {1} and not es["reliable"].any()


# --- a transition year: anticipation 1, base g - 2, normalized at e = -2 -------------------
# A starts 2019-06 (by month): T 2019, g 2020, so the model runs with anticipation 1. B still
# starts 2021-01-01 (g 2021). Event times -3..1, years 2017 (2020 - 3) to 2022.
#
# A (g 2020, base 2018): e=-3 (2017): A 0, comparison (0 - 1)/2 = -0.5  -> 0.5
#                        e=-1 (2019): A +1, comparison 0.5              -> 0.5
#                        e=0 (2020):  A +5, comparison 1                -> 4
#                        e=1 (2021):  A +6, comparison 1.5              -> 4.5
# B (g 2021, base 2019): e=-3 (2018): B 0, comparison -0.5              -> 0.5
#                        e=-1 (2020): B +1, comparison 0.5              -> 0.5
#                        e=0 (2021):  B +5, comparison 1                -> 4
#                        e=1 (2022):  B +7, comparison 1.5              -> 5.5
TRANSITION = [("116", "2019-06", "month"), ("118", "2021-01-01", "day")]


def test_transition_year_sets_anticipation_and_base():
    es = event_study(make_dataset(TRANSITION), MODEL, IND, pre_years=2, post_years=2)
    assert es.attrs["anticipation"] == 1 and es.attrs["base_event_time"] == -2
    assert list(es["event_time"]) == [-3, -2, -1, 0, 1]
    assert list(es.loc[es["base"], "event_time"]) == [-2]
    assert _col(es, "att") == pytest.approx({-3: 0.5, -2: 0.0, -1: 0.5, 0: 4.0, 1: 5.0})
    assert es.attrs["years"] == YEARS


# --- no never-treated unit: not-yet comparison with anticipation ---------------------------
# A (g 2020, transition), B (g 2021), C = 119 starts 2021-03 (g 2022); D is left out, so
# every unit pilots the model. C is the latest cohort: years from 2022 - 1 = 2021 on go, and
# C only compares. A not-yet unit compares in year t only if its g > t + 1.
#
#   C = 119:  2017 30, 2018 31, 2019 33, 2020 36
# A (base 2018): e=-3 (2017): A 0; B (2021 > 2019) 0 and C (2022 > 2019) -1: -0.5 -> 0.5
#                e=-1 (2019): A +1; B 0 and C +2 (both have g > 2020): 1         -> 0
#                e=0  (2020): A +5; B is out (2021 > 2021 fails), C +5          -> 0
def test_not_yet_comparison_with_anticipation():
    values = {k: v for k, v in VALUES.items() if k != "120"}
    values["119"] = (30, 31, 33, 36, 40, 45)
    pilots = TRANSITION + [("119", "2021-03", "month")]
    es = event_study(
        make_dataset(pilots, values), MODEL, IND, unit="116", pre_years=2, post_years=2
    )
    assert es.attrs["control"] == "notyet" and es.attrs["anticipation"] == 1
    assert es.attrs["years"] == (2017, 2018, 2019, 2020)
    assert _col(es, "att") == pytest.approx({-3: 0.5, -2: 0.0, -1: 0.0, 0: 0.0})
    assert _col(es, "n_control") == {-3: 2, -2: 2, -1: 2, 0: 1}
    with pytest.raises(ParameterError, match="latest cohort"):
        event_study(make_dataset(pilots, values), MODEL, IND, unit="119", pre_years=2, post_years=2)


def test_errors():
    ds = make_dataset(JAN_FIRST)
    with pytest.raises(ParameterError, match="not a pilot"):
        event_study(ds, MODEL, IND, unit="119")
    with pytest.raises(ParameterError, match="not in the indicator catalog"):
        event_study(ds, MODEL, "khong_co")
    with pytest.raises(ParameterError):
        event_study(ds, MODEL, IND, level=1.5)
    gap = make_dataset(JAN_FIRST, skip=[("116", 2019)])
    with pytest.raises(ParameterError, match="left out of the event study"):
        event_study(gap, MODEL, IND, unit="116", pre_years=2, post_years=2)


# --- the demo ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo():
    from kiemnhiem.data.dataset import load_dataset

    return load_dataset(None)


def test_demo_lecturers_profile(demo):
    # Planted (data/demo/README.md): +2 lecturers from each tuyengiao_ttct pilot's year T, no
    # effect before. Every unit pilots this model: not-yet comparison, anticipation 1.
    es = event_study(demo, "tuyengiao_ttct", "so_giang_vien_chuyen_trach")
    effect = 2.0
    assert es.attrs["control"] == "notyet" and es.attrs["anticipation"] == 1
    before = es[es["event_time"] < es.attrs["base_event_time"]]
    after = es[es["event_time"] >= 0]
    assert len(before) >= 1 and len(after) >= 1
    assert (before["att"].abs() < 0.5 * effect).all()
    assert (after["att"] > 0.5 * effect).all()
    # Cohorts of 5 and 3 pilots (g 2019, 2020), 3 not-yet units (g 2021, 127 left out).
    assert es["reliable"].all()
    assert es.attrs["dropped"] == (("127", "incomplete"),)
    assert es.loc[es["base"], "att"].tolist() == [0.0]


def test_never_treated_all_dropped_falls_back_to_not_yet():
    # C and D both lack a year inside 2018-2022, so no never-treated unit is left: B (g 2021)
    # becomes the not-yet comparison and, as the latest cohort, keeps the years before 2021.
    # A (base 2019): e=-2 (2018): A -1, B 0 -> -1;  e=0 (2020): A +4, B +1 -> 3.
    ds = make_dataset(JAN_FIRST, skip=[("119", 2020), ("120", 2019)])
    es = event_study(ds, MODEL, IND, pre_years=2, post_years=2)
    assert es.attrs["control"] == "notyet"
    assert es.attrs["dropped"] == (("119", "incomplete"), ("120", "incomplete"))
    assert _col(es, "att") == pytest.approx({-2: -1.0, -1: 0.0, 0: 3.0})


# ---------------------------------------------------------------------------------------------
# A report's profiles, the annual panel computed once
# ---------------------------------------------------------------------------------------------


def test_pilot_profiles_are_the_per_indicator_calls():
    """The demo's unit 124 in tuyengiao_ttct: every indicator of the catalog, those the
    model concerns and those it does not (placebos and errors alike)."""
    from kiemnhiem.data.dataset import load_dataset
    from kiemnhiem.stats.evaluation import pilot_series
    from kiemnhiem.stats.eventstudy import pilot_profiles

    ds = load_dataset(None)
    indicators = list(ds.indicators["code"])
    series, studies, errors = pilot_profiles(ds, "124", "tuyengiao_ttct", indicators)
    assert list(series) == indicators and set(studies) | set(errors) == set(indicators)
    for code in indicators:
        pd.testing.assert_frame_equal(series[code], pilot_series(ds, "124", "tuyengiao_ttct", code))
        try:
            expected = event_study(ds, "tuyengiao_ttct", code, unit="124")
        except ParameterError as exc:
            assert code not in studies and str(errors[code]) == str(exc)
        else:
            pd.testing.assert_frame_equal(studies[code], expected)
            assert studies[code].attrs == expected.attrs


def test_model_profiles_are_each_pilots_own():
    """Every pilot of both demo models at once (tuyengiao_ttct: twelve pilots in three
    cohorts, those of 2021 without estimates), every indicator of the catalog: each pilot gets
    what ``pilot_profiles`` computes for it alone, frames, attrs and errors; a unit that is not
    a pilot of the model (999: no such unit) is left out."""
    from kiemnhiem.data.dataset import load_dataset
    from kiemnhiem.stats.eventstudy import model_profiles, pilot_profiles

    ds = load_dataset(None)
    indicators = list(ds.indicators["code"])
    for model in ("tuyengiao_ttct", "danvan_mttq"):
        units = list(ds.pilots.loc[ds.pilots["model"] == model, "unit_code"])
        together = model_profiles(ds, model, {u: indicators for u in [*units, "999"]})
        assert list(together) == units
        for unit in units:
            series, studies, errors = together[unit]
            e_series, e_studies, e_errors = pilot_profiles(ds, unit, model, indicators)
            assert list(series) == list(e_series) and list(studies) == list(e_studies)
            for code in series:
                pd.testing.assert_frame_equal(series[code], e_series[code], check_exact=True)
            for code in studies:
                pd.testing.assert_frame_equal(studies[code], e_studies[code], check_exact=True)
                assert studies[code].attrs == e_studies[code].attrs
                assert studies[code].attrs["unit"] == unit
            assert {k: str(e) for k, e in errors.items()} == {
                k: str(e) for k, e in e_errors.items()
            }


def test_the_annual_panel_is_shared_only_inside_the_block():
    from kiemnhiem.data.dataset import load_dataset
    from kiemnhiem.stats.timeline import annual_panel, reusing_annual_panel

    ds = load_dataset(None)
    assert annual_panel(ds) is not annual_panel(ds)
    with reusing_annual_panel(ds):
        first = annual_panel(ds)
        with reusing_annual_panel(ds):  # nested: still the same one
            assert annual_panel(ds) is first
        assert annual_panel(ds) is first
    assert annual_panel(ds) is not first
    pd.testing.assert_frame_equal(annual_panel(ds), first)
