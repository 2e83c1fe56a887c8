"""The first page a leader reads: answers per indicator, «Đánh giá chung», claims and levels.

Hand-made rows with the numbers of the demo's Quỳnh Nhai (meetings) and Vân Hồ (a pilot with no
district left to compare with); the expected sentences are written out by hand.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.report.conclusions import (
    CLAIM_COLUMNS,
    DistrictOverview,
    IndicatorAnswer,
    ModelOverview,
    amount,
    claims_frame,
    district_overview,
    mde_text,
    model_overview,
    own_line,
    plain_detail_table,
    pretrend_share_text,
    rating_level_text,
)
from kiemnhiem.report.html import indicator_heading_html
from kiemnhiem.report.indicators import indicator_info

from .samples import FULL_MODELS, INDICATORS

#: Words that belong in the technical appendix, never on a leader's first page.
TECHNICAL = (
    "p =",
    "p một phía",
    "p hai phía",
    "p_min",
    "placebo",
    "chênh lệch kép",
    "DiD",
    "Hodges",
    "Lehmann",
    "Callaway",
    "Monte",
    "xếp hạng",
    "tham số",
    "one-sided",
    "difference-in-differences",
)


def _pilots() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_code": ["118", "128", "116"],
            "unit_name": ["Huyện Quỳnh Nhai", "Huyện Vân Hồ", "Thành phố Sơn La"],
            "model": ["danvan_mttq", "danvan_mttq", "danvan_mttq"],
            "start": pd.to_datetime(["2018-01-01", "2020-10-01", "2019-01-01"]),
            "start_precision": ["year", "month", "day"],
            "start_status": ["approximate", "assumed", "documented"],
            "end": pd.to_datetime([pd.NaT, pd.NaT, "2021-01-01"]),
            "source": "",
        }
    )


def _dataset(comments: pd.DataFrame | None = None):
    """Three danvan pilots; ratings (hand-counted below) for the level claim."""
    from kiemnhiem.data.dataset import Dataset

    ratings = {
        # 118 from 2018: 2018-2020 rated 3, 4, 2 -> 2 of 3 good; 2017 is before the start.
        ("118", 2017): 1,
        ("118", 2018): 3,
        ("118", 2019): 4,
        ("118", 2020): 2,
        # 128 from 2020 (10/2020: the start year counts): 2020, 2021 rated 3, 3.
        ("128", 2019): 2,
        ("128", 2020): 3,
        ("128", 2021): 3,
        # 116 from 2019 until 01/2021: 2019, 2020 rated 4, 3; 2021 after the end.
        ("116", 2019): 4,
        ("116", 2020): 3,
        ("116", 2021): 1,
    }
    panel = pd.DataFrame(
        {
            "unit_code": [k[0] for k in ratings],
            "period": [str(k[1]) for k in ratings],
            "freq": "year",
            "year": [k[1] for k in ratings],
            "sub": 0,
            "indicator": "xep_loai",
            "value": [float(v) for v in ratings.values()],
            "note": "",
        }
    )
    units = pd.DataFrame(
        {
            "unit_code": ["116", "118", "128"],
            "unit_name": ["Thành phố Sơn La", "Huyện Quỳnh Nhai", "Huyện Vân Hồ"],
        }
    )
    return Dataset(
        name="t",
        province_code="14",
        province_name="Sơn La",
        synthetic=True,
        description="",
        source="",
        data_end=None,
        panel=panel,
        pilots=_pilots(),
        units=units,
        models=FULL_MODELS,
        indicators=INDICATORS.assign(aggregate=["sum", "sum", "last", "last"]),
        events=pd.DataFrame(),
        comments=comments if comments is not None else pd.DataFrame(),
    )


def _pilot(**changes) -> dict:
    """Quỳnh Nhai's meetings on the demo: own −8.8 (−16.9 to −0.66) against 7 districts; the
    trend before the start alone gives −8.4."""
    row = {
        "scope": "pilot",
        "unit_code": "118",
        "unit_name": "Huyện Quỳnh Nhai",
        "model": "danvan_mttq",
        "indicator": "so_cuoc_hop",
        "start": pd.Timestamp("2018-01-01"),
        "start_precision": "year",
        "start_status": "approximate",
        "g": 2019,
        "n_pre": 3,
        "n_post": 3,
        "comparison": "never",
        "did": -8.762,
        "change": -11.33,
        "did_years_used": "2019;2020;2021",
        "own_estimate": -8.762,
        "own_low": -16.87,
        "own_high": -0.657,
        "n_reference": 7,
        "pooled_estimate": np.nan,
        "pooled_low": np.nan,
        "pooled_high": np.nan,
        "long_diff": np.nan,
        "trend_effect": -8.4,
        "pretrend_flag": False,
        "start_sensitive": True,
        "mde": 2.769,
        "model_verdict": "improved",
        "joint_with": "tuyengiao_ttct",
        "consistency": "consistent",
        "verdict": "improved",
        "level": 0.10,
        "ci_level": 0.9,
    }
    row.update(changes)
    return row


def _model(**changes) -> dict:
    row = {
        "scope": "model",
        "unit_code": "*",
        "unit_name": "",
        "model": "danvan_mttq",
        "indicator": "so_cuoc_hop",
        "n_pilots": 5,
        "verdict": "improved",
        "reason_code": "improved",
        "did": -8.1,
        "hl_estimate": -8.93,
        "ci_low": -10.94,
        "ci_high": -6.83,
        "ci_level": 0.9,
        "level": 0.10,
        "joint_test": True,
        "start_sensitive": False,
        "pretrend_flag": False,
        "mde": 2.769,
    }
    row.update(changes)
    return row


MEETINGS = indicator_info(INDICATORS, "so_cuoc_hop", "vi")


def test_the_interface_others_code_against():
    ds = _dataset()
    results = pd.DataFrame([_pilot(), _model()])
    overview = district_overview(ds, results, "118", "danvan_mttq", "vi")
    assert isinstance(overview, DistrictOverview)
    assert overview.unit_code == "118" and overview.model == "danvan_mttq"
    assert overview.unit_name == "Huyện Quỳnh Nhai"
    (answer,) = overview.answers
    assert isinstance(answer, IndicatorAnswer)
    assert answer.indicator == "so_cuoc_hop" and answer.label == "Số cuộc họp"
    assert answer.verdict == "improved"
    assert isinstance(answer.caveats, tuple) and isinstance(overview.assessment, tuple)
    model = model_overview(ds, results, "danvan_mttq", "vi")
    assert isinstance(model, ModelOverview)
    assert list(model.claims.columns) == list(CLAIM_COLUMNS)


def test_the_model_answer_leads_with_the_estimate_of_its_test_and_its_caveats():
    ds = _dataset()
    results = pd.DataFrame([_pilot(), _model()])
    (answer,) = district_overview(ds, results, "118", "danvan_mttq", "vi").answers
    assert answer.model_line.startswith(
        "Mô hình nói chung (5 huyện thí điểm): cải thiện rõ – −8,9 cuộc "
        "(khoảng 90 %: −10,9 cuộc đến −6,8 cuộc)."
    )
    # Joint with the other model (named), and 2 of the 3 starts are not documented.
    assert "kiểm định chung với mô hình Tuyên giáo kiêm Trung tâm chính trị" in answer.model_line
    assert "2 trong 3 ngày bắt đầu thí điểm của mô hình là giả định hoặc ước tính" in (
        answer.model_line
    )
    # The mean (did −8.1) is not what leads.
    assert "−8,1" not in answer.model_line


def test_the_model_start_sensitivity_is_said():
    ds = _dataset()
    results = pd.DataFrame([_pilot(), _model(start_sensitive=True)])
    (answer,) = district_overview(ds, results, "118", "danvan_mttq", "vi").answers
    assert "thay đổi khi dịch các ngày bắt đầu chưa có văn bản" in answer.model_line


def test_the_districts_own_figures_with_their_range_and_whom_they_are_compared_with():
    assert own_line(_pilot(), MEETINGS, "vi") == (
        "Riêng huyện Quỳnh Nhai: −8,8 cuộc (khoảng 90 %: −16,9 cuộc đến −0,66 cuộc), "
        "so với 7 huyện không thí điểm mô hình này."
    )
    notyet = _pilot(comparison="notyet", n_reference=5, did_years_used="2019")
    assert own_line(notyet, MEETINGS, "vi").endswith("so với 5 huyện chưa thí điểm trong năm 2019.")
    pooled = _pilot(pooled_estimate=-8.72, pooled_low=-12.0, pooled_high=-5.5)
    assert own_line(pooled, MEETINGS, "vi").endswith(
        "Nếu các huyện thí điểm có tác động tương tự nhau: khoảng −8,7 cuộc "
        "(từ −12,0 cuộc đến −5,5 cuộc)."
    )


def test_a_pilot_without_comparison_shows_its_before_after_change_never_as_an_effect():
    row = _pilot(
        unit_code="128",
        unit_name="Huyện Vân Hồ",
        comparison="none",
        own_estimate=np.nan,
        change=1.333,
        did=1.333,
        long_diff=3.775,
        verdict="in_line_before_after",
        g=2021,
    )
    assert own_line(row, MEETINGS, "vi") == (
        "Riêng huyện Vân Hồ: thay đổi trước – sau (gồm cả biến động chung của tỉnh) +1,3 cuộc; "
        "chênh lệch so với bình quân các huyện khác +3,8 cuộc."
    )
    ds = _dataset()
    results = pd.DataFrame([row, _model()])
    (answer,) = district_overview(ds, results, "128", "danvan_mttq", "vi").answers
    assert "từ năm 2021 không còn huyện nào chưa thí điểm để so sánh" in answer.verdict_text
    only = _pilot(comparison="none", change=1.333, long_diff=np.nan)
    assert "không đủ số liệu để so với các huyện khác" in own_line(only, MEETINGS, "vi")


def test_the_pretrend_share_is_stated_when_the_trend_gives_half_or_more_flagged_or_not():
    # Quỳnh Nhai: −8.4 of −8.762 is 95.9 %, not flagged: said all the same.
    text = pretrend_share_text(_pilot(), MEETINGS, "vi")
    assert text == (
        "Riêng xu hướng đã có từ trước khi thí điểm đã đủ tạo ra khoảng −8,4 cuộc, bằng 96 % "
        "mức thay đổi −8,8 cuộc; cần thận trọng khi quy thay đổi này cho mô hình."
    )
    flagged = pretrend_share_text(_pilot(pretrend_flag=True), MEETINGS, "vi")
    assert flagged.startswith("Xu hướng đều, khó là ngẫu nhiên")
    # Less than half, or the other way: nothing to say.
    assert pretrend_share_text(_pilot(trend_effect=-4.3), MEETINGS, "vi") == ""
    assert pretrend_share_text(_pilot(trend_effect=4.4), MEETINGS, "vi") == ""
    # Exactly half counts.
    assert pretrend_share_text(_pilot(did=-8.0, trend_effect=-4.0), MEETINGS, "vi") != ""
    # More than the whole change: said so, not as a share above 100 %.
    more = pretrend_share_text(_pilot(did=-0.11, trend_effect=-0.89), MEETINGS, "vi")
    assert "nhiều hơn cả mức thay đổi −0,11 cuộc" in more
    ds = _dataset()
    (answer,) = district_overview(
        ds, pd.DataFrame([_pilot(), _model()]), "118", "danvan_mttq", "vi"
    ).answers
    assert text in answer.caveats


def test_the_minimum_detectable_effect_in_words():
    assert mde_text({"mde": 2.769}, MEETINGS, "vi") == (
        "Thay đổi nhỏ hơn khoảng 2,8 cuộc mỗi năm không phân biệt được với biến động thường "
        "năm ở đây."
    )
    rating = indicator_info(INDICATORS, "xep_loai", "vi")
    assert mde_text({"mde": 0.7}, rating, "vi") == (
        "Thay đổi nhỏ hơn khoảng 0,70 bậc không phân biệt được với biến động thường năm ở đây."
    )
    assert "không phép so sánh nào có thể đi đến kết luận" in mde_text(
        {"mde": math.inf}, MEETINGS, "vi"
    )
    assert mde_text({"mde": np.nan}, MEETINGS, "vi") == ""


def test_no_clear_change_never_reads_as_no_effect():
    ds = _dataset()
    pilot = _pilot(verdict="no_clear_change", model_verdict="no_clear_change", mde=math.inf)
    model = _model(verdict="no_clear_change", mde=math.inf)
    (answer,) = district_overview(
        ds, pd.DataFrame([pilot, model]), "118", "danvan_mttq", "vi"
    ).answers
    assert answer.verdict_text.startswith("Chưa kết luận được: với số huyện hiện có")
    assert "không có nghĩa là không có tác động" in answer.verdict_text
    assert "không phép so sánh nào có thể đi đến kết luận" in answer.model_line
    finite = district_overview(
        ds,
        pd.DataFrame([{**pilot, "mde": 2.769}, {**model, "mde": 2.769}]),
        "118",
        "danvan_mttq",
        "vi",
    ).answers[0]
    assert "không có nghĩa là không có tác động" in finite.verdict_text
    assert "nhỏ hơn khoảng 2,8 cuộc mỗi năm" in finite.model_line


def test_the_assessment_has_three_to_five_sentences_and_names_what_improved():
    ds = _dataset()
    rows = [
        _pilot(),
        _pilot(
            indicator="kinh_phi",
            verdict="no_clear_change",
            model_verdict="no_clear_change",
            joint_with="",
            trend_effect=0.0,
            start_sensitive=False,
        ),
        _model(),
        _model(
            indicator="kinh_phi",
            verdict="no_clear_change",
            hl_estimate=-20.0,
            ci_low=-60.0,
            ci_high=20.0,
            joint_test=False,
            mde=63.3,
        ),
    ]
    overview = district_overview(ds, pd.DataFrame(rows), "118", "danvan_mttq", "vi")
    assert 3 <= len(overview.assessment) <= 5
    assert overview.assessment[0] == (
        "Trong 2 chỉ tiêu được xem xét, 1 chỉ tiêu cải thiện rõ ở cả mô hình nói chung và số "
        "liệu riêng của huyện: Số cuộc họp."
    )
    joined = " ".join(overview.assessment)
    assert "Chưa thấy thay đổi rõ ở 1 chỉ tiêu (Kinh phí)" in joined
    assert "«không có tác động»" in joined
    # The start is an approximate year, and it moves the meetings verdict.
    assert overview.assessment[-1] == (
        "Ngày bắt đầu thí điểm (2018) là thời điểm ước tính; kết luận về Số cuộc họp thay đổi "
        "nếu ngày bắt đầu sớm hoặc muộn hơn một năm, nên cần xác minh ngày bắt đầu bằng văn bản."
    )


def test_recommendations_are_the_analysts_comments_on_this_pilot():
    comments = pd.DataFrame(
        {
            "unit_code": ["118", "128"],
            "model": ["danvan_mttq", "danvan_mttq"],
            "comment": ["Đề nghị duy trì mô hình.", "Cần bổ sung số liệu."],
            "author": ["Ban Tổ chức", ""],
            "date": ["2021-06-30", ""],
        }
    )
    ds = _dataset(comments)
    results = pd.DataFrame([_pilot(), _model()])
    overview = district_overview(ds, results, "118", "danvan_mttq", "vi")
    assert overview.recommendations == ("Đề nghị duy trì mô hình. (Ban Tổ chức, 2021-06-30)",)
    model = model_overview(ds, results, "danvan_mttq", "vi")
    assert model.recommendations == (
        "Huyện Quỳnh Nhai: Đề nghị duy trì mô hình. (Ban Tổ chức, 2021-06-30)",
        "Huyện Vân Hồ: Cần bổ sung số liệu.",
    )


def test_a_level_claim_is_answered_with_the_level():
    # Pilot-years with a rating: 118: 2018, 2019, 2020 (3, 4, 2); 128: 2020, 2021 (3, 3);
    # 116: 2019, 2020 (4, 3; 2021 is after its end). 6 of 7 rated 3-4.
    text = rating_level_text(_dataset(), "danvan_mttq", "xep_loai", "vi")
    assert text == (
        "Trong các năm thí điểm, 6 trong 7 lượt xếp loại hằng năm của các huyện thí điểm đạt "
        "hoàn thành tốt nhiệm vụ trở lên (86 %). 1 lượt thấp hơn (huyện Quỳnh Nhai), nên nhận "
        "định «hằng năm» chưa đúng ở mọi huyện."
    )
    claims = pd.DataFrame(
        {
            "model": ["danvan_mttq", "danvan_mttq", "danvan_mttq"],
            "claim_vi": ["Hằng năm xếp loại tốt", "Giảm các cuộc họp", "Phòng, chống Covid-19"],
            "claim_en": ["Rated well", "Fewer meetings", "COVID-19"],
            "indicator": ["xep_loai", "so_cuoc_hop", ""],
            "quote_vi": ["q1", "q2", "q3"],
        }
    )
    results = pd.DataFrame(
        [_pilot(), _model(), _model(indicator="xep_loai", verdict="no_clear_change")]
    )
    frame = claims_frame(claims, _dataset(), results, "danvan_mttq", "vi")
    assert frame["kind"].tolist() == ["level", "change", "untestable"]
    level = frame.iloc[0]
    assert level["answer"] == text and level["verdict"] == ""  # never a test of change
    change = frame.iloc[1]
    assert change["answer"] == (
        "Số liệu cho thấy cải thiện rõ: −8,9 cuộc (khoảng 90 %: −10,9 cuộc đến −6,8 cuộc)"
    )
    assert "kiểm định chung với mô hình Tuyên giáo kiêm Trung tâm chính trị" in change["caveats"]
    assert "2 trong 3 ngày bắt đầu" in change["caveats"]
    assert frame.iloc[2]["answer"] == "Không có chỉ tiêu nào đo nhận định này"


def test_the_model_assessment_says_what_improved_what_cannot_be_judged_and_what_to_collect():
    ds = _dataset()
    rows = [
        _pilot(),
        _model(),
        _model(
            indicator="kinh_phi",
            verdict="no_clear_change",
            hl_estimate=-20.0,
            ci_low=-60.0,
            ci_high=20.0,
            joint_test=False,
            mde=63.3,
        ),
        _model(indicator="ty_le", verdict="no_clear_change", joint_test=False, mde=math.inf),
    ]
    overview = model_overview(ds, pd.DataFrame(rows), "danvan_mttq", "vi")
    first, second, *rest = overview.assessment
    assert first == (
        "Mô hình nói chung cải thiện rõ ở 1 trong 3 chỉ tiêu: Số cuộc họp (kiểm định chung với "
        "mô hình Tuyên giáo kiêm Trung tâm chính trị)."
    )
    assert second.startswith("Chưa thấy thay đổi rõ ở 2 chỉ tiêu; điều này không có nghĩa là")
    assert "Kinh phí (dưới khoảng 63,3 triệu đồng mỗi năm)" in second
    assert "Tỷ lệ đạt chuẩn (với số huyện này không phép so sánh nào kết luận được)" in second
    joined = " ".join(rest)
    assert (
        "Trong 3 ngày bắt đầu thí điểm: 1 là giả định; 1 là ước tính và 1 có văn bản xác nhận."
    ) in joined
    assert "Cần thu thập tiếp: văn bản ghi ngày bắt đầu của 2 huyện thí điểm" in joined


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_no_technical_words_on_the_first_page(lang):
    ds = _dataset()
    rows = [
        _pilot(),
        _pilot(
            indicator="kinh_phi",
            verdict="differs",
            consistency="opposite",
            model_verdict="no_clear_change",
        ),
        _pilot(indicator="ty_le", verdict="no_data", n_post=1),
        _model(),
        _model(indicator="kinh_phi", verdict="no_clear_change"),
        _model(
            indicator="ty_le",
            verdict="not_assessed",
            reason_code="one_assignment",
            hl_estimate=np.nan,
        ),
    ]
    results = pd.DataFrame(rows)
    overview = district_overview(ds, results, "118", "danvan_mttq", lang)
    model = model_overview(ds, results, "danvan_mttq", lang)
    texts = list(overview.assessment) + list(model.assessment)
    for a in overview.answers:
        texts += [a.verdict_text, a.model_line, a.own_line, *a.caveats]
    texts += model.claims["answer"].tolist() + model.claims["caveats"].tolist()
    for text in texts:
        for word in TECHNICAL:
            assert word.lower() not in text.lower(), (word, text)
        assert not re.search(r"\bp\s*[=<]", text), text


def test_amounts_carry_their_unit_and_sign():
    share = indicator_info(INDICATORS, "ty_le", "vi")
    assert amount(0.031, share, "vi") == "+3,1 điểm %"
    assert amount(-8.762, MEETINGS, "vi") == "−8,8 cuộc"
    assert amount(-0.657, MEETINGS, "vi") == "−0,66 cuộc"
    meetings_en = indicator_info(INDICATORS, "so_cuoc_hop", "en")
    assert amount(2.769, meetings_en, "en", signed=False) == "2.8 meetings"
    assert amount(np.nan, MEETINGS, "vi") == "–"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_print_leaves_out_only_the_plain_rows_repeated_beside_them(lang):
    row = pd.Series(_pilot())
    table = plain_detail_table(row, pd.Series(_model()), INDICATORS, lang)
    assert table.attrs["kn_print_hide"] == [0, len(table) - 1]
    unit = "cuộc" if lang == "vi" else "meetings"
    assert table.iloc[0, 1] == unit
    # The unit is still printed after a number: change −11.33 → "−11,3 cuộc" (one decimal).
    change = "−11,3 cuộc" if lang == "vi" else "−11.3 meetings"
    assert change in set(table.iloc[1:-1, 1])
    # The verdict row says what the badge just above the table says.
    verdict = table.iloc[-1, 1]
    assert verdict == ("▲ Cải thiện" if lang == "vi" else "▲ Improved")
    badge = re.sub(r"<[^>]+>", "", indicator_heading_html(row, INDICATORS, lang))
    assert verdict in " ".join(badge.split())


def test_print_keeps_the_unit_row_when_no_other_figure_states_the_unit():
    # No change, no estimate, no trend, no smallest change: every figure is a dash or a bare
    # level, so the unit row is the only place the unit is printed.
    row = pd.Series(_pilot(change=np.nan, own_estimate=np.nan, trend_effect=np.nan, mde=np.nan))
    table = plain_detail_table(row, None, INDICATORS, "vi")
    assert table.iloc[0, 1] == "cuộc"
    assert not any("cuộc" in v for v in table.iloc[1:, 1])
    assert table.attrs["kn_print_hide"] == [len(table) - 1]
