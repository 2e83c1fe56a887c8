"""Every reason code of ``evaluate_all`` against a small dataset built to produce it, asserting
the reason's words (issue 12: every reason true to its cause).

Designs (pre_years = post_years = 2; "meetings" here are ``so_cuoc_kiem_tra_giam_sat`` for the
danvan designs and ``so_cuoc_hop`` for tuyengiao, both lower-is-better):

- ``_danvan``: 4 pilots from 1 January 2019 (T = g = 2019), 4 never units; every unit is 20
  before and 20 + its change in 2019-2020, with small wiggles in 2015-2016 only;
- ``_adopted``: tuyengiao in all 8 units, 4 from 1 January 2017 and 4 from 1 January 2019;
  values 20 (wiggled by ±w in alternate years) plus the effect from the unit's start year.
  The later four have no district left untreated in 2019: before/after only, by the cause that
  every other district had already adopted.
"""

from __future__ import annotations

import dataclasses

import pytest

from kiemnhiem.labels import labels_table
from kiemnhiem.stats.evaluation import evaluate_all

from .test_evaluation import FLAT, NAMES, _notyet_dataset, _row, _trend_dataset, make_dataset

NAMES.setdefault("125", "Huyện Mai Sơn")
IND = "so_cuoc_kiem_tra_giam_sat"
WIGGLE = {
    "116": 0.2,
    "118": -0.2,
    "119": 0.1,
    "120": -0.1,
    "121": 0.3,
    "122": -0.3,
    "123": 0.0,
    "124": 0.1,
}
W8 = {
    "116": 0.4,
    "118": -0.3,
    "119": 0.1,
    "120": -0.2,
    "121": 0.3,
    "122": -0.4,
    "123": 0.2,
    "124": -0.1,
}
EARLY, LATE = ("116", "118", "119", "120"), ("121", "122", "123", "124")

COVERED: set[str] = set()


def _danvan(pilots: dict, refs: dict | None = None, **replace):
    refs = refs or {"121": 0, "122": 1, "123": -1, "124": 0}
    changes = {**refs, **pilots}
    series = {
        (u, IND): {
            2015: 20 + WIGGLE[u],
            2016: 20 - WIGGLE[u],
            2017: 20,
            2018: 20,
            2019: 20 + c,
            2020: 20 + c,
        }
        for u, c in changes.items()
    }
    ds = make_dataset(series, [(u, "danvan_mttq", "2019-01-01", "day") for u in pilots])
    return dataclasses.replace(ds, **replace) if replace else ds


def _adopted(effect: float, exceptions: dict | None = None, drop=()):
    exceptions = exceptions or {}
    series = {}
    for u in EARLY + LATE:
        start = 2017 if u in EARLY else 2019
        e = exceptions.get(u, effect)
        series[(u, "so_cuoc_hop")] = {
            y: 20 + (W8[u] if y % 2 else -W8[u]) + (e if y >= start else 0)
            for y in range(2015, 2021)
            if (u, y) not in drop
        }
    pilots = [
        (u, "tuyengiao_ttct", f"{2017 if u in EARLY else 2019}-01-01", "day") for u in EARLY + LATE
    ]
    return make_dataset(series, pilots)


def _run(ds, model, indicator=IND):
    res = evaluate_all(ds, models=[model], pre_years=2, post_years=2, sensitivity=False)
    return res[res.indicator == indicator]


def _check(row, code, *words, column="reason"):
    """``row``'s reason code is ``code`` and its Vietnamese reason says ``words``."""
    assert getattr(row, f"{column}_code") == code, getattr(row, f"{column}_code")
    text = getattr(row, f"{column}_vi")
    for w in words:
        assert w in text, (w, text)
    assert getattr(row, f"{column}_en").strip()
    COVERED.add(code)


PLANTED = {"116": -10, "118": -10.5, "119": -9.5, "120": -10}


# ------------------------------------------------------------------------------- model rows
def test_model_improved_worsened_no_clear_change():
    # The four pilots fall by 9.5-10.5 while the never units move by 0, +1, -1, 0: the pilots'
    # mean is the lowest of the 8!/(4!4!) = 70 placements: p = 1/70.
    model = _row(_run(_danvan(PLANTED), "danvan_mttq"), "*", IND, scope="model")
    _check(model, "improved", "Cải thiện rõ", "−10,0 cuộc", "trong 70 cách bố trí")
    up = {u: -c for u, c in PLANTED.items()}
    model = _row(_run(_danvan(up), "danvan_mttq"), "*", IND, scope="model")
    _check(model, "worsened", "Xấu đi rõ", "+10,0 cuộc")
    flat = {"116": 0.5, "118": -0.5, "119": 0.2, "120": -0.2}  # mean 0: rank 38 of 70
    model = _row(_run(_danvan(flat), "danvan_mttq"), "*", IND, scope="model")
    _check(model, "no_clear_change", "Chưa thấy thay đổi rõ", "0,00 cuộc", "thứ 38 trong 70")


def test_model_changed_where_no_direction_is_better():
    ds = _danvan(PLANTED)
    indicators = ds.indicators.copy()
    indicators.loc[indicators["code"] == IND, "better"] = "none"
    ds = dataclasses.replace(ds, indicators=indicators)
    model = _row(_run(ds, "danvan_mttq"), "*", IND, scope="model")
    # Two-sided: 2 x 1/70 = 0.029.
    _check(model, "changed", "Thay đổi rõ", "p hai phía = 0,029")


def test_model_inconclusive_with_two_placements():
    # One pilot and one never unit: 2 placements, the smallest p is 1/2.
    series = {
        ("116", IND): {2015: 20, 2016: 20, 2017: 20, 2018: 20, 2019: 10, 2020: 10},
        ("121", IND): {2015: 20, 2016: 21, 2017: 20, 2018: 21, 2019: 20, 2020: 21},
    }
    res = _run(make_dataset(series, [("116", "danvan_mttq", "2019-01-01", "day")]), "danvan_mttq")
    _check(
        _row(res, "*", IND, scope="model"), "inconclusive", "Chưa thể kết luận", "với 2 cách bố trí"
    )
    # The rank test of the pilot has no placebo: its only comparison unit has no other unit
    # to be compared with. The reason says that, beside a comparison group of 1.
    pilot = _row(res, "116", IND)
    assert pilot.n_comparison == 1
    _check(
        pilot,
        "no_placebo",
        "không đơn vị so sánh nào có đủ số liệu để thay vào vị trí",
        "cần ít nhất 2",
        column="placebo_reason",
    )


def test_model_no_pilots_and_pilot_no_data():
    # so_cuoc_hop concerns danvan, but the dataset has no figures of it.
    res = _run(_danvan(PLANTED), "danvan_mttq", "so_cuoc_hop")
    _check(
        _row(res, "*", "so_cuoc_hop", scope="model"),
        "no_pilots",
        "không đơn vị thí điểm nào có đủ số liệu",
    )
    _check(_row(res, "116", "so_cuoc_hop"), "no_data", "không có số liệu của chỉ tiêu này")


def test_model_one_assignment_said_with_both_causes():
    # Every unit with data starts on the same day: one placement.
    series = {
        (u, "so_cuoc_hop"): {y: 20 + (W8[u] if y % 2 else -W8[u]) for y in range(2015, 2021)}
        for u in EARLY + LATE
    }
    ds = make_dataset(series, [(u, "tuyengiao_ttct", "2019-01-01", "day") for u in EARLY + LATE])
    model = _row(_run(ds, "tuyengiao_ttct", "so_cuoc_hop"), "*", "so_cuoc_hop", scope="model")
    _check(
        model,
        "one_assignment",
        "chỉ có một cách bố trí thí điểm cho ra kết quả",
        "cùng lịch thí điểm",
        "thiếu số liệu",
    )


# ------------------------------------------------------------------------------- district rows
def test_district_improved_worsened_and_no_clear_change():
    res = _run(_danvan(PLANTED), "danvan_mttq")
    # Own estimate −10 against 4 never units with changes 0, 1, −1, 0.
    _check(
        _row(res, "116", IND),
        "district_improved",
        "Cải thiện: mô hình nói chung cải thiện rõ",
        "ước lượng riêng −10,0 cuộc",
        "so với 4 huyện chưa thí điểm",
    )
    up = {u: -c for u, c in PLANTED.items()}
    _check(
        _row(_run(_danvan(up), "danvan_mttq"), "118", IND),
        "district_worsened",
        "Xấu đi: mô hình nói chung xấu đi rõ",
        "+10,5 cuộc",
    )
    flat = {"116": 0.5, "118": -0.5, "119": 0.2, "120": -0.2}
    _check(
        _row(_run(_danvan(flat), "danvan_mttq"), "116", IND),
        "district_no_clear_change",
        "Chưa thấy thay đổi rõ: mô hình nói chung chưa thấy thay đổi rõ",
        "+0,50 cuộc",
    )


def test_district_in_line():
    # The never units now move by 0, +4, −4, 0 (variance 32/3): −6 in 120 is not clear on its
    # own (t = 6 / sqrt(32/3 x 5/4) = 1.64 < 2.353), while the model is (the lowest of 70).
    pilots = {**PLANTED, "120": -6}
    res = _run(_danvan(pilots, refs={"121": 0, "122": 4, "123": -4, "124": 0}), "danvan_mttq")
    _check(
        _row(res, "120", IND),
        "district_in_line",
        "Mô hình nói chung cải thiện rõ",
        "riêng số liệu của huyện chưa đủ để khẳng định",
        "ước lượng riêng −6,0 cuộc",
    )


def test_district_differs():
    # 120 falls by 3 where the three others fall by 10: flagged weaker.
    res = _run(_danvan({**PLANTED, "120": -3}), "danvan_mttq")
    _check(
        _row(res, "120", IND),
        "district_differs",
        "Khác với các huyện thí điểm khác",
        "yếu hơn",
        "ước lượng riêng −3,0 cuộc",
    )


def test_district_pretrend():
    row = _trend_dataset([10, 12, 13, 16], FLAT)  # test_evaluation: a steady, flagged trend
    _check(row, "district_pretrend", "Chưa quy được cho mô hình", "đã thay đổi đều từ trước")


def test_districts_with_no_comparison_after_their_start():
    # Every district carries −10 from its start: the later four move like the others.
    res = _run(_adopted(-10), "tuyengiao_ttct", "so_cuoc_hop")
    row = _row(res, "121", "so_cuoc_hop")
    _check(
        row,
        "district_in_line_before_after",
        "Từ năm 2019 không còn huyện nào chưa thí điểm để so sánh",
        "gồm cả biến động chung của tỉnh: −10,0 cuộc",
    )
    # The rank test's reason names the same cause, not missing data.
    _check(
        row,
        "before_after_all_adopted",
        "từ năm 2019 mọi đơn vị khác đều đã thực hiện mô hình",
        "−10,0 cuộc, gồm cả biến động chung của tỉnh",
        column="placebo_reason",
    )
    assert "thiếu số liệu" not in row.placebo_reason_vi
    # The early four compare with the later four in 2017-2018: ranked among 5 districts.
    early = _row(res, "116", "so_cuoc_hop")
    _check(
        early, "inconclusive", "mức giảm lớn nhất trong 5 đơn vị cấp huyện", column="placebo_reason"
    )
    # No effect anywhere.
    res = _run(_adopted(0), "tuyengiao_ttct", "so_cuoc_hop")
    _check(
        _row(res, "122", "so_cuoc_hop"),
        "district_no_clear_change_before_after",
        "Chưa thấy thay đổi rõ",
        "không còn huyện chưa thí điểm để so sánh",
    )
    # 124 has no effect while every other district falls by 10: its long difference is +10.
    res = _run(_adopted(-10, {"124": 0}), "tuyengiao_ttct", "so_cuoc_hop")
    _check(
        _row(res, "124", "so_cuoc_hop"),
        "district_differs_before_after",
        "Khác với các huyện khác",
        "chênh lệch +10,0 cuộc",
    )
    # 124 lacks 2015-2016, the years before anyone started: no long difference.
    res = _run(_adopted(-10, drop={("124", 2015), ("124", 2016)}), "tuyengiao_ttct", "so_cuoc_hop")
    _check(
        _row(res, "124", "so_cuoc_hop"),
        "district_before_after_only",
        "chỉ so sánh được trước – sau (−10,0 cuộc, gồm cả biến động chung của tỉnh)",
    )


def test_before_after_because_comparison_units_lack_data():
    # Never units exist but have no figures after 2018: before/after only by missing data.
    series = {("116", IND): {2015: 20, 2016: 20, 2017: 20, 2018: 20, 2019: 10, 2020: 10}}
    for u in ("121", "122", "123"):
        series[(u, IND)] = {2015: 20, 2016: 21, 2017: 20, 2018: 21}
    res = _run(make_dataset(series, [("116", "danvan_mttq", "2019-01-01", "day")]), "danvan_mttq")
    row = _row(res, "116", IND)
    _check(
        row,
        "before_after",
        "các đơn vị chưa thực hiện mô hình đều thiếu số liệu",
        "−10,0 cuộc",
        column="placebo_reason",
    )
    assert "đã thực hiện mô hình, không còn" not in row.placebo_reason_vi


def test_too_few_years():
    res = evaluate_all(_notyet_dataset(), models=["tuyengiao_ttct"], sensitivity=False)
    _check(
        _row(res, "118", "so_lop_boi_duong"),
        "few_post",
        "chỉ có 0 năm số liệu dùng được sau thí điểm",
    )
    _check(
        _row(res, "120", "so_lop_boi_duong"),
        "few_pre",
        "chỉ có 1 năm số liệu dùng được trước thí điểm (2019)",
    )


def test_every_reason_code_has_a_test():
    """Runs last in this module (pytest keeps file order): every ``eval_reason_*`` label, the
    sentences ``reason_code`` and ``placebo_reason_code`` name, was produced above."""
    codes = {k.removeprefix("eval_reason_") for k in labels_table() if k.startswith("eval_reason_")}
    if len(COVERED) < 10:
        pytest.skip("run with the whole module")
    assert codes <= COVERED, sorted(codes - COVERED)
