"""Layout of the Word documents: page, styles, header and footer, title block, numbered
headings, captions, tables and figures.

:mod:`.documents` decides what a document says; this module decides how it looks. The layout
follows the rules for Vietnamese administrative documents (Decree 30/2020/NĐ-CP): A4 portrait,
Times New Roman 13 pt, margins 25/20/30/15 mm (top, bottom, left, right), the issuing body at
the top left and the national motto at the top right, the place and date in italics, the
document type and subject in bold, page numbers centred in the top margin from page 2, tables
and figures numbered ("Bảng 1.", "Hình 1."). Synthetic data and the classification line are
marked in the footer and header of every page.

Another layout (Party documents, for instance) replaces the functions here and leaves the
content in :mod:`.documents` as it is. Everything works on a python-docx ``Document`` in
memory: nothing here touches files.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, time

import pandas as pd
from babel.dates import format_date as _babel_date
from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from .. import __version__
from ..labels import label

#: The font every style names (Debian renders it with the metric-compatible Liberation Serif).
FONT = "Times New Roman"


BODY_PT = 13


TABLE_PT = 10.5


NOTE_PT = 11


MARGINS_MM = {"top": 25, "bottom": 20, "left": 30, "right": 15}


PAGE_MM = (210, 297)


#: Width of the text block: A4 less the left and right margins.
TEXT_MM = PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]


_LOCALES = {"vi": "vi_VN", "en": "en_GB"}


_LANG_TAGS = {"vi": "vi-VN", "en": "en-GB"}


_BLACK = RGBColor(0, 0, 0)


_NOTICE = "B3261E"


def _tags(names: str) -> tuple[str, ...]:
    return tuple(f"w:{name}" for name in names.split())


# Child order of the property elements this module adds to (ECMA-376 WordprocessingML
# schema): Word refuses a document whose property children are out of order.
_ORDER = {
    "w:pPr": _tags(
        "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr "
        "suppressLineNumbers pBdr shd tabs suppressAutoHyphens kinsoku wordWrap "
        "overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd "
        "snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc "
        "textDirection textAlignment textboxTightWrap outlineLvl divId cnfStyle rPr "
        "sectPr pPrChange"
    ),
    "w:tblPr": _tags(
        "tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize "
        "tblW jc tblCellSpacing tblInd tblBorders shd tblLayout tblCellMar tblLook "
        "tblCaption tblDescription tblPrChange"
    ),
    "w:tcPr": _tags(
        "cnfStyle tcW gridSpan hMerge vMerge tcBorders shd noWrap tcMar textDirection "
        "tcFitText vAlign hideMark headers cellIns cellDel cellMerge tcPrChange"
    ),
    "w:trPr": _tags(
        "cnfStyle divId gridBefore gridAfter wBefore wAfter cantSplit trHeight tblHeader "
        "tblCellSpacing jc hidden ins del trPrChange"
    ),
}


# ---------------------------------------------------------------------------------------------
# Page, styles, header and footer
# ---------------------------------------------------------------------------------------------


def set_up_document(doc: Document, dataset, lang: str, classification: str | None) -> None:
    """Page, styles, header and footer."""
    _styles(doc, lang)
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
    section.top_margin = Mm(MARGINS_MM["top"])
    section.bottom_margin = Mm(MARGINS_MM["bottom"])
    section.left_margin = Mm(MARGINS_MM["left"])
    section.right_margin = Mm(MARGINS_MM["right"])
    section.header_distance = Mm(10)
    section.footer_distance = Mm(8)
    # Decree 30: page numbers centred in the top margin, none on the first page.
    section.different_first_page_header_footer = True
    for header, numbered in ((section.first_page_header, False), (section.header, True)):
        header.is_linked_to_previous = False
        paragraphs = []
        if classification:
            paragraphs.append(("classification", str(classification)))
        if numbered:
            paragraphs.append(("page", ""))
        _fill(doc, header, paragraphs)
    notice = []
    if dataset.synthetic:
        notice.append(
            (
                "synthetic",
                f"{label('report_synthetic_title', lang)} {label('doc_synthetic_footer', lang)}",
            )
        )
    for footer in (section.first_page_footer, section.footer):
        footer.is_linked_to_previous = False
        _fill(doc, footer, notice)


def _fill(doc: Document, part, paragraphs: list[tuple[str, str]]) -> None:
    first = part.paragraphs[0]
    if not paragraphs:
        return
    for i, (kind, text) in enumerate(paragraphs):
        p = first if i == 0 else part.add_paragraph()
        p.style = doc.styles["Footer" if kind == "synthetic" else "Header"]
        fmt = p.paragraph_format
        fmt.space_before = fmt.space_after = Pt(0)
        if kind == "classification":
            fmt.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            run = p.add_run(text)
            run.bold = True
            run.font.all_caps = True
            run.font.size = Pt(BODY_PT)
        elif kind == "page":
            fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _page_field(p)
        else:
            fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = p.add_run(text)
            run.italic = True
            run.font.size = Pt(9)
            run.font.color.rgb = RGBColor.from_string(_NOTICE)


def _page_field(paragraph) -> None:
    """A PAGE field (begin, instruction, separator, a placeholder result, end)."""

    def fld(kind: str):
        run = paragraph.add_run()
        run.font.size = Pt(BODY_PT)
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        run._r.append(el)
        return run

    fld("begin")
    instr = paragraph.add_run()
    instr.font.size = Pt(BODY_PT)
    node = OxmlElement("w:instrText")
    node.set(qn("xml:space"), "preserve")
    node.text = " PAGE "
    instr._r.append(node)
    fld("separate")
    shown = paragraph.add_run("2")
    shown.font.size = Pt(BODY_PT)
    fld("end")


def _set_fonts(rpr) -> None:
    """Name the font for every script (ascii, hAnsi, East-Asian, complex) and drop theme fonts,
    which would otherwise win over the named font."""
    fonts = rpr.get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)


def _styles(doc: Document, lang: str) -> None:
    styles_el = doc.styles.element
    defaults = styles_el.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr)
    lang_el = rpr.find(qn("w:lang"))
    if lang_el is not None:
        lang_el.set(qn("w:val"), _LANG_TAGS[lang])
        lang_el.set(qn("w:eastAsia"), _LANG_TAGS[lang])
    spacing = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing"))
    if spacing is not None:
        spacing.set(qn("w:after"), "0")
        spacing.set(qn("w:line"), "240")
    # Every style that names fonts through the theme names Times New Roman instead.
    for fonts in list(styles_el.iter(qn("w:rFonts"))):
        _set_fonts(fonts.getparent())

    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    _set_fonts(normal.element.get_or_add_rPr())

    body = doc.styles["Body Text"]
    body.font.name = FONT
    body.font.size = Pt(BODY_PT)
    _set_fonts(body.element.get_or_add_rPr())
    fmt = body.paragraph_format
    fmt.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    fmt.first_line_indent = Mm(10)
    fmt.space_before = Pt(6)
    fmt.space_after = Pt(0)
    fmt.line_spacing = 1.15

    for name, size in (("Heading 1", BODY_PT), ("Heading 2", BODY_PT), ("Heading 3", BODY_PT)):
        style = doc.styles[name]
        style.font.name = FONT
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.italic = False
        style.font.color.rgb = _BLACK
        _set_fonts(style.element.get_or_add_rPr())
        pf = style.paragraph_format
        pf.space_before = Pt(12 if name == "Heading 1" else 8)
        pf.space_after = Pt(4)
        pf.keep_with_next = True
        pf.first_line_indent = Mm(10) if name != "Heading 1" else None

    caption = doc.styles["Caption"]
    caption.font.name = FONT
    caption.font.size = Pt(12)
    caption.font.bold = False
    caption.font.color.rgb = _BLACK
    _set_fonts(caption.element.get_or_add_rPr())
    caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption.paragraph_format.space_before = Pt(6)
    caption.paragraph_format.space_after = Pt(4)

    for name in ("Header", "Footer", "Table Grid"):
        style = doc.styles[name]
        style.font.name = FONT
        _set_fonts(style.element.get_or_add_rPr())


def set_properties(
    doc: Document, dataset, lang: str, issuer: str | None, issued: date | None, title: str
) -> None:
    props = doc.core_properties
    props.title = title
    props.author = _issuer_name(dataset, lang, issuer)
    props.last_modified_by = f"kiemnhiem {__version__}"
    props.language = _LANG_TAGS[lang]
    props.keywords = "kiemnhiem"
    stamp = datetime.combine(issued or date.today(), time(0, 0))
    props.created = stamp
    props.modified = stamp
    props.revision = 1
    props.comments = label("report_synthetic_title", lang) if dataset.synthetic else ""


def add_closing_line(doc: Document, text: str):
    """The small italic line that ends a document (which kiemnhiem, data and parameters)."""
    p = doc.add_paragraph(style="Body Text")
    p.paragraph_format.space_before = Pt(18)
    p.paragraph_format.first_line_indent = None
    run = p.add_run(text)
    run.italic = True
    run.font.size = Pt(NOTE_PT - 1)
    return p


# ---------------------------------------------------------------------------------------------
# Title block (issuer, motto, place and date, type and subject)
# ---------------------------------------------------------------------------------------------


def _province_parts(dataset) -> tuple[str, str | None]:
    """("province" or "city", the name without its prefix); name None without a province."""
    name = getattr(dataset, "province_name", None)
    if not name:
        return "province", None
    name = unicodedata.normalize("NFC", str(name)).strip()
    for prefix, kind in (("thành phố ", "city"), ("tỉnh ", "province")):
        if name.casefold().startswith(prefix):
            return kind, name[len(prefix) :].strip()
    return "province", name


def area_text(dataset, lang: str) -> str:
    """The dataset's province as running text ("tỉnh Sơn La"), else the dataset's name."""
    kind, name = _province_parts(dataset)
    return label(f"doc_area_{kind}", lang, name=name) if name else str(dataset.name)


def _issuer_lines(dataset, lang: str, issuer: str | None) -> list[str]:
    """The issuer block's lines: the governing body first, the issuing body last."""
    if issuer is not None and str(issuer).strip():
        lines = [s.strip() for s in str(issuer).splitlines() if s.strip()]
    else:
        kind, name = _province_parts(dataset)
        if name is None:
            lines = [label("doc_issuer_national", lang)]
        else:
            lines = [
                label(f"doc_issuer_parent_{kind}", lang, name=name),
                label("doc_issuer_body", lang),
            ]
    return [line.upper() for line in lines] if lang == "vi" else lines


def _issuer_name(dataset, lang: str, issuer: str | None) -> str:
    """The issuer on one line (the document's author property)."""
    if issuer is not None and str(issuer).strip():
        return " – ".join(_issuer_lines(dataset, lang, issuer))
    kind, name = _province_parts(dataset)
    if name is None:
        return label("doc_issuer_national", lang)
    text = label(f"doc_issuer_{kind}", lang, name=name)
    return text.upper() if lang == "vi" else text


def _date_line(dataset, lang: str, issued: date | None, place: str | None) -> str:
    day = issued or date.today()
    if lang == "vi":
        # Decree 30: days below 10 and months below 3 take a leading zero.
        text = label(
            "doc_date",
            lang,
            day=f"{day.day:02d}",
            month=f"{day.month:02d}" if day.month < 3 else str(day.month),
            year=day.year,
        )
    else:
        month = _babel_date(day, format="MMMM", locale=_LOCALES[lang])
        text = label("doc_date", lang, day=day.day, month=month, year=day.year)
    where = place if place is not None else _province_parts(dataset)[1]
    return label("doc_place_date", lang, place=where, date=text) if where else text


def add_title_block(
    doc: Document,
    dataset,
    lang: str,
    issuer: str | None,
    issued: date | None,
    place: str | None,
    subject: str,
) -> None:
    """Issuer (left) and national motto with place and date (right); then type and subject."""
    left_mm, right_mm = 65, TEXT_MM - 65
    table = doc.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _no_borders(table)
    for col, width in zip(table.columns, (left_mm, right_mm)):
        col.width = Mm(width)
        for cell in col.cells:
            cell.width = Mm(width)
    left, right = table.rows[0].cells
    lines = _issuer_lines(dataset, lang, issuer)
    for i, line in enumerate(lines):
        p = left.paragraphs[0] if i == 0 else left.add_paragraph()
        p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(line)
        run.font.size = Pt(12)
        # The governing body in regular type, the issuing body (the last line) in bold.
        run.bold = i == len(lines) - 1
    _rule(left, 25, left_mm)
    date_line = _date_line(dataset, lang, issued, place)
    if lang == "vi":
        p = right.paragraphs[0]
        p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(label("doc_motto_nation", lang))
        run.bold = True
        run.font.size = Pt(12)
        add_paragraph(
            right, label("doc_motto_words", lang), align="center", bold=True, size=BODY_PT
        )
        _rule(right, 62, right_mm)
        add_paragraph(right, date_line, align="center", italic=True, space_before=4)
    else:
        p = right.paragraphs[0]
        p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        run = p.add_run(date_line)
        run.italic = True
    add_paragraph(
        doc,
        label("doc_type_report", lang).upper(),
        align="center",
        bold=True,
        size=BODY_PT + 1,
        space_before=18,
    )
    add_paragraph(doc, subject, align="center", bold=True, size=BODY_PT + 1)
    _rule(doc, 40, TEXT_MM)


def _no_borders(table) -> None:
    borders = _put(table._tbl.tblPr, "w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)


def add_synthetic_box(doc: Document, dataset, lang: str) -> None:
    """The full synthetic-data notice in a framed box under the title (the footer repeats its
    first words on every page)."""
    if not dataset.synthetic:
        return
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    fmt.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    fmt.space_before = Pt(6)
    fmt.space_after = Pt(6)
    _borders(p, ["top", "left", "bottom", "right"], size=12, space=4, color=_NOTICE)
    _shade(p._p.get_or_add_pPr(), "FDECEA")
    title = p.add_run(label("report_synthetic_title", lang) + " ")
    title.bold = True
    title.font.size = Pt(NOTE_PT + 1)
    text = p.add_run(label("report_synthetic_text", lang, name=dataset.name))
    text.font.size = Pt(NOTE_PT + 1)


# ---------------------------------------------------------------------------------------------
# Blocks: headings, paragraphs, notes, captions, tables, figures
# ---------------------------------------------------------------------------------------------


class Numbering:
    """Running numbers of tables and figures."""

    def __init__(self) -> None:
        self.tables = 0
        self.figures = 0

    def table(self) -> int:
        self.tables += 1
        return self.tables

    def figure(self) -> int:
        self.figures += 1
        return self.figures


def _roman(n: int) -> str:
    out = []
    for value, numeral in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out.append(numeral)
            n -= value
    return "".join(out)


def add_heading(doc: Document, level: int, number: int, text: str):
    """Decree 30 numbering: "I. TEXT IN CAPITALS" for sections, "1. Text" below them."""
    if level == 1:
        shown = f"{_roman(number)}. {text.upper()}"
    else:
        shown = f"{number}. {text}"
    return doc.add_paragraph(shown, style=f"Heading {level}")


def add_paragraph(
    doc_or_cell,
    text: str = "",
    *,
    align: str = "left",
    bold: bool = False,
    italic: bool = False,
    size: float | None = None,
    space_after: float = 0,
    space_before: float = 0,
    caps: bool = False,
):
    p = doc_or_cell.add_paragraph()
    fmt = p.paragraph_format
    fmt.alignment = {
        "left": WD_ALIGN_PARAGRAPH.LEFT,
        "center": WD_ALIGN_PARAGRAPH.CENTER,
        "right": WD_ALIGN_PARAGRAPH.RIGHT,
        "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
    }[align]
    fmt.space_after = Pt(space_after)
    fmt.space_before = Pt(space_before)
    if text:
        run = p.add_run(text)
        run.bold = bold
        run.italic = italic
        run.font.all_caps = caps
        if size:
            run.font.size = Pt(size)
    return p


def add_body(doc: Document, text: str, *, italic: bool = False, prefix: str = ""):
    p = doc.add_paragraph(style="Body Text")
    if prefix:
        p.add_run(prefix)
    _inline(p, text, italic=italic)
    return p


def add_note(doc: Document, lang: str, text: str):
    p = doc.add_paragraph(style="Body Text")
    p.paragraph_format.first_line_indent = None
    p.paragraph_format.space_before = Pt(3)
    head = p.add_run(label("doc_note_label", lang) + " ")
    head.bold = True
    head.italic = True
    head.font.size = Pt(NOTE_PT)
    run = p.add_run(text)
    run.italic = True
    run.font.size = Pt(NOTE_PT)
    return p


def add_caption(doc: Document, number: str, title: str, *, keep_with_next: bool = True):
    p = doc.add_paragraph(style="Caption")
    p.paragraph_format.keep_with_next = keep_with_next
    head = p.add_run(number + " ")
    head.bold = True
    p.add_run(title)
    return p


def column_widths(total: float, first: float, n_rest: int) -> list[float]:
    return [first] + [(total - first) / max(1, n_rest)] * n_rest


def add_table(
    doc: Document,
    frame: pd.DataFrame,
    *,
    widths: Sequence[float],
    font_pt: float,
    align_first: str = "left",
    align_rest: str = "center",
):
    """A bordered table with a bold header row repeated on every page."""
    n_cols = frame.shape[1]
    table = doc.add_table(rows=1 + len(frame), cols=n_cols)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = list(widths)[:n_cols]
    aligns = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER}
    for j, width in enumerate(widths):
        table.columns[j].width = Mm(width)
    # Narrow cell margins (1 mm): nine columns must fit in 165 mm.
    margins = _put(table._tbl.tblPr, "w:tblCellMar")
    for side in ("left", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), "57")
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    cells = [[str(c) for c in frame.columns]] + [
        ["" if _missing(v) else str(v) for v in row] for row in frame.itertuples(index=False)
    ]
    for i, (row, values) in enumerate(zip(table.rows, cells)):
        tr_pr = row._tr.get_or_add_trPr()
        _put(tr_pr, "w:cantSplit")
        if i == 0:
            _put(tr_pr, "w:tblHeader")
        for j, (cell, value) in enumerate(zip(row.cells, values)):
            cell.width = Mm(widths[j])
            p = cell.paragraphs[0]
            p.paragraph_format.alignment = aligns[align_first if j == 0 else align_rest]
            if i == 0:
                p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
                p.paragraph_format.keep_with_next = True
            run = p.add_run(value)
            run.font.size = Pt(font_pt)
            run.bold = i == 0
        if i == 0:
            for cell in row.cells:
                _shade(cell._tc.get_or_add_tcPr(), "E8E8E8")
    after = doc.add_paragraph()
    after.paragraph_format.space_after = Pt(2)
    after.add_run().font.size = Pt(4)
    return table


def add_figure(doc: Document, png: bytes, width_mm: float, number: str, title: str) -> None:
    p = doc.add_paragraph()
    p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.keep_with_next = True
    p.paragraph_format.space_before = Pt(6)
    p.add_run().add_picture(io.BytesIO(png), width=Mm(width_mm))
    add_caption(doc, number, title, keep_with_next=False)


def _inline(p, text: str, *, italic: bool = False) -> None:
    """Text with Markdown's ``**bold**`` and ``*italic*`` marks as runs."""
    for token in re.split(r"(\*\*[^*]+\*\*|\*[^*]+\*)", text):
        if not token:
            continue
        if token.startswith("**") and token.endswith("**"):
            run = p.add_run(token[2:-2])
            run.bold = True
            run.italic = italic
        elif token.startswith("*") and token.endswith("*") and len(token) > 1:
            run = p.add_run(token[1:-1])
            run.italic = not italic
        else:
            p.add_run(token).italic = italic


def add_markdown(doc: Document, text: str, *, numbering: int) -> None:
    """The few Markdown blocks :mod:`kiemnhiem.report.text` writes: ``#`` headings and
    paragraphs."""
    for block in (b.strip() for b in text.split("\n\n")):
        if not block:
            continue
        if block.startswith("#"):
            add_heading(doc, 1, numbering, block.lstrip("#").strip())
        else:
            add_body(doc, " ".join(block.splitlines()))


# ---------------------------------------------------------------------------------------------
# XML helpers
# ---------------------------------------------------------------------------------------------


def _put(parent, tag: str, **attrs: str):
    """Replace ``parent``'s ``tag`` child with a new one, in schema order; return it."""
    for old in parent.findall(qn(tag)):
        parent.remove(old)
    child = OxmlElement(tag)
    for key, value in attrs.items():
        child.set(qn(f"w:{key}"), value)
    order = _ORDER[_prefixed(parent)]
    parent.insert_element_before(child, *order[order.index(tag) + 1 :])
    return child


def _prefixed(element) -> str:
    return "w:" + element.tag.rsplit("}", 1)[-1]


def _shade(props, fill: str) -> None:
    """Background ``fill`` on a paragraph's ``pPr`` or a cell's ``tcPr``."""
    _put(props, "w:shd", val="clear", color="auto", fill=fill)


def _borders(
    paragraph, edges: Sequence[str], *, size: int = 6, space: int = 1, color: str = "000000"
) -> None:
    """Single-line paragraph borders on ``edges`` (size in eighths of a point)."""
    border = _put(paragraph._p.get_or_add_pPr(), "w:pBdr")
    for edge in ("top", "left", "bottom", "right"):  # the schema's order
        if edge in edges:
            el = OxmlElement(f"w:{edge}")
            for key, value in (
                ("w:val", "single"),
                ("w:sz", str(size)),
                ("w:space", str(space)),
                ("w:color", color),
            ):
                el.set(qn(key), value)
            border.append(el)


def _rule(container, width_mm: float, container_mm: float) -> None:
    """A short centred line, as Decree 30 draws under the issuer, the motto and the subject:
    the bottom border of a tiny indented paragraph, so it never touches the text above."""
    p = container.add_paragraph()
    fmt = p.paragraph_format
    fmt.left_indent = fmt.right_indent = Mm(max(0.0, (container_mm - width_mm) / 2))
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing = Pt(3)
    _borders(p, ["bottom"])
    p.add_run().font.size = Pt(1)


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
