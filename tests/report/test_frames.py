"""Frames for display from hand-made result rows, with values formatted by hand."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kiemnhiem.labels import label
from kiemnhiem.report.frames import (
    builtin_claims,
    claims_table,
    indicator_detail_table,
    indicator_table,
    never_units_table,
    pilot_overview_table,
    pooled_table,
    style_table,
    summary_table,
    untestable_claims,
    verdict_matrix,
)

from .samples import (
    FULL_MODELS,
    HOSTILE,
    INDICATORS,
    MODELS,
    PILOTS,
    all_results,
    detail_row,
    pilot_results,
)

# ---------------------------------------------------------------------------------------------
# The pilot report
# ---------------------------------------------------------------------------------------------


COLUMNS = (
    "report_col_indicator",
    "report_col_unit",
    "report_col_before",
    "report_col_after",
    "report_col_change",
    "report_col_relative",
    "report_col_did",
    "report_col_years_used",
    "report_col_verdict",
)


def test_indicator_table_in_vietnamese():
    table = indicator_table(pilot_results(), INDICATORS, "vi")
    assert list(table.columns) == [label(k, "vi") for k in COLUMNS]
    pp = label("report_pp", "vi")
    assert table.values.tolist() == [
        [
            "Số cuộc họp",
            "cuộc",
            "12,3",
            "9,9",
            "−2,5",
            "−20,0 %",
            "−2,0",
            "2015–2017 / 2019–2021",
            label("eval_verdict_improved", "vi"),
        ],
        [
            "Kinh phí",
            "triệu đồng",
            "2.090,1",
            "2.438,6",
            "+348,5",
            "+16,7 %",
            "+9,4",
            "2015–2017 / 2019–2021",
            label("eval_verdict_no_clear_change", "vi"),
        ],
        [
            "Tỷ lệ đạt chuẩn",
            "%",
            "50,0 %",
            "62,5 %",
            f"+12,5 {pp}",
            f"+12,5 {pp}",
            f"+3,1 {pp}",
            "2015, 2017 / 2019–2021",
            label("eval_verdict_not_assessed", "vi"),
        ],
        [
            "Xếp loại",
            "bậc",
            "2,50",
            "3,25",
            "+0,75",
            "–",
            "+0,50",
            "2015–2017 / –",
            label("eval_verdict_not_assessed", "vi"),
        ],
    ]


def test_indicator_table_in_english():
    table = indicator_table(pilot_results(), INDICATORS, "en")
    assert list(table.columns) == [label(k, "en") for k in COLUMNS]
    first, second, share, _rating = table.values.tolist()
    assert first[:7] == ["Meetings", "meetings", "12.3", "9.9", "−2.5", "−20.0%", "−2.0"]
    assert second[2:4] == ["2,090.1", "2,438.6"]
    assert share[2:5] == ["50.0%", "62.5%", f"+12.5 {label('report_pp', 'en')}"]


def test_indicator_table_headers_differ_between_languages():
    vi = indicator_table(pilot_results(), INDICATORS, "vi").columns
    en = indicator_table(pilot_results(), INDICATORS, "en").columns
    assert all(a != b for a, b in zip(vi, en, strict=True))


def test_indicator_table_wants_one_pilot():
    two = pd.concat([pilot_results(), pilot_results().assign(unit_code="124")])
    with pytest.raises(ValueError):
        indicator_table(two, INDICATORS, "vi")


def test_summary_table():
    summary = summary_table(
        pilot_results(), "vi", models=MODELS, indicators=INDICATORS, pilots=PILOTS, level=0.10
    )
    assert list(summary.columns) == [
        label("report_col_item", "vi"),
        label("report_col_value", "vi"),
    ]
    rows = dict(summary.values.tolist())
    assert rows[label("report_summary_unit", "vi")] == "Huyện Phù Yên (122)"
    assert rows[label("report_summary_model", "vi")] == "Tuyên giáo kiêm Trung tâm chính trị"
    assert rows[label("report_summary_start", "vi")] == (
        f"08/2018 ({label('report_status_documented', 'vi')})"
    )
    assert rows[label("report_summary_first_year", "vi")] == "2019"
    assert rows[label("report_summary_comparison", "vi")] == label(
        "report_comparison_never", "vi", n=7
    )
    # Two of the four rows were tested.
    assert rows[label("report_summary_indicators", "vi")] == label(
        "report_summary_assessed", "vi", assessed=2, total=4
    )
    assert rows[label("eval_verdict_improved", "vi")] == label(
        "report_summary_verdict_count", "vi", n=1, names="Số cuộc họp"
    )
    assert rows[label("eval_verdict_not_assessed", "vi")] == label(
        "report_summary_verdict_count", "vi", n=2, names="Tỷ lệ đạt chuẩn; Xếp loại"
    )
    assert label("eval_verdict_worsened", "vi") not in rows
    # 10 % of 2 tests: 0.2 verdicts by chance.
    assert rows[label("report_summary_chance", "vi")] == label(
        "eval_note_chance", "vi", level="10 %", expected="0,2", n=2
    )


def test_summary_level_defaults_to_the_results_ci_level():
    summary = summary_table(pilot_results().assign(ci_level=0.8), "en")
    rows = dict(summary.values.tolist())
    assert rows[label("report_summary_chance", "en")] == label(
        "eval_note_chance", "en", level="20%", expected="0.4", n=2
    )


def test_pilot_overview_table():
    table = pilot_overview_table(
        pilot_results().assign(T=2018),
        "vi",
        models=FULL_MODELS,
        pilots=PILOTS,
        report_date=date(2024, 5, 1),
    )
    items = dict(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
    assert items[label("report_summary_unit", "vi")] == "Huyện Phù Yên (122)"
    assert items[label("report_summary_model", "vi")] == "Tuyên giáo kiêm Trung tâm chính trị"
    assert items[label("report_overview_plain", "vi")].startswith("Một người đồng thời giữ")
    assert items[label("report_summary_start", "vi")] == (
        "08/2018 (chỉ biết tháng; có văn bản xác nhận)"
    )
    assert items[label("report_summary_first_year", "vi")] == "2019 (năm 2018 là năm chuyển tiếp)"
    assert items[label("report_summary_comparison", "vi")] == label(
        "report_comparison_never", "vi", n=7
    )
    assert items[label("report_overview_date", "vi")] == "01/05/2024"


def test_indicator_detail_table_in_vietnamese():
    table = indicator_detail_table(detail_row(), INDICATORS, "vi")
    items = dict(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
    assert items[label("report_col_unit", "vi")] == "cuộc"
    assert items[label("report_detail_before", "vi", years="2015–2017")] == "12,3"
    assert items[label("report_detail_after", "vi", years="2019–2021")] == "9,9"
    assert items[label("report_col_change", "vi")] == "−2,5 (−20,0 %)"
    assert items[label("report_detail_did", "vi", years="các năm 2019–2021")] == "−2,0"
    assert items[label("report_detail_interval", "vi")] == (
        "90 %: không xác định được giới hạn (quá ít đơn vị so sánh)"
    )
    assert items[label("report_detail_p_better", "vi")] == "0,1250"
    assert items[label("report_detail_p_worse", "vi")] == "1,0000"
    assert (
        items[label("report_detail_p_min", "vi")] == "0,1250 (chính xác, tính trên 8 cách bố trí)"
    )
    assert items[label("report_col_verdict", "vi")] == "▲ " + label("eval_verdict_improved", "vi")


def test_indicator_detail_table_sampled_and_bounded_in_english():
    row = detail_row(
        ci_low=-3.0,
        ci_high=-0.5,
        p_better=0.0003,
        p_min=0.0001,
        n_assignments=10000,
        inference="sampled",
        mc_error=0.00017,
    )
    items = dict(zip(*indicator_detail_table(row, INDICATORS, "en").T.values, strict=True))
    assert items[label("report_detail_interval", "en")] == "90%: −3.0 to −0.5"
    assert items[label("report_detail_p_min", "en")] == (
        "0.0001 (9,999 sampled assignments, Monte Carlo error 0.0002)"
    )


def test_indicator_detail_table_pretrend_row():
    row = detail_row(
        pretrend_years_used="2014;2015;2016;2017",
        pretrend_slope=1.9,
        pretrend_p=0.0234,
        trend_effect=7.6,
        pretrend_flag=False,
    )
    key = label("report_detail_pretrend", "vi", years="2014–2017")
    items = dict(zip(*indicator_detail_table(row, INDICATORS, "vi").T.values, strict=True))
    assert items[key] == (
        "+1,90 mỗi năm (p = 0,0234); riêng xu hướng này tạo ra +7,6 trong DiD: không cảnh báo"
    )
    row["pretrend_p"], row["pretrend_flag"] = 0.00000751, True
    items = dict(zip(*indicator_detail_table(row, INDICATORS, "en").T.values, strict=True))
    assert items[label("report_detail_pretrend", "en", years="2014–2017")] == (
        "+1.90 a year (p < 0.0001); this trend alone gives +7.6 of the DiD: flagged"
    )
    # Before/after only: measured, not judged. A model row: only the mean trend effect.
    row["pretrend_flag"] = pd.NA
    items = dict(zip(*indicator_detail_table(row, INDICATORS, "en").T.values, strict=True))
    assert items[label("report_detail_pretrend", "en", years="2014–2017")].endswith(
        "not judged (no comparison group)"
    )
    row["pretrend_slope"], row["pretrend_p"], row["pretrend_flag"] = np.nan, np.nan, False
    row["pretrend_years_used"] = ""
    items = dict(zip(*indicator_detail_table(row, INDICATORS, "vi").T.values, strict=True))
    assert items[label("report_detail_pretrend", "vi", years="–")] == (
        "xu hướng trước của các thí điểm, bình quân, tạo ra +7,6 trong DiD chung: không cảnh báo"
    )


def test_indicator_detail_table_untested_shows_dashes():
    row = pilot_results().iloc[3]  # the rating, not assessed
    items = dict(zip(*indicator_detail_table(row, INDICATORS, "vi").T.values, strict=True))
    assert items[label("report_detail_p_better", "vi")] == "–"
    assert items[label("report_detail_p_min", "vi")] == "–"
    assert items[label("report_col_change", "vi")] == "+0,75"  # ratings: no percent change


# ---------------------------------------------------------------------------------------------
# pandas styling
# ---------------------------------------------------------------------------------------------


def test_styled_tables_have_stable_html():
    table = indicator_table(pilot_results(), INDICATORS, "vi")
    assert style_table(table, "t").to_html() == style_table(table, "t").to_html()


def test_styled_tables_mark_the_rows_print_leaves_out():
    frame = pd.DataFrame({"a": ["x", "y", "z"], "b": ["1", "2", "3"]})
    assert "kn-print-hide" not in style_table(frame, "x").to_html()
    frame.attrs["kn_print_hide"] = [0, 2]
    html = style_table(frame, "x").to_html()
    for row, hidden in ((0, True), (1, False), (2, True)):
        for col in (0, 1):
            cell = re.search(rf'<td id="T_x_row{row}_col{col}" class="([^"]*)"', html).group(1)
            assert ("kn-print-hide" in cell.split()) == hidden, (row, col, cell)


def test_styled_tables_escape_text_from_the_data():
    frame = pd.DataFrame({"a": [HOSTILE], "b": ["1,0"]})
    html = style_table(frame, "x").to_html()
    assert HOSTILE not in html and "&lt;script&gt;" in html


# ---------------------------------------------------------------------------------------------
# The province summary
# ---------------------------------------------------------------------------------------------


def test_verdict_matrix_codes():
    matrix = verdict_matrix(all_results())
    assert list(matrix.columns) == ["unit_name", "so_cuoc_hop", "xep_loai", "ty_le"]
    assert list(matrix.index) == [
        ("danvan_mttq", "118"),
        ("danvan_mttq", "122"),
        ("danvan_mttq", "*"),
        ("tuyengiao_ttct", "122"),
        ("tuyengiao_ttct", "*"),
    ]
    assert matrix.loc[("danvan_mttq", "122"), "xep_loai"] == "worsened"
    assert matrix.loc[("danvan_mttq", "*"), "so_cuoc_hop"] == "improved"
    assert matrix.loc[("danvan_mttq", "118"), "ty_le"] == ""  # not part of the model
    assert matrix.loc[("tuyengiao_ttct", "122"), "ty_le"] == "changed"


def test_pooled_table():
    results = pilot_results().iloc[[0]].copy()
    results["scope"], results["n_pilots"] = "model", 5
    results["ci_low"], results["ci_high"] = -3.0, -1.0
    results["hl_estimate"] = -1.9
    results["p_better"], results["p_worse"], results["p_min"] = 0.00126, 0.99874, 1 / 792
    results["n_assignments"], results["inference"] = 792, "exact"
    table = pooled_table(
        pd.concat([pilot_results(), results]), "vi", indicators=INDICATORS, models=MODELS
    )
    assert len(table) == 1
    row = dict(zip(table.columns, table.iloc[0], strict=True))
    assert row[label("summary_col_model", "vi")] == MODELS["label_vi"][0]
    assert row[label("summary_col_pilots", "vi")] == "5"
    # The estimate the test matches leads (issue 12); the pilots' mean goes to the notes.
    assert row[label("summary_col_effect", "vi")] == "−1,9"
    assert label("summary_note_mean", "vi", did="−2,0") in row[label("summary_col_notes", "vi")]
    assert row[label("report_detail_interval", "vi")] == "90 %: từ −3,0 đến −1,0"
    assert row[label("report_detail_p_better", "vi")] == "0,0013"
    assert (
        row[label("report_detail_p_min", "vi")] == "0,0013 (chính xác, tính trên 792 cách bố trí)"
    )


def test_never_units():
    units = pd.DataFrame(
        {
            "unit_code": ["116", "118", "119"],
            "unit_name": ["Thành phố Sơn La", "Huyện Quỳnh Nhai", "Huyện Thuận Châu"],
        }
    )
    pilots = pd.DataFrame(
        {
            "unit_code": ["118", "116", "118", "119"],
            "model": ["danvan_mttq", "tuyengiao_ttct", "tuyengiao_ttct", "tuyengiao_ttct"],
        }
    )
    table = never_units_table(units, pilots, MODELS, "vi")
    assert table.values.tolist() == [
        ["danvan_mttq", "1", "2", "Thành phố Sơn La; Huyện Thuận Châu"],
        [MODELS["label_vi"][0], "3", "0", label("summary_never_none", "vi")],
    ]


def test_claims_catalog_maps_the_article():
    claims = builtin_claims()
    assert list(claims.columns) == ["model", "claim_vi", "claim_en", "indicator", "quote_vi"]
    tested = dict(zip(claims["indicator"], claims["model"], strict=False))
    # The article's countable claims and the indicators that test them.
    assert tested["so_cuoc_hop"] == "danvan_mttq"
    assert tested["so_cuoc_kiem_tra_giam_sat"] == "danvan_mttq"
    assert tested["so_ngay_trien_khai"] == "danvan_mttq"
    assert tested["xep_loai"] == "danvan_mttq"
    assert tested["so_uy_vien_bch"] == "tuyengiao_ttct"
    assert tested["so_giang_vien_chuyen_trach"] == "tuyengiao_ttct"
    # What no indicator measures.
    untested = " ".join(claims.loc[claims["indicator"] == "", "quote_vi"])
    for topic in ("Covid-19", "bầu cử", "nông thôn mới"):
        assert topic in untested
    # Every indicator named exists and concerns its model.
    from kiemnhiem.data.catalog import builtin_indicators, indicators_for_model

    catalog = builtin_indicators()
    for rec in claims[claims["indicator"] != ""].itertuples(index=False):
        assert rec.indicator in set(indicators_for_model(catalog, rec.model)["code"])
    assert all(claims["claim_vi"] != claims["claim_en"])


def test_claim_quotes_are_verbatim_from_the_article():
    import unicodedata

    article = Path(__file__).resolve().parents[3] / "shared" / "context" / "seed-article-vi.txt"
    if not article.is_file():
        pytest.skip("the source article is not beside this checkout")
    text = unicodedata.normalize("NFC", article.read_text(encoding="utf-8"))
    for quote in builtin_claims()["quote_vi"]:
        assert quote in text, quote


def test_claims_table_against_pooled_verdicts():
    claims = pd.DataFrame(
        {
            "model": ["danvan_mttq", "danvan_mttq", "danvan_mttq", "bithu_chutich"],
            "claim_vi": ["Giảm họp", "Xếp loại tốt", "Phòng dịch", "Khác"],
            "claim_en": ["Fewer meetings", "Good ratings", "Epidemic work", "Other"],
            "indicator": ["so_cuoc_hop", "xep_loai", "", "so_cuoc_hop"],
            "quote_vi": ["giảm các cuộc họp", "hoàn thành tốt", "phòng, chống dịch", "x"],
        }
    )
    table = claims_table(claims, all_results(), "vi", indicators=INDICATORS, models=MODELS)
    assert len(table) == 2  # the untestable claim and the absent model are left out
    first = dict(zip(table.columns, table.iloc[0], strict=True))
    assert first[label("summary_col_claim", "vi")] == "Giảm họp"
    assert first[label("summary_col_quote", "vi")] == "“giảm các cuộc họp”"
    assert first[label("summary_col_tested_by", "vi")] == "Số cuộc họp"
    assert first[label("summary_col_support", "vi")] == label("summary_support_yes", "vi")
    # Of the two pilots, one was tested and improved, the other assessed without a clear change.
    assert first[label("summary_col_pilots_improved", "vi")] == label(
        "summary_pilots_improved", "vi", k=1, n=2
    )
    second = dict(zip(table.columns, table.iloc[1], strict=True))
    assert second[label("summary_col_support", "vi")] == label("summary_support_unclear", "vi")
    assert second[label("summary_col_pilots_improved", "vi")] == label(
        "summary_pilots_improved", "vi", k=0, n=1
    )
    untested = untestable_claims(claims, all_results(), "en", models=MODELS)
    assert untested.iloc[:, 1].tolist() == ["Epidemic work"]
    assert untested.iloc[0, 3] == label("summary_untestable_no_indicator", "en")
