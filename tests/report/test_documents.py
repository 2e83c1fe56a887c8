"""Word and PDF documents: built for a demo pilot and the province summary, then read back.

The documents are saved to bytes and reopened with python-docx, so the checks see what a
reader's word processor sees. Expected values come from the evaluation frames and the label
catalog, or from the layout rules of Decree 30/2020/NĐ-CP written out by hand. The layout checks
(title block, page set-up, fonts, header and footer, issuer and classification) test
:mod:`kiemnhiem.report.docx_layout` through the built documents; the rest test the content
(:mod:`kiemnhiem.report.documents`).

PDF checks need LibreOffice and poppler-utils. Without them the tests skip, except under
``CI=true``, where the lead's CI installs them and a missing program is a failure. LibreOffice
starts slowly, so there is one conversion per language: the Vietnamese pilot report and the
English province summary.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import unicodedata
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm
from docx.table import Table
from docx.text.paragraph import Paragraph

from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.exceptions import ParameterError, RunError
from kiemnhiem.labels import label
from kiemnhiem.report.documents import (
    FONT,
    build_pilot_docx,
    build_summary_docx,
    convert_to_pdf,
    write_docx,
)
from kiemnhiem.report.indicators import indicator_info, model_label
from kiemnhiem.report.text import chance_text, verdict_text
from kiemnhiem.stats.evaluation import chance_verdicts, evaluate_all

UNIT, UNIT_CODE, MODEL = "Phù Yên", "122", "tuyengiao_ttct"
LEVEL = 0.10
CLASSIFICATION = "Tài liệu nội bộ"
LANGS = ("vi", "en")
ISSUED = {"vi": date(2026, 2, 6), "en": date(2026, 11, 26)}
# Decree 30: place, then "ngày ... tháng ... năm ...", with a leading zero for days below 10
# and for months below 3.
DATE_LINE = {"vi": "Sơn La, ngày 06 tháng 02 năm 2026", "en": "Sơn La, 26 November 2026"}
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
REPORT = {"vi": "BÁO CÁO", "en": "REPORT"}
# Decree 30 ranges, in millimetres: top and bottom 20-25, left 30-35, right 15-20.
MARGINS = {"top": (20, 25), "bottom": (20, 25), "left": (30, 35), "right": (15, 20)}
A4 = (Mm(210), Mm(297))
TWIP = 635  # EMU in a twentieth of a point: Word stores lengths in twips
FONT_ATTRS = ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs")
IN_CI = os.environ.get("CI") == "true"
STATE = {"kind": "state"}


# ------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def ds():
    return load_dataset(None)


@pytest.fixture(scope="module")
def results(ds):
    return evaluate_all(ds, level=LEVEL)


@pytest.fixture(scope="module")
def pilot_rows(results):
    rows = results[
        (results["scope"] == "pilot")
        & (results["model"] == MODEL)
        & (results["unit_code"] == UNIT_CODE)
    ]
    assert len(rows) > 1
    return rows.reset_index(drop=True)


def _saved(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def built(ds, results):
    """``built(kind, lang)``: the saved bytes of a document, each built once per module.

    The Vietnamese pilot report computes its own results and carries a classification line;
    the English one presents the whole ``evaluate_all`` frame, without classification. These
    are State documents (Decree 30); the Party's are built by ``party_state`` below.
    """
    cache: dict[tuple[str, str], bytes] = {}

    def get(kind: str, lang: str) -> bytes:
        if (kind, lang) not in cache:
            if kind == "summary":
                document = build_summary_docx(
                    ds, lang, results=results, issued=ISSUED[lang], settings=STATE
                )
            elif lang == "vi":
                document = build_pilot_docx(
                    ds,
                    UNIT,
                    MODEL,
                    lang,
                    classification=CLASSIFICATION,
                    issued=ISSUED[lang],
                    settings=STATE,
                )
            else:
                document = build_pilot_docx(
                    ds, UNIT_CODE, MODEL, lang, results=results, issued=ISSUED[lang], settings=STATE
                )
            cache[(kind, lang)] = _saved(document)
        return cache[(kind, lang)]

    return get


@pytest.fixture(params=LANGS)
def pilot(request, built):
    return request.param, built("pilot", request.param)


@pytest.fixture(params=LANGS)
def summary(request, built):
    return request.param, built("summary", request.param)


def _open(data: bytes):
    return Document(io.BytesIO(data))


# ------------------------------------------------------------------------------- helpers
def _paragraphs(doc, style: str) -> list[str]:
    return [p.text for p in doc.paragraphs if p.style.name == style]


def _rows(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def _tables(doc, header: str, column: int = 0) -> list[Table]:
    return [t for t in doc.tables if len(t.rows) and _rows(t)[0][column] == header]


def _part_text(part) -> str:
    return "\n".join(p.text for p in part.paragraphs)


def _squash(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _indicator_names(ds, rows: pd.DataFrame, lang: str) -> list[str]:
    return [indicator_info(ds.indicators, code, lang).label for code in rows["indicator"]]


# ------------------------------------------------------------------------------- pilot report
def test_pilot_headings_follow_the_report(pilot, ds, pilot_rows):
    lang, data = pilot
    doc = _open(data)
    # The HTML report's first page first (issue 12/13): the answers per indicator, «Đánh giá
    # chung», «Đề xuất, kiến nghị»; then the tables, the charts and how to read the report.
    sections = [
        "conc_answers_heading",
        "conc_assessment_heading",
        "conc_recommendations_heading",
        "report_summary_heading",
        "report_indicators_heading",
        "report_figures_heading",
        "report_method_heading",
    ]
    numerals = ["I", "II", "III", "IV", "V", "VI", "VII"]
    assert _paragraphs(doc, "Heading 1") == [
        f"{n}. {label(key, lang).upper()}" for n, key in zip(numerals, sections)
    ]
    names = _indicator_names(ds, pilot_rows, lang)
    assert _paragraphs(doc, "Heading 2") == [f"{i}. {n}" for i, n in enumerate(names, 1)]
    texts = [p.text for p in doc.paragraphs]
    title = texts.index(REPORT[lang])
    unit_name = pilot_rows["unit_name"].iloc[0]
    assert texts[title + 1] == label("doc_pilot_subject", lang, unit=unit_name)
    assert all(r.bold for r in doc.paragraphs[title].runs)


def test_pilot_verdict_table_matches_the_evaluation(pilot, ds, pilot_rows):
    lang, data = pilot
    doc = _open(data)
    verdict_header = label("report_col_verdict", lang)
    tables = [t for t in doc.tables if len(t.rows) and _rows(t)[0][-1] == verdict_header]
    assert len(tables) == 1
    body = _rows(tables[0])[1:]
    assert [r[0] for r in body] == _indicator_names(ds, pilot_rows, lang)
    assert [r[-1] for r in body] == [verdict_text(v, lang) for v in pilot_rows["verdict"]]
    # Each indicator's section states the same verdict.
    verdict_lines = [
        p.text
        for p in doc.paragraphs
        if p.text.startswith(label("report_verdict_label", lang) + ":")
    ]
    # Twice per indicator: its answer on the first page («Kết luận: <verdict>: why»), then
    # its own section («Kết luận: <verdict>. ...»), in the same order.
    n = len(pilot_rows)
    assert len(verdict_lines) == 2 * n
    head = label("report_verdict_label", lang)
    for first, section, verdict in zip(verdict_lines[:n], verdict_lines[n:], pilot_rows["verdict"]):
        lead = f"{head}: {verdict_text(verdict, lang)}"
        assert first.startswith(lead) and first[len(lead)] in ":,"  # then why, in words
        assert section.startswith(f"{head}: {verdict_text(verdict, lang)}.")


def test_pilot_figures_and_captions(pilot, pilot_rows):
    lang, data = pilot
    doc = _open(data)
    n = len(pilot_rows)
    assert len(doc.inline_shapes) == 2 * n  # a series and a before/after chart each
    captions = _paragraphs(doc, "Caption")
    table_word = label("doc_table_number", lang, n=0).split()[0]  # "Bảng" / "Table"
    figure_word = label("doc_figure_number", lang, n=0).split()[0]  # "Hình" / "Figure"
    tables = [c for c in captions if c.startswith(table_word + " ")]
    figures = [c for c in captions if c.startswith(figure_word + " ")]
    assert [c.split(".")[0] for c in tables] == [f"{table_word} {i}" for i in (1, 2)]
    assert [c.split(".")[0] for c in figures] == [f"{figure_word} {i}" for i in range(1, 2 * n + 1)]


def test_pilot_title_block(pilot):
    lang, data = pilot
    doc = _open(data)
    issuer, right = doc.tables[0].rows[0].cells
    lines = [p.text.strip() for p in issuer.paragraphs if p.text.strip()]
    # Without a number, Decree 30's "Số:" waits for the records clerk's.
    assert lines[-1] == ("Số:" if lang == "vi" else "No.")
    lines = lines[:-1]
    if lang == "vi":
        assert lines == ["TỈNH ỦY SƠN LA", "BAN TỔ CHỨC"]
        # The governing body in regular type, the issuing body in bold.
        bold = [all(r.bold for r in p.runs) for p in issuer.paragraphs if p.text][:2]
        assert bold == [False, True]
        assert [p.text for p in right.paragraphs if p.text] == [*MOTTO, DATE_LINE[lang]]
    else:
        assert lines == ["Sơn La Provincial Party Committee", "Organization Commission"]
        assert [p.text for p in right.paragraphs if p.text] == [DATE_LINE[lang]]
    date_runs = [r for p in right.paragraphs if p.text == DATE_LINE[lang] for r in p.runs]
    assert date_runs and all(r.italic for r in date_runs)


# ------------------------------------------------------------------------------- both documents
@pytest.fixture(
    params=[(k, lang) for k in ("pilot", "summary") for lang in LANGS], ids=lambda p: "-".join(p)
)
def document(request, built):
    kind, lang = request.param
    return kind, lang, _open(built(kind, lang))


def test_page_setup_is_a4_with_decree_30_margins(document):
    _, _, doc = document
    for section in doc.sections:
        assert abs(section.page_width - A4[0]) <= TWIP
        assert abs(section.page_height - A4[1]) <= TWIP
        for side, (low, high) in MARGINS.items():
            value = getattr(section, f"{side}_margin")
            assert Mm(low) - TWIP <= value <= Mm(high) + TWIP, side


def test_fonts_are_times_new_roman_for_every_script(document):
    _, lang, doc = document
    for name in ("Normal", "Body Text", "Heading 1", "Heading 2", "Caption"):
        style = doc.styles[name]
        assert style.font.name == FONT, name
        fonts = style.element.rPr.find(qn("w:rFonts"))
        assert [fonts.get(qn(a)) for a in FONT_ATTRS] == [FONT] * 4, name
    assert doc.styles["Normal"].font.size.pt in (13, 14)
    defaults = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault"))
    fonts = defaults.find(qn("w:rPr")).find(qn("w:rFonts"))
    assert [fonts.get(qn(a)) for a in FONT_ATTRS] == [FONT] * 4
    # A theme font would win over the named font in Word.
    for element in doc.styles.element.iter(qn("w:rFonts")):
        assert not [k for k in element.attrib if k.lower().endswith("theme")]
    tag = doc.styles.element.find(qn("w:docDefaults")).find(".//" + qn("w:lang"))
    assert tag.get(qn("w:val")) == {"vi": "vi-VN", "en": "en-GB"}[lang]


def test_every_page_carries_the_notice_and_the_page_number(document):
    kind, lang, doc = document
    section = doc.sections[0]
    notice = label("report_synthetic_title", lang)
    for header in (section.first_page_header, section.header):
        assert notice in _part_text(header)
    classified = kind == "pilot" and lang == "vi"
    for header in (section.first_page_header, section.header):
        assert (CLASSIFICATION in _part_text(header)) is classified
    # Decree 30: numbers from page 2, centred in the top margin.
    assert section.different_first_page_header_footer
    assert "PAGE" in "".join(t.text for t in section.header._element.iter(qn("w:instrText")))
    assert not list(section.first_page_header._element.iter(qn("w:instrText")))


# ------------------------------------------------------------------------------- summary
def _by_model(doc, ds, results) -> dict[str, list[Table]]:
    """The tables under each model's heading, in document order."""
    names = {model_label(ds.models, m, "vi"): m for m in results["model"].unique()}
    names |= {model_label(ds.models, m, "en"): m for m in results["model"].unique()}
    out: dict[str, list[Table]] = {}
    current = None
    for block in doc.iter_inner_content():
        if isinstance(block, Paragraph) and block.style.name == "Heading 2":
            current = names[block.text.split(". ", 1)[1]]
            out[current] = []
        elif isinstance(block, Table) and current is not None:
            out[current].append(block)
    return out


def test_summary_verdict_matrix_holds_every_pilot_and_indicator(summary, ds, results):
    lang, data = summary
    doc = _open(data)
    tables = _by_model(doc, ds, results)
    assert list(tables) == list(dict.fromkeys(results["model"]))
    unit_header = label("report_summary_unit", lang)
    for model, found in tables.items():
        rows = results[(results["scope"] == "pilot") & (results["model"] == model)]
        expected = {
            (r.unit_name, indicator_info(ds.indicators, r.indicator, lang).label): verdict_text(
                r.verdict, lang
            )
            for r in rows.itertuples()
        }
        shown = {}
        for table in (t for t in found if _rows(t)[0][0] == unit_header):
            header, *body = _rows(table)
            for line in body:
                for name, cell in zip(header[1:], line[1:]):
                    shown[(line[0], name.removesuffix(" †"))] = cell
        assert shown == expected, model


def test_summary_pooled_effects_with_p_values(summary, ds, results):
    lang, data = summary
    doc = _open(data)
    p_header = label("doc_col_p", lang)
    for model, found in _by_model(doc, ds, results).items():
        pooled = results[(results["scope"] == "model") & (results["model"] == model)]
        tables = [t for t in found if p_header in _rows(t)[0]]
        assert len(tables) == 1
        header, *body = _rows(tables[0])
        col = header.index(p_header)
        assert [r[0].removesuffix(" †") for r in body] == _indicator_names(ds, pooled, lang)
        assert [r[-1] for r in body] == [verdict_text(v, lang) for v in pooled["verdict"]]
        for line, p in zip(body, pooled["p_two"]):
            text = line[col].rstrip("*").replace(",", ".") if lang == "vi" else line[col]
            text = text.rstrip("*")
            if text.startswith("<"):
                assert p < 0.001
            else:
                assert abs(float(text) - p) <= 0.0005


def test_summary_reminds_of_chance(summary, results):
    lang, data = summary
    doc = _open(data)
    text = "\n".join(p.text for p in doc.paragraphs)
    for model in results["model"].unique():
        for scope in ("pilot", "model"):
            rows = results[(results["scope"] == scope) & (results["model"] == model)]
            # District rows count at level / 2 each (chance_verdicts), model tests at level.
            n_tests, expected = chance_verdicts(rows, LEVEL)
            reminder = chance_text(n_tests, LEVEL, lang, expected)
            assert (reminder in text) is (n_tests > 0), (model, scope)


def test_summary_counts_every_verdict(summary, ds, results):
    lang, data = summary
    doc = _open(data)
    table = _tables(doc, label("doc_counts_verdict_col", lang))[0]
    header, pilots_row, *body = _rows(table)
    models = list(dict.fromkeys(results["model"]))
    assert header[1:] == [model_label(ds.models, m, lang) for m in models]
    assert pilots_row[0] == label("doc_counts_pilots_row", lang)
    for j, model in enumerate(models, start=1):
        rows = results[(results["scope"] == "pilot") & (results["model"] == model)]
        assert int(pilots_row[j]) == rows["unit_code"].nunique()
        cells = [line[j] for line in body]
        assert sum(int(c) for c in cells if c != "–") == len(rows)
        for line in body:
            count = sum(verdict_text(v, lang) == line[0] for v in rows["verdict"])
            if line[j] == "–":  # a dash only where the model has none of that verdict
                assert count == 0
            else:
                assert int(line[j]) == count
    # Only verdicts that occur; no verdict row without a count somewhere.
    assert all(any(c not in ("0", "–") for c in line[1:]) for line in body)


def test_summary_shows_no_count_that_cannot_be_non_zero(ds, results):
    """A model without a single before/after pilot cannot have a before/after verdict: a dash,
    never a 0, and the note says why (the summary's first table once read "Cải thiện 0")."""
    from kiemnhiem.report.documents import _counts_frame

    pilots = results[results["scope"] == "pilot"]
    pooled = results[results["scope"] == "model"]
    models = list(dict.fromkeys(pilots["model"]))
    frame, dashed = _counts_frame(pilots, pooled, models, ds.models, "vi")
    by_verdict = {row[0]: row[1:] for row in frame.itertuples(index=False)}
    # danvan_mttq's pilots all have comparison districts (demo: tuyengiao_ttct spread to all).
    danvan = models.index("danvan_mttq")
    assert set(pilots.loc[pilots["model"] == "danvan_mttq", "comparison"]) != {"none"}
    for code in ("in_line_before_after", "no_clear_change_before_after", "before_after_only"):
        name = verdict_text(code, "vi")
        if name in by_verdict:
            assert by_verdict[name][danvan] == "–"
    assert dashed


def test_real_data_classification_and_issuer(ds, results):
    real = dataclasses.replace(ds, synthetic=False)
    document = build_summary_docx(
        real,
        "vi",
        results=results,
        classification="Mật",
        issuer="UBND tỉnh Sơn La\nSở Nội vụ",
        issued=date(2026, 1, 2),
    )
    doc = _open(_saved(document))
    section = doc.sections[0]
    notice = label("report_synthetic_title", "vi")
    parts = (section.footer, section.first_page_footer, section.header, section.first_page_header)
    assert all(notice not in _part_text(f) for f in parts)
    assert notice not in "\n".join(p.text for p in doc.paragraphs)
    assert all("Mật" in _part_text(h) for h in (section.header, section.first_page_header))
    issuer, right = doc.tables[0].rows[0].cells
    lines = [p.text for p in issuer.paragraphs if p.text.strip()]
    assert lines[:2] == ["UBND TỈNH SƠN LA", "SỞ NỘI VỤ"]
    assert "Sơn La, ngày 02 tháng 01 năm 2026" in [p.text for p in right.paragraphs]


def test_results_must_match_the_request(ds, results):
    with pytest.raises(ParameterError):
        build_pilot_docx(ds, UNIT, MODEL, results=results, level=0.05)
    others = results[results["unit_code"] != UNIT_CODE]
    with pytest.raises(ParameterError) as err:
        build_pilot_docx(ds, UNIT, MODEL, results=others)
    assert err.value.message_vi != err.value.message_en
    with pytest.raises(ParameterError):
        build_summary_docx(ds, results=results, level=0.05)


# ------------------------------------------------------------------------------- files
def test_write_docx_is_atomic(tmp_path):
    path = tmp_path / "report.docx"
    first = Document()
    first.add_paragraph("một")
    assert write_docx(first, path) == path
    before = path.read_bytes()
    reference = tmp_path / "plain.txt"
    reference.write_text("x")
    # An ordinary file's permissions, not a temporary file's owner-only ones.
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)

    class Broken:
        def save(self, fh):
            fh.write(b"half a document")
            raise OSError("disk full")

    with pytest.raises(OSError):
        write_docx(Broken(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.txt", "report.docx"]


def test_convert_without_libreoffice_names_the_program(tmp_path, monkeypatch):
    monkeypatch.setattr("kiemnhiem.report.documents.shutil.which", lambda name: None)
    with pytest.raises(RunError) as err:
        convert_to_pdf(tmp_path / "a.docx", tmp_path / "a.pdf")
    assert "soffice" in err.value.message_vi and "soffice" in err.value.message_en
    assert err.value.message_vi != err.value.message_en


@pytest.mark.skipif(sys.platform == "win32", reason="fake soffice is a shell script")
@pytest.mark.parametrize(
    "script, timeout",
    [
        ("exit 3", 30),
        (f"exec '{sys.executable}' -c 'import time; time.sleep(60)'", 1),
    ],
)
def test_convert_failure_and_timeout(tmp_path, monkeypatch, script, timeout):
    fake = tmp_path / "bin" / "soffice"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    source = tmp_path / "a.docx"
    write_docx(Document(), source)
    started = time.monotonic()
    with pytest.raises(RunError) as err:
        convert_to_pdf(source, tmp_path / "a.pdf", timeout=timeout)
    assert time.monotonic() - started < 20
    assert "a.docx" in err.value.message_en
    if timeout == 1:
        assert "1 seconds" in err.value.message_en
    else:
        assert "exit code 3" in err.value.message_en
    assert not (tmp_path / "a.pdf").exists()


# ------------------------------------------------------------------------------- PDF
def _need_programs() -> None:
    """Skip without LibreOffice or poppler-utils; fail instead in CI, which installs them."""
    missing = [p for p in ("pdfinfo", "pdftotext", "pdffonts") if shutil.which(p) is None]
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        missing.insert(0, "soffice")
    if missing:
        reason = (
            f"not on PATH: {', '.join(missing)} "
            "(apt: libreoffice-writer-nogui, fonts-liberation2, poppler-utils)"
        )
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module", params=LANGS)
def pdf(request, tmp_path_factory, built):
    """(lang, kind, docx bytes, page texts, pdfinfo, pdffonts): Vietnamese converts the pilot
    report, English the summary."""
    _need_programs()
    lang = request.param
    kind = "pilot" if lang == "vi" else "summary"
    data = built(kind, lang)
    folder = tmp_path_factory.mktemp(f"pdf-{lang}")
    source, target = folder / f"{kind}.docx", folder / f"{kind}.pdf"
    source.write_bytes(data)
    started = time.monotonic()
    assert convert_to_pdf(source, target) == target
    print(f"\nLibreOffice: {kind} ({lang}) in {time.monotonic() - started:.1f} s")
    text = subprocess.run(
        ["pdftotext", str(target), "-"], capture_output=True, check=True, text=True
    ).stdout
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]
    info = subprocess.run(
        ["pdfinfo", str(target)], capture_output=True, check=True, text=True
    ).stdout
    fonts = subprocess.run(
        ["pdffonts", str(target)], capture_output=True, check=True, text=True
    ).stdout
    assert not list(folder.glob(".*.tmp"))
    return lang, kind, data, pages, info, fonts


def test_pdf_pages(pdf, pilot_rows, results):
    lang, kind, _, pages, info, _ = pdf
    n_pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert n_pages == len(pages)
    assert "(A4)" in re.search(r"^Page size:.*$", info, re.M).group(0)
    if kind == "pilot":
        # Two charts per indicator, at most about two indicators a page, plus three pages of
        # tables and method; at least half a page per indicator.
        n = len(pilot_rows)
        assert n // 2 + 2 <= n_pages <= 2 * n + 4
    else:
        n_models = results["model"].nunique()
        assert 2 <= n_pages <= 4 + 3 * n_models


def test_pdf_text_has_verdicts_and_notice_on_every_page(pdf, pilot_rows, results):
    lang, kind, _, pages, _, _ = pdf
    notice = _squash(label("report_synthetic_title", lang))
    for i, page in enumerate(pages, 1):
        assert notice in _squash(page), f"page {i}"
        if kind == "pilot" and lang == "vi":
            assert CLASSIFICATION.casefold() in _squash(page).casefold(), f"page {i}"
    text = _squash("\n".join(pages))
    verdicts = pilot_rows["verdict"] if kind == "pilot" else results["verdict"]
    for verdict in set(verdicts):
        assert _squash(verdict_text(verdict, lang)) in text


def test_pdf_uses_times_new_roman_or_its_metric_clone(pdf):
    *_, fonts = pdf
    names = [line.split()[0] for line in fonts.splitlines()[2:] if line.strip()]
    assert names
    # A fallback font (DejaVu) would mean Liberation Serif lacks Vietnamese letters: install
    # fonts-liberation2 (fonts-liberation 1.07 has no Vietnamese).
    assert all(re.search(r"LiberationSerif|TimesNewRoman", n) for n in names), names


# ------------------------------------------------------------------------------- Party and State
# One Party and one State document of each kind, with every setting given, read back with
# python-docx and (one LibreOffice process for the four) through their PDF text. Expected values
# come from the rules, written out here by hand:
# - Hướng dẫn 36-HD/VPTW (2018) of the Party Central Office ("HD 36"), Phụ lục 3: title
#   "ĐẢNG CỘNG SẢN VIỆT NAM" upper case 15 pt bold, top right, a line under it; superior body
#   upper case 14 pt regular, issuing body upper case 14 pt bold, an asterisk under them, top
#   left; "Số 15-BC/BTCTU" 14 pt regular; place and date 14 pt italic; type upper case 15-16
#   pt bold; subject 14-15 pt bold; body 14-15 pt; signing authority upper case 14 pt bold,
#   title upper case 14 pt, name 14 pt bold; "Nơi nhận:" 14 pt underlined, recipients 12 pt.
# - Decree 30/2020/NĐ-CP, Phụ lục I ("ND 30"): national name upper case 12-13 pt bold, motto
#   13-14 pt bold, top right; superior body upper case 12-13 pt, issuing body 12-13 pt bold,
#   top left; "Số: 15/BC-SNV" 13 pt; place and date 13-14 pt italic; type 13-14 pt bold;
#   subject 13-14 pt bold; body 13-14 pt; authority and title upper case 13-14 pt bold, name
#   13-14 pt bold; "Nơi nhận:" 12 pt bold italic, recipients 11 pt.
# Both: A4, margins top and bottom 20-25 mm, left 30-35 mm, right 15-20 mm; Times New Roman.
ISSUED_ON = date(2026, 2, 6)
SETTINGS = {
    "party": {
        "kind": "party",
        "superior_body": "Tỉnh ủy Sơn La",
        "issuing_body": "Ban Tổ chức",
        "number": "15-BC/BTCTU",
        "place": "Sơn La",
        "issued": ISSUED_ON,
        "signer_authority": "K/T Trưởng ban",
        "signer_title": "Phó Trưởng ban",
        "signer_name": "Nguyễn Văn An",
        "recipients": ("Ban Thường vụ Tỉnh ủy (b/c)", "Các huyện ủy, thành ủy", "Lưu Văn phòng"),
    },
    "state": {
        "kind": "state",
        "superior_body": "Ủy ban nhân dân tỉnh Sơn La",
        "issuing_body": "Sở Nội vụ",
        "number": "15/BC-SNV",
        "place": "Sơn La",
        "issued": ISSUED_ON,
        "signer_authority": "KT. Giám đốc",
        "signer_title": "Phó Giám đốc",
        "signer_name": "Lò Văn Bình",
        "recipients": ("Ủy ban nhân dân tỉnh (b/c)", "Lưu: VT, TCCB"),
    },
}
# (text, size range in pt, bold, italic) per element, from the rules above.
EXPECTED = {
    "party": {
        "head": ("ĐẢNG CỘNG SẢN VIỆT NAM", (15, 15), True, False),
        "superior": ("TỈNH ỦY SƠN LA", (14, 14), False, False),
        "issuer": ("BAN TỔ CHỨC", (14, 14), True, False),
        "number": ("Số 15-BC/BTCTU", (14, 14), False, False),
        "date": ("Sơn La, ngày 06 tháng 02 năm 2026", (14, 14), False, True),
        "type": ("BÁO CÁO", (15, 16), True, False),
        "subject": (None, (14, 15), True, False),
        "body": (14, 15),
        "authority": ("K/T TRƯỞNG BAN", (14, 14), True, False),
        "title": ("PHÓ TRƯỞNG BAN", (14, 14), None, False),
        "name": ("Nguyễn Văn An", (14, 14), True, False),
        "recipients_head": ("Nơi nhận:", (14, 14), None, False),
        "recipients": (
            ["- Ban Thường vụ Tỉnh ủy (b/c),", "- Các huyện ủy, thành ủy,", "- Lưu Văn phòng."],
            (12, 12),
        ),
    },
    "state": {
        "head": ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", (12, 13), True, False),
        "motto": ("Độc lập - Tự do - Hạnh phúc", (13, 14), True, False),
        "superior": ("ỦY BAN NHÂN DÂN TỈNH SƠN LA", (12, 13), False, False),
        "issuer": ("SỞ NỘI VỤ", (12, 13), True, False),
        "number": ("Số: 15/BC-SNV", (13, 13), False, False),
        "date": ("Sơn La, ngày 06 tháng 02 năm 2026", (13, 14), False, True),
        "type": ("BÁO CÁO", (13, 14), True, False),
        "subject": (None, (13, 14), True, False),
        "body": (13, 14),
        "authority": ("KT. GIÁM ĐỐC", (13, 14), True, False),
        "title": ("PHÓ GIÁM ĐỐC", (13, 14), True, False),
        "name": ("Lò Văn Bình", (13, 14), True, False),
        "recipients_head": ("Nơi nhận:", (12, 12), True, True),
        "recipients": (["- Ủy ban nhân dân tỉnh (b/c);", "- Lưu: VT, TCCB."], (11, 11)),
    },
}
COMMENT = "Đề nghị tiếp tục theo dõi số lớp bồi dưỡng năm 2025."
KINDS = ("party", "state")


def _png(shade: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (shade, 80, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def notebook_figures(pilot_rows):
    """What the pilot notebook hands the runner: a series and an event study per indicator."""
    figures = {}
    for i, code in enumerate(pilot_rows["indicator"]):
        figures[f"{code}-series.png"] = _png(i)
        figures[f"{code}-event-study.png"] = _png(100 + i)
    return figures


@pytest.fixture(scope="module")
def issued_docs(ds, results, notebook_figures):
    """``{(kind of issuer, pilot|summary): saved bytes}``: the dataset carries an analyst's
    comment on the pilot; the pilot reuses the notebook's figures."""
    comments = pd.DataFrame(
        [{"unit_code": UNIT_CODE, "model": MODEL, "comment": COMMENT, "author": "", "date": ""}]
    )
    commented = dataclasses.replace(ds, comments=comments)
    out = {}
    for issuer in KINDS:
        settings = SETTINGS[issuer]
        out[(issuer, "pilot")] = _saved(
            build_pilot_docx(
                commented,
                UNIT_CODE,
                MODEL,
                "vi",
                results=results,
                settings=settings,
                figures=notebook_figures,
            )
        )
        out[(issuer, "summary")] = _saved(
            build_summary_docx(commented, "vi", results=results, settings=settings)
        )
    return out


@pytest.fixture(params=[(i, k) for i in KINDS for k in ("pilot", "summary")], ids="-".join)
def issued(request, issued_docs):
    issuer, kind = request.param
    return issuer, kind, _open(issued_docs[(issuer, kind)])


def _size(run, paragraph) -> float:
    if run.font.size is not None:
        return run.font.size.pt
    style = paragraph.style
    while style is not None and style.font.size is None:
        style = style.base_style
    return style.font.size.pt


def _styled(paragraph) -> list[tuple[str, float, bool, bool, bool]]:
    """(text, size, bold, italic, underline) of each run with text."""
    return [
        (r.text, _size(r, paragraph), bool(r.bold), bool(r.italic), bool(r.underline))
        for r in paragraph.runs
        if r.text.strip()
    ]


def _check(paragraph, expected, what) -> None:
    text, (low, high), bold, italic = expected
    runs = _styled(paragraph)
    assert runs, what
    if text is not None:
        assert paragraph.text.strip() == text, what
    for _, size, is_bold, is_italic, _u in runs:
        assert low <= size <= high, (what, size)
        if bold is not None:
            assert is_bold is bold, what
        assert is_italic is italic, what


def _find(cell_or_doc, text) -> Paragraph:
    hits = [p for p in cell_or_doc.paragraphs if p.text.strip() == text]
    assert hits, text
    return hits[0]


def test_issued_page_setup_and_fonts(issued):
    issuer, _, doc = issued
    section = doc.sections[0]
    assert abs(section.page_width - A4[0]) <= TWIP and abs(section.page_height - A4[1]) <= TWIP
    for side, (low, high) in MARGINS.items():
        assert Mm(low) - TWIP <= getattr(section, f"{side}_margin") <= Mm(high) + TWIP, side
    low, high = EXPECTED[issuer]["body"]
    for name in ("Normal", "Body Text", "Heading 1", "Heading 2"):
        style = doc.styles[name]
        assert style.font.name == FONT
        fonts = style.element.rPr.find(qn("w:rFonts"))
        assert [fonts.get(qn(a)) for a in FONT_ATTRS] == [FONT] * 4, name
        assert low <= style.font.size.pt <= high, name
    assert doc.styles["Body Text"].paragraph_format.alignment == 3  # justified


def test_issued_header_table_positions_and_styles(issued):
    issuer, _, doc = issued
    expected = EXPECTED[issuer]
    table = doc.tables[0]
    assert len(table.rows) == 1 and len(table.columns) == 2
    left, right = table.rows[0].cells
    # The issuer block top left, the title (Party) or national name (State) top right, the
    # two columns filling the text width (A4 less the margins).
    section = doc.sections[0]
    width = section.page_width - section.left_margin - section.right_margin
    assert abs(left.width + right.width - width) <= Mm(1)
    lines = [p.text.strip() for p in left.paragraphs if p.text.strip()]
    if issuer == "party":
        # HD 36: superior body, issuing body, the asterisk, then the number.
        assert lines == [expected["superior"][0], expected["issuer"][0], "*", expected["number"][0]]
    else:
        assert lines == [expected["superior"][0], expected["issuer"][0], expected["number"][0]]
    for key in ("superior", "issuer", "number"):
        paragraph = _find(left, expected[key][0])
        assert paragraph.paragraph_format.alignment == 1  # centred in its column
        _check(paragraph, expected[key], key)
    head = right.paragraphs[0]
    _check(head, expected["head"], "head")
    if issuer == "party":
        # A solid line under the title (its paragraph's bottom border).
        border = head._p.pPr.find(qn("w:pBdr"))
        assert border is not None and border.find(qn("w:bottom")).get(qn("w:val")) == "single"
    else:
        _check(_find(right, expected["motto"][0]), expected["motto"], "motto")
    _check(_find(right, expected["date"][0]), expected["date"], "date")
    # Type and subject follow, centred.
    texts = [p.text for p in doc.paragraphs]
    at = texts.index(expected["type"][0])
    for paragraph, key in ((doc.paragraphs[at], "type"), (doc.paragraphs[at + 1], "subject")):
        assert paragraph.paragraph_format.alignment == 1
        _check(paragraph, expected[key], key)
    if issuer == "party":
        assert doc.paragraphs[at + 2].text == "-----"


def test_issued_recipients_and_signature_close_the_document(issued):
    issuer, _, doc = issued
    expected = EXPECTED[issuer]
    body = list(doc.iter_inner_content())
    closing = doc.tables[-1]
    # The last block of the document: after every heading and paragraph of the body.
    assert body[-1]._element is closing._element or body[-2]._element is closing._element
    left, right = closing.rows[0].cells
    head = left.paragraphs[0]
    _check(head, expected["recipients_head"], "recipients_head")
    run = [r for r in head.runs if r.text.strip()][0]
    assert bool(run.underline) is (issuer == "party")  # HD 36: underlined; ND 30: not
    lines, (low, high) = expected["recipients"]
    items = [p for p in left.paragraphs[1:] if p.text.strip()]
    assert [p.text for p in items] == lines
    assert all(low <= s <= high for p in items for _, s, *_ in _styled(p))
    shown = [p for p in right.paragraphs if p.text.strip()]
    assert [p.text for p in shown] == [expected[k][0] for k in ("authority", "title", "name")]
    for paragraph, key in zip(shown, ("authority", "title", "name")):
        assert paragraph.paragraph_format.alignment == 1
        _check(paragraph, expected[key], key)
    # Room for the signature and seal between the title and the name.
    blank = [p for p in right.paragraphs if not p.text.strip()]
    assert len(blank) >= 3


def test_issued_body_has_no_software_line_and_properties_hold_it(issued, ds):
    issuer, kind, doc = issued
    from kiemnhiem import __version__

    texts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        texts += [c.text for row in table.rows for c in row.cells]
    joined = "\n".join(texts)
    assert "kiemnhiem" not in joined.lower()
    assert ds.content_hash[:12] not in joined
    props = doc.core_properties
    assert f"kiemnhiem {__version__}" in props.comments
    assert ds.content_hash[:12] in props.comments
    assert "level=0.1" in props.keywords and "kiemnhiem" in props.keywords
    assert props.identifier == SETTINGS[issuer]["number"]
    assert props.author.startswith(EXPECTED[issuer]["superior"][0])
    # The synthetic notice stays on every page, in the header.
    notice = label("report_synthetic_title", "vi")
    section = doc.sections[0]
    for header in (section.first_page_header, section.header):
        assert notice in _part_text(header)


def test_issued_pilot_carries_comments_and_notebook_figures(issued_docs, notebook_figures):
    for issuer in KINDS:
        doc = _open(issued_docs[(issuer, "pilot")])
        assert any(COMMENT in p.text for p in doc.paragraphs)
        blobs = [
            shape._inline.graphic.graphicData.pic.blipFill.blip.embed for shape in doc.inline_shapes
        ]
        images = [doc.part.related_parts[r].blob for r in blobs]
        # The notebook's own figures, in order, none drawn again.
        assert images == list(notebook_figures.values())


def test_issued_summary_carries_the_article_claims(issued_docs, results):
    from kiemnhiem.report.frames import builtin_claims

    claims = builtin_claims()
    tested = claims[claims["indicator"].ne("") & claims["model"].isin(set(results["model"]))]
    for issuer in KINDS:
        doc = _open(issued_docs[(issuer, "summary")])
        # One claims table per model, under its «Đánh giá chung» (the HTML summary's order).
        tables = _tables(doc, label("summary_col_claim", "vi"))
        assert len(tables) == len(set(tested["model"]))
        cells = {c.text for t in tables for row in t.rows for c in row.cells}
        assert set(tested["claim_vi"]) <= cells


def _words(pdf: Path, page: int) -> list[tuple[str, float, float]]:
    """(word, x, y) of a page's words, in points from the top left (pdftotext -bbox)."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    found = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>', html)
    return [(w, float(x), float(y)) for x, y, w in found]


@pytest.fixture(scope="module")
def issued_pdfs(issued_docs, tmp_path_factory):
    """The four documents converted in one LibreOffice process."""
    _need_programs()
    from kiemnhiem.report.documents import convert_documents

    folder = tmp_path_factory.mktemp("issued-pdf")
    started = time.monotonic()
    converted = convert_documents({f"{i}-{k}": data for (i, k), data in issued_docs.items()})
    print(f"\nLibreOffice: 4 documents in one process, {time.monotonic() - started:.1f} s")
    out = {}
    for issuer, kind in issued_docs:
        data = converted[f"{issuer}-{kind}"]
        assert isinstance(data, bytes), data
        path = folder / f"{issuer}-{kind}.pdf"
        path.write_bytes(data)
        out[(issuer, kind)] = path
    return out


@pytest.mark.parametrize("issuer", KINDS)
@pytest.mark.parametrize("kind", ("pilot", "summary"))
def test_issued_pdf_text_and_positions(issued_pdfs, issuer, kind):
    path = issued_pdfs[(issuer, kind)]
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    pages = [p for p in text.split("\f") if p.strip()]
    first, last = _squash(pages[0]), _squash(pages[-1])
    expected = EXPECTED[issuer]
    for key in ("head", "superior", "issuer", "number", "date", "type"):
        assert expected[key][0] in first, key
    for key in ("authority", "title", "name"):
        assert expected[key][0] in last, key
    assert expected["recipients_head"][0] in last
    for line in expected["recipients"][0]:
        assert _squash(line) in last
    assert "kiemnhiem" not in text.lower()
    assert all(label("report_synthetic_title", "vi") in p for p in pages)
    # Positions on the page (A4 is 595 pt wide): title or national name in the right half,
    # the issuer in the left half, on the first page; "Nơi nhận" bottom left and the signer's
    # name bottom right on the last.
    mid = 595 / 2
    words = _words(path, 1)
    head_first, *_, head_last = expected["head"][0].split()
    issuer_word = expected["issuer"][0].split()[0]
    issuer_at = [(x, y) for w, x, y in words if w == issuer_word and x < mid]
    assert issuer_at and issuer_at[0][1] < 200  # in the top block, left half
    head_at = [(x, y) for w, x, y in words if w == head_first]
    assert head_at and head_at[0][0] > issuer_at[0][0] + 100  # right of the issuer
    assert any(w == head_last and x > mid for w, x, _ in words)  # ending in the right half
    assert abs(head_at[0][1] - issuer_at[0][1]) < 40  # on the same level
    if issuer == "party":
        assert any(w == "*" and x < mid for w, x, _ in words)
    words = _words(path, len(pages))
    recipients = [(x, y) for w, x, y in words if w == "Nơi"]
    name = expected["name"][0].split()[-1]
    signed = [(x, y) for w, x, y in words if w == name]
    assert recipients and recipients[-1][0] < mid
    assert signed and signed[-1][0] > mid
    # The name under its title, with room for the signature between them.
    title_word = expected["title"][0].split()[-1]
    title_y = max(y for w, x, y in words if w == title_word and x > mid)
    assert signed[-1][1] - title_y > 40


def test_convert_documents_reports_each_document(tmp_path, issued_docs):
    """One broken document among good ones: the others still get their PDF, the broken one
    its own error naming it."""
    _need_programs()
    from kiemnhiem.report.documents import convert_documents

    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not a document")
    converted = convert_documents({"good": issued_docs[("party", "summary")], "bad": broken})
    assert isinstance(converted["good"], bytes) and converted["good"].startswith(b"%PDF")
    assert isinstance(converted["bad"], RunError)
    assert "broken.docx" in converted["bad"].message_en


def test_a_long_dataset_name_still_makes_the_document(ds, results):
    # Word's text properties hold 255 characters; a 300-character name (a pasted paragraph)
    # once failed every document of a run. The name is shortened in the properties only.
    name = "Số liệu " + "x" * 292
    long_named = dataclasses.replace(ds, name=name)
    doc = _open(_saved(build_pilot_docx(long_named, UNIT, MODEL, results=results)))
    comments = doc.core_properties.comments
    assert len(comments) <= 255
    assert str(ds.content_hash)[:12] in comments and "level=" in comments
    assert name not in comments and "Số liệu xxx" in comments
