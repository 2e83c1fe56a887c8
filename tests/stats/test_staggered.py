"""Tests for kiemnhiem.stats.staggered: Callaway and Sant'Anna group-time ATTs as R's ``did``.

Expected values are worked out by hand in the comments; the check against R's ``did`` runs
its Python port ``moderndid`` on its bundled ``mpdta`` at test time (skipped without it).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.exceptions import ParameterError
from kiemnhiem.stats.staggered import ATTGTResult, att_gt

# --- a hand-worked panel ------------------------------------------------------------------
# Three units, periods 1-3: A first treated in 2, B in 3, C never (first_treated 0).
#
#   unit  g   y1  y2  y3    changes: 1->2  2->3  1->3
#   A     2    1   4   6              3     2     5
#   B     3    2   4   7              2     3     5
#   C     0    1   2   3              1     1     2
#
# Each ATT(g, t) is (change of cohort g) - (mean change of its comparison units) between the
# base period and t. The base period of a post-treatment cell (t >= g) is g - 1; under
# "varying" a pre-treatment cell compares t with t - 1, under "universal" every cell uses
# g - 1, and the cell t = g - 1 is the reference, 0 by construction.
# Comparison units: "never" = C alone; "notyet" adds units with g > max(t, base).
#
# never, varying
#   (2,2): A 1->2 = 3, C 1->2 = 1                      -> 3 - 1 = 2
#   (2,3): A 1->3 = 5, C 1->3 = 2                      -> 5 - 2 = 3
#   (3,2): pre, 1->2: B 2, C 1                         -> 2 - 1 = 1
#   (3,3): B 2->3 = 3, C 1                             -> 3 - 1 = 2
# notyet, varying
#   (2,2): comparison C and B (3 > 2): (1 + 2) / 2 = 1.5 -> 3 - 1.5 = 1.5
#   (2,3): B is treated by 3, so C alone               -> 5 - 2 = 3
#   (3,2): A (2 > 2 is false) is not a control, C      -> 2 - 1 = 1
#   (3,3): C alone                                      -> 3 - 1 = 2
# never, universal (base 1 for A, 2 for B)
#   (2,1): reference -> 0;  (2,2) -> 2;  (2,3) -> 3
#   (3,1): 2->1 changes: B 2 - 4 = -2, C 1 - 2 = -1    -> -2 - (-1) = -1
#   (3,2): reference -> 0;  (3,3) -> 2
# notyet, universal
#   (2,1): reference -> 0
#   (2,2): cutoff max(2, 1) = 2, C and B               -> 1.5
#   (2,3): cutoff 3, C alone                           -> 3
#   (3,1): cutoff max(1, 2) = 2, A excluded, C alone   -> -1
#   (3,2): reference -> 0;  (3,3) -> 2
HAND_EXPECTED = {
    ("never", "varying"): {(2, 2): 2.0, (2, 3): 3.0, (3, 2): 1.0, (3, 3): 2.0},
    ("notyet", "varying"): {(2, 2): 1.5, (2, 3): 3.0, (3, 2): 1.0, (3, 3): 2.0},
    ("never", "universal"): {
        (2, 1): 0.0,
        (2, 2): 2.0,
        (2, 3): 3.0,
        (3, 1): -1.0,
        (3, 2): 0.0,
        (3, 3): 2.0,
    },
    ("notyet", "universal"): {
        (2, 1): 0.0,
        (2, 2): 1.5,
        (2, 3): 3.0,
        (3, 1): -1.0,
        (3, 2): 0.0,
        (3, 3): 2.0,
    },
}


def _long(rows: dict[str, tuple[float, list[float]]]) -> pd.DataFrame:
    """{unit: (first_treated, [y1, y2, ...])} as a long frame, periods from 1."""
    records = [
        {"unit": u, "year": t, "y": y, "g": g}
        for u, (g, ys) in rows.items()
        for t, y in enumerate(ys, start=1)
    ]
    return pd.DataFrame.from_records(records)


def _hand_panel() -> pd.DataFrame:
    return _long({"A": (2, [1, 4, 6]), "B": (3, [2, 4, 7]), "C": (0, [1, 2, 3])})


def _run(frame: pd.DataFrame, **kwargs) -> ATTGTResult:
    return att_gt(frame, "unit", "year", "y", "g", **kwargs)


def _cells(result: ATTGTResult) -> dict[tuple[int, int], float]:
    frame = result.to_frame()
    return {(int(g), int(t)): a for g, t, a in zip(frame.group, frame.time, frame.att)}


@pytest.mark.parametrize(("control", "base_period"), list(HAND_EXPECTED))
def test_hand_worked_cells(control, base_period):
    result = _run(_hand_panel(), control=control, base_period=base_period)
    assert _cells(result) == pytest.approx(HAND_EXPECTED[(control, base_period)])


def test_frame_columns_and_extras():
    frame = _run(_hand_panel(), base_period="universal").to_frame()
    assert list(frame.columns[:4]) == ["group", "time", "att", "se"]
    row = frame[(frame.group == 3) & (frame.time == 1)].iloc[0]
    # The (3, 1) cell measures the change from B's base period 2 to 1: event time 1 - 3 = -2.
    assert (row.base_time, row.event_time, bool(row.post)) == (2, -2, False)
    assert (row.n_treated, row.n_control) == (1, 1)
    # Reference cells are 0 with no standard error.
    ref = frame[frame.time == frame.group - 1]
    assert ref.att.eq(0).all() and ref.se.isna().all()


def test_hand_worked_aggregations():
    # never, varying: cells (2,2)=2, (2,3)=3, (3,2)=1, (3,3)=2. Each cohort has 1 of the 3
    # units, so cohort-size weights are equal.
    result = _run(_hand_panel())
    # simple: post cells 2, 3, 2 -> 7/3
    assert result.aggregate("simple").overall_att == pytest.approx(7 / 3)
    # dynamic: e=-1: (3,2)=1; e=0: (2,2), (3,3) -> 2; e=1: (2,3) -> 3; overall mean(2, 3) = 2.5
    dyn = result.aggregate("dynamic")
    assert dyn.to_frame().event_time.tolist() == [-1, 0, 1]
    assert dyn.to_frame().att.tolist() == pytest.approx([1.0, 2.0, 3.0])
    assert dyn.overall_att == pytest.approx(2.5)
    # group: cohort 2: mean(2, 3) = 2.5; cohort 3: 2; overall (2.5 + 2) / 2 = 2.25
    grp = result.aggregate("group")
    assert grp.to_frame().group.tolist() == [2, 3]
    assert grp.to_frame().att.tolist() == pytest.approx([2.5, 2.0])
    assert grp.overall_att == pytest.approx(2.25)
    # calendar: t=2: only cohort 2 is treated -> 2; t=3: mean(3, 2) = 2.5; overall 2.25
    cal = result.aggregate("calendar")
    assert cal.to_frame().time.tolist() == [2, 3]
    assert cal.to_frame().att.tolist() == pytest.approx([2.0, 2.5])
    assert cal.overall_att == pytest.approx(2.25)


def test_hand_worked_standard_errors():
    # With one treated and one comparison unit every influence value is 0 (each unit is its
    # group's mean), so R reports no standard error.
    assert _run(_hand_panel()).to_frame().se.isna().all()
    # notyet (2,2): comparison B and C with changes 2 and 1, mean 1.5. Influence, n = 3:
    # A 0, B -3 * (2 - 1.5) / 2 = -0.75, C -3 * (1 - 1.5) / 2 = 0.75;
    # se = sqrt(mean(IF^2) / n) = sqrt((2 * 0.5625 / 3) / 3) = sqrt(0.125).
    frame = _run(_hand_panel(), control="notyet").to_frame()
    se = frame[(frame.group == 2) & (frame.time == 2)].se.iloc[0]
    assert se == pytest.approx(math.sqrt(0.125))

    # Two treated (changes 3, 5; mean 4) and two never-treated units (changes 1, 3; mean 2):
    # ATT = 2. Influence with n = 4: treated 4 * (3 - 4) / 2 = -2 and +2, comparison
    # -4 * (1 - 2) / 2 = +2 and -2; mean(IF^2) = 4, se = sqrt(4 / 4) = 1.
    two = _long({"T1": (2, [0, 3]), "T2": (2, [0, 5]), "N1": (0, [0, 1]), "N2": (0, [0, 3])})
    result = _run(two)
    assert result.to_frame()[["att", "se"]].iloc[0].tolist() == pytest.approx([2.0, 1.0])
    assert np.sort(result.influence[:, 0]).tolist() == pytest.approx([-2, -2, 2, 2])
    # One cell with weight 1: R's weight term (1{G=g} - p) / p - (1{G=g} - p) p / p^2 is 0.
    simple = result.aggregate("simple")
    assert (simple.overall_att, simple.overall_se) == pytest.approx((2.0, 1.0))


def test_missing_cells_drop_the_unit():
    frame = pd.concat(
        [
            _hand_panel(),
            # D's 2nd outcome is missing, E has no row for period 3: both leave the panel.
            _long({"D": (0, [5, np.nan, 9]), "E": (2, [0, 10])}),
        ],
        ignore_index=True,
    )
    result = _run(frame)
    assert _cells(result) == pytest.approx(HAND_EXPECTED[("never", "varying")])
    assert list(result.units) == ["A", "B", "C"]
    assert result.dropped.to_dict("records") == [
        {"unit": "D", "reason": "incomplete"},
        {"unit": "E", "reason": "incomplete"},
    ]


def test_first_treated_coding():
    base = _cells(_run(_hand_panel()))
    # Missing first_treated means never treated, like 0.
    missing = _hand_panel().astype({"g": float})
    missing.loc[missing.unit == "C", "g"] = np.nan
    assert _cells(_run(missing)) == pytest.approx(base)
    # A start after the last period counts as never treated (R's did).
    late = _hand_panel()
    late.loc[late.unit == "C", "g"] = 9
    assert _cells(_run(late)) == pytest.approx(base)
    # A unit treated in the first period has no pre-period and is dropped.
    early = pd.concat([_hand_panel(), _long({"F": (1, [0, 50, 80])})], ignore_index=True)
    result = _run(early)
    assert _cells(result) == pytest.approx(base)
    assert result.dropped.to_dict("records") == [{"unit": "F", "reason": "treated_first_period"}]


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_no_never_treated(control):
    # Only A (g=2) and B (g=3): periods from the latest cohort (3) on are dropped and B serves
    # as the comparison ("never": as if never treated; "notyet": not yet treated in 1-2).
    # (2,2): A 1->2 = 3, B 1->2 = 2 -> 1. B gets no estimates of its own.
    frame = _long({"A": (2, [1, 4, 6]), "B": (3, [2, 4, 7])})
    result = _run(frame, control=control)
    assert _cells(result) == pytest.approx({(2, 2): 1.0})
    assert result.times == (1, 2)


def test_cells_without_comparison_units_are_missing():
    # C, the only never-treated unit, misses period 2 and leaves the balanced panel.
    frame = _long({"A": (2, [1, 4, 6]), "B": (3, [2, 4, 7]), "C": (0, [1, np.nan, 3])})
    never = _run(frame).to_frame()
    assert never.att.isna().all() and never.se.isna().all()
    assert never.n_control.eq(0).all()
    # notyet: (2,2) compares A with B (not yet treated at 2): 3 - 2 = 1; (2,3), (3,2) and
    # (3,3) have no unit untreated through max(t, base), so they stay missing, as in R.
    notyet = _run(frame, control="notyet")
    cells = _cells(notyet)
    assert cells[(2, 2)] == pytest.approx(1.0)
    assert all(math.isnan(cells[k]) for k in [(2, 3), (3, 2), (3, 3)])
    # Aggregations leave missing cells out (R's na.rm = TRUE).
    assert notyet.aggregate("simple").overall_att == pytest.approx(1.0)
    assert math.isnan(_run(frame).aggregate("simple").overall_att)


def test_input_is_not_modified_and_string_codes_survive():
    frame = _hand_panel()
    frame["unit"] = frame["unit"].map({"A": "094", "B": "116", "C": "118"})
    before = frame.copy(deep=True)
    result = _run(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert list(result.units) == ["094", "116", "118"]
    with pytest.raises(ValueError):
        result.influence[0, 0] = 1.0  # read-only


# --- parameter errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "choices"),
    [
        ({"control": "nevertreated"}, ["'never'", "'notyet'"]),
        ({"base_period": "fixed"}, ["'varying'", "'universal'"]),
    ],
)
def test_invalid_choices_list_valid_ones(kwargs, choices):
    with pytest.raises(ParameterError) as info:
        _run(_hand_panel(), **kwargs)
    for text in (info.value.message_vi, info.value.message_en):
        assert all(c in text for c in choices)


def test_invalid_aggregation_kind():
    with pytest.raises(ParameterError) as info:
        _run(_hand_panel()).aggregate("event")
    assert all(k in info.value.message_en for k in ["simple", "dynamic", "group", "calendar"])


@pytest.mark.parametrize("anticipation", [-1, 1.5, True, "1"])
def test_invalid_anticipation(anticipation):
    with pytest.raises(ParameterError):
        _run(_hand_panel(), anticipation=anticipation)


def _with_duplicate_row(frame):
    return pd.concat([frame, frame.iloc[[0]]], ignore_index=True)


def _with_varying_group(frame):
    frame.loc[0, "g"] = 3
    return frame


def _with_text_time(frame):
    return frame.astype({"year": str})


def _one_period(frame):
    return frame[frame.year == 1]


def _nobody_treated(frame):
    return frame.assign(g=0)


@pytest.mark.parametrize(
    "spoil",
    [_with_duplicate_row, _with_varying_group, _with_text_time, _one_period, _nobody_treated],
)
def test_invalid_data(spoil):
    with pytest.raises(ParameterError):
        _run(spoil(_hand_panel()))


def test_missing_column():
    with pytest.raises(ParameterError) as info:
        att_gt(_hand_panel(), "unit", "year", "outcome", "g")
    assert "'outcome'" in info.value.message_en


# --- agreement with R's did through moderndid ----------------------------------------------

KINDS = ["simple", "dynamic", "group", "calendar"]
R_CONTROL = {"never": "nevertreated", "notyet": "notyettreated"}


@pytest.fixture(scope="module")
def moderndid():
    # moderndid 0.2 ports R's did 2.5 estimators (checked against R's did 2.5.1 source).
    return pytest.importorskip("moderndid", minversion="0.2")


@pytest.fixture(scope="module")
def mpdta(moderndid):
    return moderndid.load_mpdta().to_pandas()


def _assert_matches_moderndid(moderndid, data, control, base_period, anticipation):
    ours = att_gt(
        data,
        "countyreal",
        "year",
        "lemp",
        "first.treat",
        control=control,
        base_period=base_period,
        anticipation=anticipation,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = moderndid.att_gt(
            data,
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            control_group=R_CONTROL[control],
            base_period=base_period,
            anticipation=anticipation,
            boot=False,
            cband=False,
        )
        aggregated = {k: moderndid.aggte(theirs, type=k, boot=False, cband=False) for k in KINDS}

    close = {"rtol": 0, "atol": 1e-6, "equal_nan": True}
    frame = ours.to_frame()
    np.testing.assert_array_equal(frame.group, theirs.groups)
    np.testing.assert_array_equal(frame.time, theirs.times)
    np.testing.assert_allclose(frame.att, theirs.att_gt, **close)
    np.testing.assert_allclose(frame.se, theirs.se_gt, **close)
    assert ours.n_units == theirs.n_units
    for kind in KINDS:
        mine, ref = ours.aggregate(kind), aggregated[kind]
        np.testing.assert_allclose(
            [mine.overall_att, mine.overall_se], [ref.overall_att, ref.overall_se], **close
        )
        if kind != "simple":
            levels = mine.to_frame()
            np.testing.assert_array_equal(levels.iloc[:, 0], ref.event_times)
            np.testing.assert_allclose(levels.att, ref.att_by_event, **close)
            np.testing.assert_allclose(levels.se, ref.se_by_event, **close)


@pytest.mark.parametrize("anticipation", [0, 1])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
@pytest.mark.parametrize("control", ["never", "notyet"])
def test_matches_r_did_on_mpdta(moderndid, mpdta, control, base_period, anticipation):
    _assert_matches_moderndid(moderndid, mpdta, control, base_period, anticipation)


def test_matches_r_did_on_unbalanced_mpdta(moderndid, mpdta):
    # Three rows removed and one outcome missing: four counties leave the balanced panel.
    data = mpdta.drop(index=[3, 17, 1000]).reset_index(drop=True)
    data.loc[5, "lemp"] = np.nan
    _assert_matches_moderndid(moderndid, data, "never", "varying", 0)
    assert len(att_gt(data, "countyreal", "year", "lemp", "first.treat").dropped) == 4


def test_matches_r_did_without_never_treated(moderndid, mpdta):
    # The 2007 cohort stands in for the never treated; 2007 is dropped. (Only "never": for
    # "notyet" moderndid 0.2 also estimates placebo cells for that cohort, which R's did 2.5.1
    # leaves out of its groups, and so do we.)
    data = mpdta[mpdta["first.treat"] != 0]
    _assert_matches_moderndid(moderndid, data, "never", "varying", 0)
