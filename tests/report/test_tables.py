"""Report tables and texts from hand-made result rows, with values formatted by hand."""

from __future__ import annotations

import html
import math
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kiemnhiem
from kiemnhiem.exceptions import ParameterError
from kiemnhiem.labels import label, labels_table
from kiemnhiem.report.export import ESTIMATE_COLUMNS, VERDICT_COLUMNS, YEARLY_COLUMNS
from kiemnhiem.report.tables import (
    VERDICTS,
    banner_html,
    builtin_claims,
    chance_note,
    claims_table,
    comments_html,
    data_quality_notes,
    event_study_caption_html,
    event_study_unavailable_html,
    heading_html,
    indicator_detail_table,
    indicator_info,
    indicator_markdown,
    indicator_notes,
    indicator_section_html,
    indicator_table,
    interval_text,
    method_note_markdown,
    model_plain_text,
    never_units_table,
    pilot_overview_table,
    pooled_table,
    print_banner_html,
    provenance_html,
    start_description,
    style_table,
    summary_chance_text,
    summary_table,
    untestable_claims,
    verdict_boxes_html,
    verdict_label,
    verdict_legend_html,
    verdict_matrix,
    verdict_matrix_html,
    verdict_symbol,
    verdict_text,
    year_ranges,
)

INDICATORS = pd.DataFrame(
    {
        "code": ["so_cuoc_hop", "kinh_phi", "ty_le", "xep_loai"],
        "label_vi": ["Số cuộc họp", "Kinh phí", "Tỷ lệ đạt chuẩn", "Xếp loại"],
        "label_en": ["Meetings", "Running costs", "Share up to standard", "Rating"],
        "unit_vi": ["cuộc", "triệu đồng", "tỷ lệ", "bậc"],
        "unit_en": ["meetings", "million VND", "share", "grade"],
        "kind": ["count", "amount", "share", "rating"],
        "better": ["lower", "lower", "higher", "higher"],
        "description_vi": ["Số cuộc họp trong năm.", "", "", ""],
        "description_en": ["Meetings in the year.", "", "", ""],
    }
)
MODELS = pd.DataFrame(
    {
        "code": ["tuyengiao_ttct"],
        "label_vi": ["Tuyên giáo kiêm Trung tâm chính trị"],
        "label_en": ["Propaganda head also training centre director"],
    }
)
PILOTS = pd.DataFrame(
    {
        "unit_code": ["122"],
        "model": ["tuyengiao_ttct"],
        "start_precision": ["month"],
        "start_status": ["documented"],
    }
)


def _results() -> pd.DataFrame:
    base = {
        "unit_code": "122",
        "unit_name": "Huyện Phù Yên",
        "model": "tuyengiao_ttct",
        "start": pd.Timestamp("2018-08-01"),
        "g": 2019,
        "comparison": "never",
        "n_comparison": 7,
        "ci_level": 0.9,
        "pre_years_used": "2015;2016;2017",
        "post_years_used": "2019;2020;2021",
        "n_pre": 3,
        "n_post": 3,
        "mixed_models": False,
        "pretrend_flag": pd.NA,
        "start_sensitive": False,
        "reason_vi": "",
        "reason_en": "",
    }
    rows = [
        {
            "indicator": "so_cuoc_hop",
            "pre_mean": 12.34,
            "post_mean": 9.87,
            "change": -2.47,
            "pct_change": -0.2,
            "did": -1.96,
            "verdict": "improved",
            "status": "assessed",
        },
        {
            "indicator": "kinh_phi",
            "pre_mean": 2090.07,
            "post_mean": 2438.57,
            "change": 348.5,
            "pct_change": 0.1667,
            "did": 9.36,
            "verdict": "no_clear_change",
            "status": "assessed",
        },
        {
            "indicator": "ty_le",
            "pre_mean": 0.5,
            "post_mean": 0.625,
            "change": 0.125,
            "pct_change": np.nan,
            "did": 0.031,
            "verdict": "not_assessed",
            "status": "estimate_only",
            "pre_years_used": "2015;2017",
        },
        {
            "indicator": "xep_loai",
            "pre_mean": 2.5,
            "post_mean": 3.25,
            "change": 0.75,
            "pct_change": np.nan,
            "did": 0.5,
            "verdict": "not_assessed",
            "status": "not_assessed",
            "post_years_used": "",
        },
    ]
    return pd.DataFrame([{**base, **r} for r in rows])


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
    table = indicator_table(_results(), INDICATORS, "vi")
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
    table = indicator_table(_results(), INDICATORS, "en")
    assert list(table.columns) == [label(k, "en") for k in COLUMNS]
    first, second, share, _rating = table.values.tolist()
    assert first[:7] == ["Meetings", "meetings", "12.3", "9.9", "−2.5", "−20.0%", "−2.0"]
    assert second[2:4] == ["2,090.1", "2,438.6"]
    assert share[2:5] == ["50.0%", "62.5%", f"+12.5 {label('report_pp', 'en')}"]


def test_indicator_table_headers_differ_between_languages():
    vi = indicator_table(_results(), INDICATORS, "vi").columns
    en = indicator_table(_results(), INDICATORS, "en").columns
    assert all(a != b for a, b in zip(vi, en, strict=True))


def test_indicator_table_wants_one_pilot():
    two = pd.concat([_results(), _results().assign(unit_code="124")])
    with pytest.raises(ValueError):
        indicator_table(two, INDICATORS, "vi")


def test_summary_table():
    summary = summary_table(
        _results(), "vi", models=MODELS, indicators=INDICATORS, pilots=PILOTS, level=0.10
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
    summary = summary_table(_results().assign(ci_level=0.8), "en")
    rows = dict(summary.values.tolist())
    assert rows[label("report_summary_chance", "en")] == label(
        "eval_note_chance", "en", level="20%", expected="0.4", n=2
    )


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_verdict_has_its_text(lang):
    for code in VERDICTS:
        assert verdict_text(code, lang) == label(f"eval_verdict_{code}", lang)
    assert verdict_text(None, lang) == label("eval_verdict_not_assessed", lang)


def test_indicator_info_without_catalog_falls_back_to_the_code():
    info = indicator_info(None, "so_moi", "vi")
    assert (info.label, info.kind) == ("so_moi", "count")


def test_year_ranges():
    assert year_ranges("2015;2016;2017;2019") == "2015–2017, 2019"
    assert year_ranges([2020]) == "2020"
    assert year_ranges("") == "–"


def test_notes_follow_the_flags():
    row = _results().iloc[0].copy()
    assert indicator_notes(row, "vi") == []
    row["mixed_models"] = True
    row["joint_test"] = True
    row["pretrend_flag"] = True
    row["start_sensitive"] = True
    row["reason_vi"] = "Lý do."
    assert indicator_notes(row, "vi") == [
        "Lý do.",
        label("eval_note_mixed", "vi"),
        label("eval_note_joint", "vi"),
        label("eval_note_pretrend", "vi"),
        label("eval_note_start_sensitive", "vi"),
    ]
    row["scope"] = "model"  # a model's flag speaks of its pilots
    assert label("eval_note_pretrend_model", "vi") in indicator_notes(row, "vi")
    assert label("eval_note_pretrend", "vi") not in indicator_notes(row, "vi")


def test_a_mean_outside_its_interval_gets_the_hodges_lehmann_note():
    row = _results().iloc[0].copy()
    row["kind"], row["did"], row["ci_low"], row["ci_high"] = "amount", 184.21, -102.0, 62.3
    row["hl_estimate"] = -17.14
    assert indicator_notes(row, "vi")[-1] == label(
        "eval_note_outside_interval", "vi", did="+184,2", hl="−17,1"
    )
    row["kind"], row["did"], row["ci_low"], row["ci_high"] = "share", 0.0618, -0.0074, 0.0594
    row["hl_estimate"] = 0.0274
    assert indicator_notes(row, "en")[-1] == label(
        "eval_note_outside_interval", "en", did="+6.2 pp", hl="+2.7 pp"
    )
    # Inside its interval, or an unbounded interval: no note.
    row["did"] = 0.05
    assert label("eval_note_outside_interval", "en", did="+5.0 pp", hl="+2.7 pp") not in (
        indicator_notes(row, "en")
    )
    row["did"], row["ci_high"] = 0.0618, math.inf
    assert not any("Hodges" in n for n in indicator_notes(row, "en"))


def test_interval_text():
    info = indicator_info(INDICATORS, "so_cuoc_hop", "vi")
    row = _results().iloc[0].copy()
    row["ci_low"], row["ci_high"] = -3.04, -0.51
    assert interval_text(row, info, "vi") == label(
        "report_interval", "vi", ci="90 %", low="−3,0", high="−0,5"
    )
    row["ci_low"] = -math.inf
    assert interval_text(row, info, "vi") == label("report_interval_unbounded", "vi", ci="90 %")


def test_indicator_markdown_has_heading_verdict_and_definition():
    row = _results().iloc[0].copy()
    row["ci_low"], row["ci_high"] = -math.inf, math.inf
    row["p_better"], row["p_worse"] = 0.125, 1.0
    text = indicator_markdown(row, INDICATORS, "en")
    assert text.startswith("### Meetings\n")
    verdict = label("eval_verdict_improved", "en")
    assert f"**{label('report_verdict_label', 'en')}:** {verdict}." in text
    assert label("report_p_values", "en", p_better="0.125", p_worse="1.000") in text
    assert "Meetings in the year." in text


def test_banner():
    html = banner_html(True, "vi", name="<Demo & co>", classification="Tài liệu <nội bộ>")
    assert label("report_synthetic_title", "vi") in html
    assert "&lt;Demo &amp; co&gt;" in html
    assert "Tài liệu &lt;nội bộ&gt;" in html
    assert "<Demo" not in html
    assert banner_html(False, "vi") == ""


def test_styled_tables_have_stable_html():
    table = indicator_table(_results(), INDICATORS, "vi")
    assert style_table(table, "t").to_html() == style_table(table, "t").to_html()


# ---------------------------------------------------------------------------------------------
# The labels this layer uses
# ---------------------------------------------------------------------------------------------

_FAMILIES = [
    *(f"eval_verdict_{v}" for v in VERDICTS),
    *(f"report_status_{s}" for s in ("documented", "approximate", "assumed")),
    *(f"report_comparison_{c}" for c in ("never", "notyet", "none")),
    *(f"index_status_{s}" for s in ("ok", "failed", "unchanged")),
    *(f"index_lang_{lang}" for lang in ("vi", "en")),
    *(f"report_legend_{v}" for v in VERDICTS),
    *(f"report_precision_{p}" for p in ("day", "month", "year")),
    *(f"report_dq_precision_{p}" for p in ("month", "year")),
    *(
        f"report_note_{k}{suffix}"
        for k in ("comparison", "ranks", "chosen", "limits")
        for suffix in ("", "_heading")
    ),
    *(f"summary_support_{k}" for k in ("yes", "opposite", "unclear", "not_assessed")),
    *(f"report_es_caption_{k}" for k in ("unit", "model")),
    *(f"export_col_{c}" for c in {*ESTIMATE_COLUMNS, *VERDICT_COLUMNS, *YEARLY_COLUMNS}),
    *(
        f"index_{k}"
        for k in (
            "dataset",
            "generated",
            "version",
            "unit",
            "model",
            "lang",
            "status",
            "report",
            "manifest",
        )
    ),
]


def _keys_in_code() -> set[str]:
    root = Path(kiemnhiem.__file__).parent
    keys: set[str] = set()
    for path in root.rglob("*.py"):  # every module, wherever the layout puts it
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r"""(?:label|both|pair)\(\s*["']([a-z0-9_]+)["']""", text))
    for notebook in (root.parent / "notebooks").glob("*.ipynb"):
        keys |= set(re.findall(r'label\(\\"([a-z0-9_]+)\\"', notebook.read_text("utf-8")))
    return keys


def test_every_label_the_reports_use_exists():
    table = labels_table()
    missing = sorted(k for k in _keys_in_code() | set(_FAMILIES) if k not in table)
    assert missing == []


# ---------------------------------------------------------------------------------------------
# Verdicts at a glance, the first screen, per-indicator details
# ---------------------------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script>"
FULL_MODELS = pd.DataFrame(
    {
        "code": ["tuyengiao_ttct", "danvan_mttq"],
        "label_vi": ["Tuyên giáo kiêm Trung tâm chính trị", "Dân vận kiêm Mặt trận"],
        "label_en": [
            "Propaganda head also training centre director",
            "Mobilization head also Front chair",
        ],
        "post_a_vi": ["Trưởng Ban Tuyên giáo huyện ủy", "Trưởng Ban Dân vận huyện ủy"],
        "post_b_vi": ["Giám đốc Trung tâm chính trị", "Chủ tịch Ủy ban MTTQ huyện"],
        "post_a_en": ["Head of Propaganda", "Head of Mass Mobilization"],
        "post_b_en": ["Director of the Training Centre", "Chair of the Front"],
    }
)


@pytest.mark.parametrize(
    ("code", "symbol"),
    [
        ("improved", "▲"),
        ("worsened", "▼"),
        ("changed", "◆"),
        ("no_clear_change", "●"),
        ("not_assessed", "○"),
        ("cannot_assess", "○"),
        (None, "○"),
    ],
)
def test_every_verdict_has_its_own_shape(code, symbol):
    assert verdict_symbol(code) == symbol


def test_verdict_label_is_shape_and_words():
    assert verdict_label("improved", "vi") == "▲ " + label("eval_verdict_improved", "vi")
    assert verdict_label("worsened", "en") == "▼ " + label("eval_verdict_worsened", "en")


def test_verdict_boxes_say_the_verdict_in_words_and_escape_the_reason():
    results = _results()
    results.loc[0, "reason_vi"] = f"Lý do {HOSTILE}"
    html = verdict_boxes_html(results, INDICATORS, "vi")
    assert html.count('class="kn-verdict ') == 4
    assert label("eval_verdict_improved", "vi") in html and "▲" in html
    assert label("eval_verdict_no_clear_change", "vi") in html and "●" in html
    assert "Số cuộc họp" in html and "Tỷ lệ đạt chuẩn" in html
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_legend_explains_every_shape():
    for lang in ("vi", "en"):
        html = verdict_legend_html(lang)
        for code in VERDICTS:
            assert verdict_symbol(code) in html
            assert label(f"report_legend_{code}", lang) in html


def test_model_in_plain_words():
    assert model_plain_text(FULL_MODELS, "tuyengiao_ttct", "vi") == (
        "Một người đồng thời giữ hai chức danh: Trưởng Ban Tuyên giáo huyện ủy và "
        "Giám đốc Trung tâm chính trị."
    )
    assert model_plain_text(FULL_MODELS, "danvan_mttq", "en") == (
        "One person holds both posts: Head of Mass Mobilization and Chair of the Front."
    )
    # Without the posts, the model's name.
    assert model_plain_text(MODELS, "tuyengiao_ttct", "vi") == MODELS["label_vi"][0]


@pytest.mark.parametrize(
    ("precision", "status", "vi", "en"),
    [
        (
            "month",
            "documented",
            "08/2018 (chỉ biết tháng; có văn bản xác nhận)",
            "Aug 2018 (month known only; documented)",
        ),
        (
            "year",
            "approximate",
            "2018 (chỉ biết năm; thời điểm ước tính)",
            "2018 (year known only; approximate date)",
        ),
        (
            "day",
            "assumed",
            "01/08/2018 (biết chính xác ngày; thời điểm giả định)",
            "1 Aug 2018 (exact day known; assumed date)",
        ),
    ],
)
def test_start_description(precision, status, vi, en):
    start = pd.Timestamp("2018-08-01")
    assert start_description(start, precision, status, "vi") == vi
    assert start_description(start, precision, status, "en") == en


def test_pilot_overview_table():
    table = pilot_overview_table(
        _results().assign(T=2018),
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


def _tested_row(**changes) -> pd.Series:
    row = _results().iloc[0].copy()
    row["did_years_used"] = "2019;2020;2021"
    row["ci_level"], row["ci_low"], row["ci_high"] = 0.9, -math.inf, math.inf
    row["p_better"], row["p_worse"], row["p_min"] = 0.125, 1.0, 0.125
    row["n_assignments"], row["inference"], row["mc_error"] = 8, "exact", np.nan
    for key, value in changes.items():
        row[key] = value
    return row


def test_indicator_detail_table_in_vietnamese():
    table = indicator_detail_table(_tested_row(), INDICATORS, "vi")
    items = dict(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
    assert items[label("report_col_unit", "vi")] == "cuộc"
    assert items[label("report_detail_before", "vi", years="2015–2017")] == "12,3"
    assert items[label("report_detail_after", "vi", years="2019–2021")] == "9,9"
    assert items[label("report_col_change", "vi")] == "−2,5 (−20,0 %)"
    assert items[label("report_detail_did", "vi", years="2019–2021")] == "−2,0"
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
    row = _tested_row(
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
    row = _tested_row(
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
    row = _results().iloc[3]  # the rating, not assessed
    items = dict(zip(*indicator_detail_table(row, INDICATORS, "vi").T.values, strict=True))
    assert items[label("report_detail_p_better", "vi")] == "–"
    assert items[label("report_detail_p_min", "vi")] == "–"
    assert items[label("report_col_change", "vi")] == "+0,75"  # ratings: no percent change


def test_indicator_section_html_escapes_and_keeps_the_definition():
    row = _tested_row(reason_vi=f"Lý do {HOSTILE}", mixed_models=True)
    html = indicator_section_html(row, INDICATORS, "vi")
    assert html.startswith("<h3>Số cuộc họp</h3>")
    assert "&lt;script&gt;" in html and HOSTILE not in html
    assert label("eval_note_mixed", "vi") in html
    assert "Số cuộc họp trong năm." in html


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_method_note_has_the_four_plain_sections(lang):
    text = method_note_markdown(lang, level=0.10, pre_years=3, post_years=3)
    for key in ("comparison", "ranks", "chosen", "limits"):
        assert f"**{label(f'report_note_{key}_heading', lang)}**" in text
    assert "{" not in text  # every placeholder filled
    assert ("5 %" if lang == "vi" else "5%") in text  # half the level, by Babel
    other = "en" if lang == "vi" else "vi"
    assert label("report_note_chosen", other) not in text


def test_chance_note_without_tests():
    assert chance_note(0, 0.1, "vi") == label("report_chance_no_tests", "vi")
    assert chance_note(20, 0.1, "en") == label(
        "eval_note_chance", "en", level="10%", expected="2.0", n=20
    )


def test_comments_are_filtered_and_escaped():
    comments = pd.DataFrame(
        {
            "unit_code": ["122", "122", "118"],
            "model": ["tuyengiao_ttct", "danvan_mttq", "tuyengiao_ttct"],
            "comment": [f"Cần bổ sung {HOSTILE}", "khác mô hình", "khác đơn vị"],
            "author": ["=HYPERLINK(1)", "", ""],
            "date": ["2021-06-30", "", ""],
        }
    )
    html = comments_html(comments, "122", "tuyengiao_ttct", "vi")
    assert html.count("<li>") == 1
    assert "Cần bổ sung &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "=HYPERLINK(1), 2021-06-30" in html
    assert "khác" not in html
    assert comments_html(comments.iloc[0:0], "122", "x", "en") == (
        f"<p>{label('report_comments_none', 'en')}</p>"
    )


def test_print_banner_is_hidden_on_screen_and_escaped():
    html = print_banner_html(True, "vi", classification="Mật <b>")
    assert 'class="kn-print-banner"' in html and "display:none" in html
    assert "Mật &lt;b&gt;" in html and label("report_print_synthetic", "vi") in html
    assert print_banner_html(False, "vi") == ""


def test_styled_tables_escape_text_from_the_data():
    frame = pd.DataFrame({"a": [HOSTILE], "b": ["1,0"]})
    html = style_table(frame, "x").to_html()
    assert HOSTILE not in html and "&lt;script&gt;" in html


def test_heading_and_provenance_escape():
    assert heading_html(HOSTILE, 1) == "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"
    html = provenance_html(
        version="0.1", dataset_name=HOSTILE, content_hash="abc", parameters={"a": 1}, lang="vi"
    )
    assert HOSTILE not in html and "&lt;script&gt;" in html


# ---------------------------------------------------------------------------------------------
# Data quality
# ---------------------------------------------------------------------------------------------


def _quality_dataset():
    """Unit 122, start 08/2018 (documented): pre window 2015-2017, post 2019-2021. Meetings
    lack 2016 and 2021 has six months only (partial, so left out); the rating has no data."""
    from kiemnhiem.data.dataset import Dataset

    months = [(f"2021-{m:02d}", "month", 2021, m) for m in range(1, 7)]
    rows = [(str(y), "year", y, 0) for y in (2015, 2017, 2019, 2020)] + months
    panel = pd.DataFrame(
        {
            "unit_code": "122",
            "period": [r[0] for r in rows],
            "freq": [r[1] for r in rows],
            "year": [r[2] for r in rows],
            "sub": [r[3] for r in rows],
            "indicator": "so_cuoc_hop",
            "value": 10.0,
            "note": "",
        }
    )
    indicators = INDICATORS.assign(aggregate=["sum", "sum", "last", "last"])
    pilots = PILOTS.assign(start=pd.Timestamp("2018-08-01"), end=pd.NaT)
    empty = pd.DataFrame()
    return Dataset(
        name="t",
        province_code="14",
        province_name="Sơn La",
        synthetic=True,
        description="",
        source="",
        data_end=None,
        panel=panel,
        pilots=pilots,
        units=empty,
        models=MODELS,
        indicators=indicators,
        events=empty,
        comments=empty,
    )


def test_data_quality_notes_name_missing_and_partial_years():
    results = _results().iloc[[0, 3]].copy()
    results["pre_years_used"] = ["2015;2017", ""]
    results["post_years_used"] = ["2019;2020", ""]
    results["reason_code"] = ["improved", "no_data"]
    results["start_status"] = "documented"
    notes = data_quality_notes(_quality_dataset(), results, "vi")
    assert notes == [
        label("report_dq_precision_month", "vi", date="08/2018", year=2018),
        label("report_dq_missing", "vi", indicator="Số cuộc họp", years="2016"),
        label("report_dq_partial", "vi", indicator="Số cuộc họp", years="2021"),
        label("report_dq_no_data", "vi", names="Xếp loại"),
    ]


def test_data_quality_notes_on_uncertain_starts():
    dataset = _quality_dataset()
    dataset.pilots.loc[:, "start_status"] = "assumed"
    results = _results().iloc[[0]].copy()
    results["pre_years_used"], results["post_years_used"] = "2015;2016;2017", "2019;2020;2021"
    results["reason_code"] = "improved"
    robust = data_quality_notes(dataset, results, "en")
    assert (
        label(
            "report_dq_start_robust",
            "en",
            date="Aug 2018",
            status=label("report_status_assumed", "en"),
        )
        in robust
    )
    results["start_sensitive"] = True
    sensitive = data_quality_notes(dataset, results, "en")
    assert (
        label(
            "report_dq_start_sensitive",
            "en",
            date="Aug 2018",
            status=label("report_status_assumed", "en"),
            names="Meetings",
        )
        in sensitive
    )


# ---------------------------------------------------------------------------------------------
# The province summary
# ---------------------------------------------------------------------------------------------


def _all_results() -> pd.DataFrame:
    """Two pilots of danvan_mttq on two indicators, one of tuyengiao_ttct on one, and the pooled
    rows; the verdicts as hand-picked codes."""
    rows = [
        ("pilot", "118", "Huyện Quỳnh Nhai", "danvan_mttq", "so_cuoc_hop", "no_clear_change"),
        ("pilot", "118", "Huyện Quỳnh Nhai", "danvan_mttq", "xep_loai", "not_assessed"),
        ("pilot", "122", f"Huyện {HOSTILE}", "danvan_mttq", "so_cuoc_hop", "improved"),
        ("pilot", "122", f"Huyện {HOSTILE}", "danvan_mttq", "xep_loai", "worsened"),
        ("model", "*", "", "danvan_mttq", "so_cuoc_hop", "improved"),
        ("model", "*", "", "danvan_mttq", "xep_loai", "no_clear_change"),
        ("pilot", "122", f"Huyện {HOSTILE}", "tuyengiao_ttct", "ty_le", "changed"),
        ("model", "*", "", "tuyengiao_ttct", "ty_le", "not_assessed"),
    ]
    frame = pd.DataFrame(
        rows, columns=["scope", "unit_code", "unit_name", "model", "indicator", "verdict"]
    )
    frame["status"] = np.where(frame["verdict"] == "not_assessed", "not_assessed", "assessed")
    frame["reason_vi"] = "Lý do."
    frame["reason_en"] = "Reason."
    return frame


def test_verdict_matrix_codes():
    matrix = verdict_matrix(_all_results())
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


def test_verdict_matrix_html_is_readable_without_colour_and_escaped():
    html = verdict_matrix_html(_all_results(), "vi", indicators=INDICATORS, models=MODELS)
    assert html.count("▲") == 2 and html.count("▼") == 1 and html.count("◆") == 1
    assert html.count("●") == 2 and html.count("○") == 2
    # Indicators outside the model: the rating and meetings for tuyengiao_ttct's two rows, the
    # share for danvan_mttq's three.
    assert html.count(">·<") == 7
    assert label("summary_pooled_row", "vi") in html
    assert "Huyện &lt;script&gt;" in html and HOSTILE not in html
    assert 'title="' + label("eval_verdict_worsened", "vi") + ': Lý do."' in html
    assert "overflow-x:auto" in html


def test_pooled_table():
    results = _results().iloc[[0]].copy()
    results["scope"], results["n_pilots"] = "model", 5
    results["ci_low"], results["ci_high"] = -3.0, -1.0
    results["p_better"], results["p_worse"], results["p_min"] = 0.00126, 0.99874, 1 / 792
    results["n_assignments"], results["inference"] = 792, "exact"
    table = pooled_table(
        pd.concat([_results(), results]), "vi", indicators=INDICATORS, models=MODELS
    )
    assert len(table) == 1
    row = dict(zip(table.columns, table.iloc[0], strict=True))
    assert row[label("summary_col_model", "vi")] == MODELS["label_vi"][0]
    assert row[label("summary_col_pilots", "vi")] == "5"
    assert row[label("summary_col_effect", "vi")] == "−2,0"
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
    table = claims_table(claims, _all_results(), "vi", indicators=INDICATORS, models=MODELS)
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
    untested = untestable_claims(claims, _all_results(), "en", models=MODELS)
    assert untested.iloc[:, 1].tolist() == ["Epidemic work"]
    assert untested.iloc[0, 3] == label("summary_untestable_no_indicator", "en")


def test_summary_chance_text_counts_what_it_shows():
    text = summary_chance_text(_all_results(), 0.10, "vi")
    # Six assessed rows; four of them improved, worsened or changed.
    assert text == (
        label("eval_note_chance", "vi", level="10 %", expected="0,6", n=6)
        + " "
        + label("summary_chance_observed", "vi", k=4, n=6)
    )


def test_event_study_caption_and_unavailable_note():
    study = pd.DataFrame(
        {"event_time": [-2, -1, 0], "n_units": [3, 3, 2], "base": [True, False, False]}
    )
    study.attrs.update(unit="122", group=2019, base_event_time=-2)
    expected = label("report_es_caption_unit", "vi", g=2019, n=3, base="−2")
    assert html.escape(expected) in event_study_caption_html(study, "vi")
    error = ParameterError(f"Không có {HOSTILE}", "None")
    note = event_study_unavailable_html(error, "vi")
    assert HOSTILE not in note and "&lt;script&gt;" in note
