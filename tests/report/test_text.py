"""Sentences and the wording of numbers and verdicts, from hand-made rows, formatted by hand."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

import kiemnhiem
from kiemnhiem.labels import label, labels_table
from kiemnhiem.report.export import ESTIMATE_COLUMNS, VERDICT_COLUMNS, YEARLY_COLUMNS
from kiemnhiem.report.indicators import indicator_info
from kiemnhiem.report.text import (
    VERDICTS,
    chance_note,
    comparison_text,
    data_quality_notes,
    indicator_markdown,
    indicator_notes,
    interval_text,
    method_note_markdown,
    model_plain_text,
    start_description,
    summary_chance_text,
    verdict_label,
    verdict_symbol,
    verdict_text,
    year_ranges,
)

from .samples import (
    FULL_MODELS,
    INDICATORS,
    MODELS,
    all_results,
    pilot_results,
    quality_dataset,
)

# ---------------------------------------------------------------------------------------------
# Verdicts in words and shapes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_verdict_has_its_text(lang):
    for code in VERDICTS:
        assert verdict_text(code, lang) == label(f"eval_verdict_{code}", lang)
    assert verdict_text(None, lang) == label("eval_verdict_not_assessed", lang)


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


# ---------------------------------------------------------------------------------------------
# Numbers and sentences about one pilot
# ---------------------------------------------------------------------------------------------


def test_year_ranges():
    assert year_ranges("2015;2016;2017;2019") == "2015–2017, 2019"
    assert year_ranges([2020]) == "2020"
    assert year_ranges("") == "–"


def test_notes_follow_the_flags():
    row = pilot_results().iloc[0].copy()
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
    row = pilot_results().iloc[0].copy()
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
    row = pilot_results().iloc[0].copy()
    row["ci_low"], row["ci_high"] = -3.04, -0.51
    assert interval_text(row, info, "vi") == label(
        "report_interval", "vi", ci="90 %", low="−3,0", high="−0,5"
    )
    row["ci_low"] = -math.inf
    assert interval_text(row, info, "vi") == label("report_interval_unbounded", "vi", ci="90 %")


def test_indicator_markdown_has_heading_verdict_and_definition():
    row = pilot_results().iloc[0].copy()
    row["ci_low"], row["ci_high"] = -math.inf, math.inf
    row["p_better"], row["p_worse"] = 0.125, 1.0
    text = indicator_markdown(row, INDICATORS, "en")
    assert text.startswith("### Meetings\n")
    verdict = label("eval_verdict_improved", "en")
    assert f"**{label('report_verdict_label', 'en')}:** {verdict}." in text
    assert label("report_p_values", "en", p_better="0.125", p_worse="1.000") in text
    assert "Meetings in the year." in text


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


def test_summary_chance_text_counts_what_it_shows():
    text = summary_chance_text(all_results(), 0.10, "vi")
    # Six assessed rows; four of them improved, worsened or changed.
    assert text == (
        label("eval_note_chance", "vi", level="10 %", expected="0,6", n=6)
        + " "
        + label("summary_chance_observed", "vi", k=4, n=6)
    )


# ---------------------------------------------------------------------------------------------
# Data quality
# ---------------------------------------------------------------------------------------------


def test_data_quality_notes_name_missing_and_partial_years():
    results = pilot_results().iloc[[0, 3]].copy()
    results["pre_years_used"] = ["2015;2017", ""]
    results["post_years_used"] = ["2019;2020", ""]
    results["reason_code"] = ["improved", "no_data"]
    results["start_status"] = "documented"
    notes = data_quality_notes(quality_dataset(), results, "vi")
    assert notes == [
        label("report_dq_precision_month", "vi", date="08/2018", year=2018),
        label("report_dq_missing", "vi", indicator="Số cuộc họp", years="2016"),
        label("report_dq_partial", "vi", indicator="Số cuộc họp", years="2021"),
        label("report_dq_no_data", "vi", names="Xếp loại"),
    ]


def test_data_quality_notes_on_uncertain_starts():
    dataset = quality_dataset()
    dataset.pilots.loc[:, "start_status"] = "assumed"
    results = pilot_results().iloc[[0]].copy()
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
# The labels this layer uses
# ---------------------------------------------------------------------------------------------


_FAMILIES = [
    *(f"eval_verdict_{v}" for v in VERDICTS),
    *(f"report_status_{s}" for s in ("documented", "approximate", "assumed")),
    *(f"report_comparison_{c}" for c in ("never", "notyet", "none", "never_all", "notyet_all")),
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


@pytest.mark.parametrize(
    ("comparison", "vi"),
    [
        ("never", "7 đơn vị chưa từng thực hiện mô hình"),
        ("notyet", "7 đơn vị chưa thực hiện mô hình trong các năm so sánh"),
        ("never_all", "7 đơn vị chưa từng thực hiện mô hình, ở các tỉnh khác"),
        ("notyet_all", "7 đơn vị chưa thực hiện mô hình trong các năm so sánh, ở các tỉnh khác"),
    ],
)
def test_comparison_text_names_where_the_comparison_units_come_from(comparison, vi):
    text = comparison_text({"comparison": comparison, "n_comparison": 7}, "vi")
    assert text.startswith(vi)
    # A multi-province fallback says that the unit's own province had none left.
    assert ("trong tỉnh không có đơn vị so sánh" in text) == comparison.endswith("_all")


def test_comparison_text_before_after_only():
    assert comparison_text({"comparison": "none", "n_comparison": 0}, "en") == (
        "No comparison units; before and after only"
    )
