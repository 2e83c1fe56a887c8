"""Word and PDF documents: built for a demo pilot and the province summary, then read back.

The documents are saved to bytes and reopened with python-docx, so the checks see what a
reader's word processor sees. Expected values come from the evaluation frames and the label
catalog, or from the layout rules of Decree 30/2020/NĐ-CP written out by hand.

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

import pandas as pd
import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm
from docx.table import Table
from docx.text.paragraph import Paragraph

from kiemnhiem.dataset import load_dataset
from kiemnhiem.documents import (
    FONT,
    build_pilot_docx,
    build_summary_docx,
    convert_to_pdf,
    write_docx,
)
from kiemnhiem.evaluation import chance_verdicts, evaluate_all
from kiemnhiem.exceptions import ParameterError, RunError
from kiemnhiem.labels import label
from kiemnhiem.tables import chance_text, indicator_info, model_label, verdict_text

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
    the English one presents the whole ``evaluate_all`` frame, without classification.
    """
    cache: dict[tuple[str, str], bytes] = {}

    def get(kind: str, lang: str) -> bytes:
        if (kind, lang) not in cache:
            if kind == "summary":
                document = build_summary_docx(ds, lang, results=results, issued=ISSUED[lang])
            elif lang == "vi":
                document = build_pilot_docx(
                    ds, UNIT, MODEL, lang, classification=CLASSIFICATION, issued=ISSUED[lang]
                )
            else:
                document = build_pilot_docx(
                    ds, UNIT_CODE, MODEL, lang, results=results, issued=ISSUED[lang]
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
    sections = [
        "report_summary_heading",
        "report_indicators_heading",
        "report_figures_heading",
        "report_method_heading",
    ]
    numerals = ["I", "II", "III", "IV"]
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
    assert len(verdict_lines) == len(pilot_rows)
    for line, verdict in zip(verdict_lines, pilot_rows["verdict"]):
        assert line.startswith(
            f"{label('report_verdict_label', lang)}: {verdict_text(verdict, lang)}."
        )


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
    lines = [p.text for p in issuer.paragraphs if p.text]
    if lang == "vi":
        assert lines == ["TỈNH ỦY SƠN LA", "BAN TỔ CHỨC"]
        # The governing body in regular type, the issuing body in bold.
        bold = [all(r.bold for r in p.runs) for p in issuer.paragraphs if p.text]
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
    for footer in (section.first_page_footer, section.footer):
        assert notice in _part_text(footer)
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
    table = _tables(doc, label("doc_col_model", lang))[0]
    header, *body = _rows(table)
    assert len(body) == results["model"].nunique()
    for line, model in zip(body, dict.fromkeys(results["model"])):
        rows = results[(results["scope"] == "pilot") & (results["model"] == model)]
        assert line[0] == model_label(ds.models, model, lang)
        assert int(line[1]) == rows["unit_code"].nunique()
        assert sum(int(x) for x in line[2:]) == len(rows)
        for name, cell in zip(header[2:], line[2:]):
            assert int(cell) == sum(verdict_text(v, lang) == name for v in rows["verdict"])


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
    assert all(notice not in _part_text(f) for f in (section.footer, section.first_page_footer))
    assert notice not in "\n".join(p.text for p in doc.paragraphs)
    assert all("Mật" in _part_text(h) for h in (section.header, section.first_page_header))
    issuer, right = doc.tables[0].rows[0].cells
    assert [p.text for p in issuer.paragraphs if p.text] == ["UBND TỈNH SƠN LA", "SỞ NỘI VỤ"]
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
    monkeypatch.setattr("kiemnhiem.documents.shutil.which", lambda name: None)
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
