"""Report tables and texts from hand-made result rows, with values formatted by hand."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kiemnhiem
from kiemnhiem.labels import label, labels_table
from kiemnhiem.tables import (
    VERDICTS,
    banner_html,
    indicator_info,
    indicator_markdown,
    indicator_notes,
    indicator_table,
    interval_text,
    style_table,
    summary_table,
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

_MODULES = ("tables.py", "plots.py", "runner.py")
_FAMILIES = [
    *(f"eval_verdict_{v}" for v in VERDICTS),
    *(f"report_status_{s}" for s in ("documented", "approximate", "assumed")),
    *(f"report_comparison_{c}" for c in ("never", "notyet", "none")),
    *(f"index_status_{s}" for s in ("ok", "failed", "unchanged")),
    *(f"index_lang_{lang}" for lang in ("vi", "en")),
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
    for name in _MODULES:
        text = (root / name).read_text(encoding="utf-8")
        keys |= set(re.findall(r"""(?:label|both|pair)\(\s*["']([a-z0-9_]+)["']""", text))
    notebook = root.parent / "notebooks" / "pilot_report.ipynb"
    if notebook.is_file():
        keys |= set(re.findall(r'label\(\\"([a-z0-9_]+)\\"', notebook.read_text("utf-8")))
    return keys


def test_every_label_the_reports_use_exists():
    table = labels_table()
    missing = sorted(k for k in _keys_in_code() | set(_FAMILIES) if k not in table)
    assert missing == []
