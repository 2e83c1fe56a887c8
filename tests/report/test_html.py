"""HTML fragments: what they say, that colour is never the only signal, that data is escaped."""

from __future__ import annotations

import html

import pandas as pd

from kiemnhiem.exceptions import ParameterError
from kiemnhiem.labels import label
from kiemnhiem.report.html import (
    banner_html,
    comments_html,
    event_study_caption_html,
    event_study_unavailable_html,
    heading_html,
    indicator_section_html,
    print_banner_html,
    provenance_html,
    verdict_boxes_html,
    verdict_legend_html,
    verdict_matrix_html,
)
from kiemnhiem.report.text import VERDICTS, verdict_symbol

from .samples import HOSTILE, INDICATORS, MODELS, all_results, detail_row, pilot_results


def test_banner():
    html = banner_html(True, "vi", name="<Demo & co>", classification="Tài liệu <nội bộ>")
    assert label("report_synthetic_title", "vi") in html
    assert "&lt;Demo &amp; co&gt;" in html
    assert "Tài liệu &lt;nội bộ&gt;" in html
    assert "<Demo" not in html
    assert banner_html(False, "vi") == ""


def test_print_banner_is_hidden_on_screen_and_escaped():
    html = print_banner_html(True, "vi", classification="Mật <b>")
    assert 'class="kn-print-banner"' in html and "display:none" in html
    assert "Mật &lt;b&gt;" in html and label("report_print_synthetic", "vi") in html
    assert print_banner_html(False, "vi") == ""


def test_heading_and_provenance_escape():
    assert heading_html(HOSTILE, 1) == "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"
    html = provenance_html(
        version="0.1", dataset_name=HOSTILE, content_hash="abc", parameters={"a": 1}, lang="vi"
    )
    assert HOSTILE not in html and "&lt;script&gt;" in html


def test_verdict_boxes_say_the_verdict_in_words_and_escape_the_reason():
    results = pilot_results()
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


def test_indicator_section_html_escapes_and_keeps_the_definition():
    row = detail_row(reason_vi=f"Lý do {HOSTILE}", mixed_models=True)
    html = indicator_section_html(row, INDICATORS, "vi")
    assert html.startswith("<h3>Số cuộc họp</h3>")
    assert "&lt;script&gt;" in html and HOSTILE not in html
    assert label("eval_note_mixed", "vi") in html
    assert "Số cuộc họp trong năm." in html


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


def test_verdict_matrix_html_is_readable_without_colour_and_escaped():
    html = verdict_matrix_html(all_results(), "vi", indicators=INDICATORS, models=MODELS)
    assert html.count("▲") == 2 and html.count("▼") == 1 and html.count("◆") == 1
    assert html.count("●") == 2 and html.count("○") == 2
    # Indicators outside the model: the rating and meetings for tuyengiao_ttct's two rows, the
    # share for danvan_mttq's three.
    assert html.count(">·<") == 7
    assert label("summary_pooled_row", "vi") in html
    assert "Huyện &lt;script&gt;" in html and HOSTILE not in html
    assert 'title="' + label("eval_verdict_worsened", "vi") + ': Lý do."' in html
    assert "overflow-x:auto" in html


def test_legend_leaves_unused_shapes_out_of_print_only():
    # Two verdicts used: their lines print; the other len(VERDICTS) - 2 lines are print-hidden,
    # still in the page for the screen.
    used = ["improved", "no_clear_change"]
    html = verdict_legend_html("vi", used=used + ["improved"])
    assert html.count("<li") == len(VERDICTS)
    assert html.count('<li class="kn-print-hide"') == len(VERDICTS) - 2
    for code in VERDICTS:
        line = html.split(f'kn-v-{code}"')[0].rsplit("<li", 1)[1]
        assert ("kn-print-hide" in line) == (code not in used), code
    assert "kn-print-hide" not in verdict_legend_html("vi")
