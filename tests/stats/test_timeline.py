"""Time conventions: annual aggregation, partial years, pilot windows (DESIGN.md).

Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.data.catalog import builtin_indicators
from kiemnhiem.exceptions import ParameterError
from kiemnhiem.stats.timeline import (
    aggregate_years,
    first_full_year,
    indicator_matrix,
    pilot_window,
    usable_years,
    years_text,
)


def _panel(rows):
    """rows: (unit, period, indicator, value) with period YYYY, YYYY-MM or YYYY-Qn."""
    out = []
    for unit, period, indicator, value in rows:
        if "-Q" in period:
            freq, year, sub = "quarter", int(period[:4]), int(period[-1])
        elif "-" in period:
            freq, year, sub = "month", int(period[:4]), int(period[5:])
        else:
            freq, year, sub = "year", int(period), 0
        out.append(dict(unit_code=unit, period=period, freq=freq, year=year, sub=sub,
                        indicator=indicator, value=float(value), note=""))
    return pd.DataFrame(out)


def _get(annual, unit, indicator, year):
    hit = annual[(annual.unit_code == unit) & (annual.indicator == indicator)
                 & (annual.year == year)]
    assert len(hit) == 1
    return hit.iloc[0]


# --------------------------------------------------------------------------- g and windows
@pytest.mark.parametrize(
    "start, precision, T, g",
    [
        # 1 January given to the day: the pilot covers the whole year, so g = T.
        ("2019-01-01", "day", 2019, 2019),
        # Any other day: T is a transition year, g = T + 1.
        ("2019-01-02", "day", 2019, 2020),
        ("2018-08-15", "day", 2018, 2019),
        # A month or a year is never read as 1 January, even when stored as 2019-01-01.
        ("2019-01-01", "month", 2019, 2020),
        ("2019-01-01", "year", 2019, 2020),
        ("2018-08-01", "month", 2018, 2019),
    ],
)
def test_first_full_year(start, precision, T, g):
    w = pilot_window(start, precision)
    assert (w.T, w.g) == (T, g)
    assert first_full_year(start, precision) == g
    assert w.transition == (g == T + 1)


def test_windows_default_lengths():
    # Start 08/2018 by month: T = 2018 (transition), g = 2019.
    # Pre: the 3 years before T = 2015, 2016, 2017. Post: 3 years from g = 2019, 2020, 2021.
    w = pilot_window("2018-08-01", "month")
    assert w.pre == (2015, 2016, 2017)
    assert w.post == (2019, 2020, 2021)
    assert [w.part(y) for y in (2014, 2015, 2018, 2019, 2021, 2022)] == [
        "", "pre", "transition", "post", "post", "",
    ]


def test_windows_first_january_has_no_transition():
    # 1 January 2019 to the day: pre 2016-2018, post 2019-2021, no transition year.
    w = pilot_window(pd.Timestamp("2019-01-01"), "day")
    assert w.pre == (2016, 2017, 2018)
    assert w.post == (2019, 2020, 2021)
    assert w.part(2018) == "pre" and w.part(2019) == "post"


def test_windows_other_lengths_and_shift():
    # pre_years=2, post_years=4 from a year-precision 2017 start: T 2017, g 2018.
    w = pilot_window("2017", "year", pre_years=2, post_years=4)
    assert (w.pre, w.post) == ((2015, 2016), (2018, 2019, 2020, 2021))
    # One year earlier: T 2016, g 2017; one year later: T 2018, g 2019.
    early = pilot_window("2017", "year", pre_years=2, post_years=4, shift=-1)
    late = pilot_window("2017", "year", pre_years=2, post_years=4, shift=1)
    assert (early.T, early.g, early.pre) == (2016, 2017, (2014, 2015))
    assert (late.T, late.g, late.post) == (2018, 2019, (2019, 2020, 2021, 2022))


@pytest.mark.parametrize(
    "end, post, until",
    [
        # Ended 30/06/2021: 2021 is only half treated, so the post window stops at 2020.
        ("2021-06-30", (2019, 2020), 2020),
        # Ended 1 January 2020: 2020 is untreated, post window 2019 alone.
        ("2020-01-01", (2019,), 2019),
        # Ended after the window: no cut.
        ("2024-03-01", (2019, 2020, 2021), 2023),
        (None, (2019, 2020, 2021), None),
    ],
)
def test_windows_cut_at_end(end, post, until):
    w = pilot_window("2018-08-01", "month", end=end)
    assert w.post == post
    assert w.treated_until == until


def test_treated_from_T_until_the_year_before_end():
    w = pilot_window("2018-08-01", "month", end="2021-06-30")
    # Treated 2018 (transition counts) to 2020.
    assert [w.treated(y) for y in (2017, 2018, 2020, 2021)] == [False, True, True, False]


def test_usable_years_drop_missing_never_fill():
    w = pilot_window("2018-08-01", "month")
    # Data in 2015, 2017, 2019, 2021 only: pre (2015, 2017), post (2019, 2021).
    pre, post = usable_years(w, [2014, 2015, 2017, 2019, 2021, 2022])
    assert (pre, post) == ((2015, 2017), (2019, 2021))
    assert years_text(pre) == "2015;2017"


def test_bad_precision_and_lengths():
    with pytest.raises(ParameterError) as err:
        pilot_window("2018-08-01", "week")
    assert err.value.message_vi != err.value.message_en
    with pytest.raises(ParameterError):
        pilot_window("2018-08-01", "month", pre_years=0)
    with pytest.raises(ParameterError):
        pilot_window("2018-08-01", "month", post_years=2.5)
    # papermill may pass whole floats.
    assert pilot_window("2018-08-01", "month", post_years=2.0).post == (2019, 2020)


# --------------------------------------------------------------------------- annual panel
def test_monthly_flow_summed_and_partial_when_a_month_is_missing():
    rows = [("116", f"2019-{m:02d}", "so_cuoc_hop", m) for m in range(1, 13)]
    # 2020: July missing.
    rows += [("116", f"2020-{m:02d}", "so_cuoc_hop", 2) for m in range(1, 13) if m != 7]
    annual = aggregate_years(_panel(rows), builtin_indicators())
    full = _get(annual, "116", "so_cuoc_hop", 2019)
    # 1 + 2 + ... + 12 = 78.
    assert full.value == 78 and not full.partial and full.freq == "month"
    gap = _get(annual, "116", "so_cuoc_hop", 2020)
    # 11 of 12 months: partial, and a flow of a partial year is left out.
    assert gap.partial and np.isnan(gap.value)


def test_monthly_stock_keeps_last_value_when_partial():
    # so_bien_che is a stock (last): January..November of 2020, values 30 + month.
    rows = [("116", f"2020-{m:02d}", "so_bien_che", 30 + m) for m in range(1, 12)]
    annual = aggregate_years(_panel(rows), builtin_indicators())
    r = _get(annual, "116", "so_bien_che", 2020)
    # December missing: partial, but the stock keeps its last value, November's 41.
    assert r.partial and r.value == 41


def test_quarterly_mean():
    # so_ngay_trien_khai aggregates by mean: (10 + 20 + 30 + 40) / 4 = 25.
    rows = [("118", f"2019-Q{q}", "so_ngay_trien_khai", 10 * q) for q in range(1, 5)]
    rows += [("118", "2020-Q1", "so_ngay_trien_khai", 8)]
    annual = aggregate_years(_panel(rows), builtin_indicators())
    assert _get(annual, "118", "so_ngay_trien_khai", 2019).value == 25
    # One quarter of four: partial mean, left out.
    r = _get(annual, "118", "so_ngay_trien_khai", 2020)
    assert r.partial and np.isnan(r.value)


def test_partial_year_after_data_end():
    rows = [
        ("116", "2024", "so_cuoc_hop", 40),
        ("116", "2025", "so_cuoc_hop", 30),  # half a year typed as one annual figure
        ("116", "2024", "so_bien_che", 14),
        ("116", "2025", "so_bien_che", 12),
    ]
    annual = aggregate_years(_panel(rows), builtin_indicators(), date(2025, 6, 30))
    # 2024 ends before 2025-06-30: complete.
    assert _get(annual, "116", "so_cuoc_hop", 2024).value == 40
    assert not _get(annual, "116", "so_cuoc_hop", 2024).partial
    # 2025 extends past data_end: the flow is left out, the stock kept.
    flow = _get(annual, "116", "so_cuoc_hop", 2025)
    assert flow.partial and np.isnan(flow.value)
    stock = _get(annual, "116", "so_bien_che", 2025)
    assert stock.partial and stock.value == 12


@pytest.mark.parametrize("data_end, partial", [(None, False), (date(2025, 12, 31), False),
                                                (date(2025, 12, 30), True)])
def test_data_end_must_reach_31_december(data_end, partial):
    annual = aggregate_years(_panel([("116", "2025", "so_cuoc_hop", 30)]),
                             builtin_indicators(), data_end)
    assert bool(_get(annual, "116", "so_cuoc_hop", 2025).partial) is partial


def test_annual_figure_wins_over_months_and_missing_values_do_not_cover():
    rows = [("116", "2019", "so_cuoc_hop", 100)]
    rows += [("116", f"2019-{m:02d}", "so_cuoc_hop", 1) for m in range(1, 13)]
    panel = _panel(rows)
    annual = aggregate_years(panel, builtin_indicators())
    # The analyst's annual total, not the 12 of the months.
    assert _get(annual, "116", "so_cuoc_hop", 2019).value == 100
    # A month whose value is missing does not cover the month.
    months = panel[panel.freq == "month"].copy()
    months.loc[months.index[0], "value"] = np.nan
    r = _get(aggregate_years(months, builtin_indicators()), "116", "so_cuoc_hop", 2019)
    assert r.partial and np.isnan(r.value)


def test_unknown_indicator_is_an_error():
    with pytest.raises(ParameterError):
        aggregate_years(_panel([("116", "2019", "khong_co", 1)]), builtin_indicators())


def test_indicator_matrix_nan_where_missing_or_left_out():
    rows = [("116", "2019", "so_cuoc_hop", 5), ("118", "2021", "so_cuoc_hop", 7),
            ("118", "2025", "so_cuoc_hop", 3)]
    annual = aggregate_years(_panel(rows), builtin_indicators(), date(2025, 6, 30))
    m = indicator_matrix(annual, "so_cuoc_hop", units=["116", "118", "121"])
    # Years 2019..2025 on one axis; 121 has no row at all.
    assert list(m.years) == list(range(2019, 2026))
    assert m.values[0, 0] == 5 and m.values[1, 2] == 7
    assert np.isnan(m.values[1, 6]) and m.partial[1, 6]
    assert np.isnan(m.values[2]).all()
    assert m.col(2019) == 0 and m.col(2030) == -1
