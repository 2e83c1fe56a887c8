"""Layout of the Word documents: page, styles, header and footer, title block, numbered
headings, captions, tables, figures, and the closing blocks (recipients and signature).

:mod:`.documents` decides what a document says; this module decides how it looks. Two sets of
rules, chosen by the issuer's kind (:class:`~kiemnhiem.data.issuing.DocumentSettings`):

- Party bodies (the default: the organization commission of a provincial Party Committee
  issues these reports): Hướng dẫn 36-HD/VPTW of the Party Central Office, 03/4/2018, on the
  form and presentation of the Party's documents ("HD 36" below). "ĐẢNG CỘNG SẢN VIỆT NAM" top
  right with a line under it, the superior and issuing bodies top left with an asterisk
  under them, then "Số 15-BC/BTCTU"; place and date in italics under the title; the type
  and subject centred; the body; "Nơi nhận" bottom left, the signature bottom right.
- State bodies: Decree 30/2020/NĐ-CP on clerical work, Phụ lục I ("ND 30" below): the
  issuing body top left, the national motto top right, "Số: 15/BC-UBND", and so on.

Each size, style and position below cites its rule (document, section or annex, item) in
:data:`PARTY` and :data:`STATE`. Synthetic data and the classification line are marked in the
header of every page. Everything works on a python-docx ``Document`` in memory: nothing here
touches files.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
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
from ..data.issuing import DocumentSettings
from ..labels import label

#: The font every style names (Debian renders it with the metric-compatible Liberation Serif).
#: HD 36, Mục III.1 and ND 30, Phụ lục I, Mục I.2: Vietnamese characters of TCVN 6909:2001
#: (Unicode) in Times New Roman.
FONT = "Times New Roman"

#: Body text of a State document (ND 30, Phụ lục I, Mục II.6: 13-14 pt).
BODY_PT = 13


TABLE_PT = 10.5


NOTE_PT = 11


#: A4 margins within both sets of rules (HD 36, Mục III.3 and ND 30, Phụ lục I, Mục I.4:
#: top and bottom 20-25 mm, left 30-35 mm, right 15-20 mm).
MARGINS_MM = {"top": 25, "bottom": 20, "left": 30, "right": 15}


#: A4 portrait (HD 36, Mục III.2; ND 30, Phụ lục I, Mục I.3).
PAGE_MM = (210, 297)


#: Width of the text block: A4 less the left and right margins.
TEXT_MM = PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]


@dataclass(frozen=True)
class Rules:
    """Sizes (points) and styles of one set of rules for the elements of a document.

    ``head`` is the top-right title (Party: "ĐẢNG CỘNG SẢN VIỆT NAM"; State: the national
    name, then the motto in ``motto_pt``); ``superior`` and ``issuer`` the bodies top left;
    ``number`` "Số ..."; ``date`` the place and date; ``doc_type`` and ``subject`` the
    centred title; ``body`` the text and its headings; ``authority``, ``signer_title`` and
    ``signer_name`` the signature block; ``recipients_head`` and ``recipients`` "Nơi nhận".
    Each ``*_bold`` / ``*_italic`` / ``*_underline`` says how that element is set.
    """

    kind: str
    head_pt: float
    motto_pt: float | None
    superior_pt: float
    issuer_pt: float
    number_pt: float
    date_pt: float
    doc_type_pt: float
    subject_pt: float
    body_pt: float
    page_pt: float
    authority_pt: float
    signer_title_pt: float
    signer_title_bold: bool
    signer_name_pt: float
    recipients_head_pt: float
    recipients_head_bold: bool
    recipients_head_italic: bool
    recipients_head_underline: bool
    recipients_pt: float
    left_mm: float  # width of the header's left column (issuer, number)


#: Hướng dẫn 36-HD/VPTW (2018), Phụ lục 3 "Mẫu chữ và chi tiết trình bày thể thức văn bản":
#: item 1 title upper case 15 pt bold; item 2 superior body upper case 14 pt regular, issuing
#: body upper case 14 pt bold; item 3 number and symbol 14 pt regular; item 4 place and date
#: 14 pt italic; item 5 document type upper case 15-16 pt bold, subject 14-15 pt bold; item 6
#: body 14-15 pt; item 7 signing authority and title upper case 14 pt (authority bold), name
#: 14 pt bold; item 8 "Nơi nhận" 14 pt underlined, recipients 12 pt. Page numbers: Mục III.4,
#: 14 pt, centred in the top margin, none on the first page. Positions: Mục II.1.1 (title top
#: right, first line, a solid line under it as long as it), II.1.2 (bodies top left, an
#: asterisk under them), II.1.7 (signature bottom right), II.1.9 ("Nơi nhận" bottom left).
#: Items 1-6 were checked against the public reproduction of Phụ lục 3 (thuvienphapluat.vn);
#: items 7-8, the margins (Mục III.3), page numbers and the hyphens under the subject follow
#: the guidance as its practice is known, not checked against a copy here.
PARTY = Rules(
    kind="party",
    head_pt=15,
    motto_pt=None,
    superior_pt=14,
    issuer_pt=14,
    number_pt=14,
    date_pt=14,
    doc_type_pt=16,
    subject_pt=14,
    body_pt=14,
    page_pt=14,
    authority_pt=14,
    signer_title_pt=14,
    signer_title_bold=False,
    signer_name_pt=14,
    recipients_head_pt=14,
    recipients_head_bold=False,
    recipients_head_italic=False,
    recipients_head_underline=True,
    recipients_pt=12,
    left_mm=80,
)

#: Decree 30/2020/NĐ-CP, Phụ lục I, Mục II: item 1 national name upper case 12-13 pt bold,
#: motto 13-14 pt bold with a line under it; item 2 superior body upper case 12-13 pt regular,
#: issuing body 12-13 pt bold with a line under it; item 3 "Số:" and number 13 pt; item 4
#: place and date 13-14 pt italic; item 5 type upper case 13-14 pt bold, subject 13-14 pt
#: bold with a line under it; item 6 body 13-14 pt; item 7 authority and title upper case
#: 13-14 pt bold, name 13-14 pt bold; item 9 "Nơi nhận:" 12 pt bold italic, recipients 11 pt.
#: Page numbers: Mục I.5, 13-14 pt, centred in the top margin, none on the first page.
STATE = Rules(
    kind="state",
    head_pt=12,
    motto_pt=13,
    superior_pt=12,
    issuer_pt=12,
    number_pt=13,
    date_pt=13,
    doc_type_pt=14,
    subject_pt=14,
    body_pt=BODY_PT,
    page_pt=13,
    authority_pt=13,
    signer_title_pt=13,
    signer_title_bold=True,
    signer_name_pt=13,
    recipients_head_pt=12,
    recipients_head_bold=True,
    recipients_head_italic=True,
    recipients_head_underline=False,
    recipients_pt=11,
    left_mm=65,
)


def rules_for(kind: str | None) -> Rules:
    """:data:`PARTY` or :data:`STATE` (unset: Party)."""
    return STATE if kind == "state" else PARTY


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


def set_up_document(
    doc: Document, dataset, lang: str, classification: str | None, rules: Rules = STATE
) -> None:
    """Page, styles, header and footer.

    Every page's header carries the classification line (right), the page number (centred,
    from page 2: HD 36, Mục III.4; ND 30, Phụ lục I, Mục I.5) and, for synthetic data, the
    notice that the figures are made up.
    """
    _styles(doc, lang, rules)
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
    section.top_margin = Mm(MARGINS_MM["top"])
    section.bottom_margin = Mm(MARGINS_MM["bottom"])
    section.left_margin = Mm(MARGINS_MM["left"])
    section.right_margin = Mm(MARGINS_MM["right"])
    section.header_distance = Mm(8)
    section.footer_distance = Mm(8)
    section.different_first_page_header_footer = True
    notice = None
    if dataset.synthetic:
        notice = f"{label('report_synthetic_title', lang)} {label('doc_synthetic_footer', lang)}"
    for header, numbered in ((section.first_page_header, False), (section.header, True)):
        header.is_linked_to_previous = False
        paragraphs = []
        if classification:
            paragraphs.append(("classification", str(classification)))
        if numbered:
            paragraphs.append(("page", ""))
        if notice:
            paragraphs.append(("synthetic", notice))
        _fill(doc, header, paragraphs, rules)
    for footer in (section.first_page_footer, section.footer):
        footer.is_linked_to_previous = False


def _fill(doc: Document, part, paragraphs: list[tuple[str, str]], rules: Rules) -> None:
    first = part.paragraphs[0]
    if not paragraphs:
        return
    for i, (kind, text) in enumerate(paragraphs):
        p = first if i == 0 else part.add_paragraph()
        p.style = doc.styles["Header"]
        fmt = p.paragraph_format
        fmt.space_before = fmt.space_after = Pt(0)
        if kind == "classification":
            fmt.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            run = p.add_run(text)
            run.bold = True
            run.font.all_caps = True
            run.font.size = Pt(rules.body_pt - 1)
        elif kind == "page":
            fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _page_field(p, rules.page_pt)
        else:
            fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = p.add_run(text)
            run.italic = True
            run.font.size = Pt(8)
            run.font.color.rgb = RGBColor.from_string(_NOTICE)


def _page_field(paragraph, size: float) -> None:
    """A PAGE field (begin, instruction, separator, a placeholder result, end)."""

    def fld(kind: str):
        run = paragraph.add_run()
        run.font.size = Pt(size)
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        run._r.append(el)
        return run

    fld("begin")
    instr = paragraph.add_run()
    instr.font.size = Pt(size)
    node = OxmlElement("w:instrText")
    node.set(qn("xml:space"), "preserve")
    node.text = " PAGE "
    instr._r.append(node)
    fld("separate")
    shown = paragraph.add_run("2")
    shown.font.size = Pt(size)
    fld("end")


def _set_fonts(rpr) -> None:
    """Name the font for every script (ascii, hAnsi, East-Asian, complex) and drop theme fonts,
    which would otherwise win over the named font."""
    fonts = rpr.get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)


def _styles(doc: Document, lang: str, rules: Rules) -> None:
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

    size = rules.body_pt
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(size)
    _set_fonts(normal.element.get_or_add_rPr())

    # The body (HD 36, Phụ lục 3 item 6; ND 30, Phụ lục I, Mục II.6): regular, justified,
    # the first line indented 1-1.27 cm, at least 6 pt between paragraphs.
    body = doc.styles["Body Text"]
    body.font.name = FONT
    body.font.size = Pt(size)
    _set_fonts(body.element.get_or_add_rPr())
    fmt = body.paragraph_format
    fmt.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    fmt.first_line_indent = Mm(10)
    fmt.space_before = Pt(6)
    fmt.space_after = Pt(0)
    fmt.line_spacing = 1.15

    for name in ("Heading 1", "Heading 2", "Heading 3"):
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
    doc: Document,
    dataset,
    lang: str,
    settings: DocumentSettings,
    *,
    title: str,
    subject: str,
    provenance: str,
    keywords: Sequence[str] = (),
) -> None:
    """The document's properties: title, subject, author (the issuing body), and what made it
    (kiemnhiem's version, the dataset, its hash and the parameters) in the comments and
    keywords rather than in the body, which carries only what the issuer signs."""
    props = doc.core_properties
    props.title = fit_property(title)
    props.subject = fit_property(subject)
    props.author = fit_property(issuer_name(dataset, lang, settings))
    props.last_modified_by = f"kiemnhiem {__version__}"
    props.language = _LANG_TAGS[lang]
    props.keywords = fit_property("; ".join([f"kiemnhiem {__version__}", *keywords]))
    props.identifier = fit_property(settings.number or "")
    props.category = label("doc_type_report", lang)
    stamp = datetime.combine(settings.issued or date.today(), time(0, 0))
    props.created = stamp
    props.modified = stamp
    props.revision = 1
    props.content_status = label("report_synthetic_title", lang) if dataset.synthetic else ""
    props.comments = fit_property(provenance)


#: Word's text properties hold at most 255 characters (python-docx refuses more).
PROPERTY_LIMIT = 255


def fit_property(text: str, limit: int = PROPERTY_LIMIT) -> str:
    """``text`` shortened to ``limit`` characters with an ellipsis (a long dataset name must
    never stop a document from being made)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Title block (issuer, title or motto, number, place and date, type and subject)
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


def settings_with_issuer(settings: DocumentSettings, issuer: str | None) -> DocumentSettings:
    """``settings`` with the issuer given as lines (``"TỈNH ỦY SƠN LA\\nBAN TỔ CHỨC"``: the
    superior bodies first, the issuing body last), as earlier versions took it."""
    if issuer is None or not str(issuer).strip():
        return settings
    lines = [s.strip() for s in str(issuer).splitlines() if s.strip()]
    superior = " ".join(lines[:-1]) or None
    return DocumentSettings(superior_body=superior, issuing_body=lines[-1]).over(settings)


def issuer_lines(dataset, lang: str, settings: DocumentSettings) -> list[str]:
    """The issuer block's lines: the superior body first (if any), the issuing body last.

    Default: the organization commission of the dataset's province Party Committee.
    """
    superior, own = settings.superior_body, settings.issuing_body
    if superior is None and own is None:
        kind, name = _province_parts(dataset)
        if name is None:
            lines = [label("doc_issuer_national", lang)]
        else:
            lines = [
                label(f"doc_issuer_parent_{kind}", lang, name=name),
                label("doc_issuer_body", lang),
            ]
    else:
        lines = [line for line in (superior, own) if line]
    # Both sets of rules write the bodies' names in capitals (HD 36, Phụ lục 3 item 2;
    # ND 30, Phụ lục I, Mục II.2).
    return [line.upper() for line in lines] if lang == "vi" else lines


def issuer_name(dataset, lang: str, settings: DocumentSettings) -> str:
    """The issuer on one line (the document's author property)."""
    if settings.superior_body is not None or settings.issuing_body is not None:
        return " – ".join(issuer_lines(dataset, lang, settings))
    kind, name = _province_parts(dataset)
    if name is None:
        return label("doc_issuer_national", lang)
    text = label(f"doc_issuer_{kind}", lang, name=name)
    return text.upper() if lang == "vi" else text


def number_line(settings: DocumentSettings, lang: str, rules: Rules) -> str:
    """ "Số 15-BC/BTCTU" (Party: HD 36, Phụ lục 3 item 3) or "Số: 15/BC-UBND" (State: ND 30,
    Phụ lục I, Mục II.3). Without a number, the word and room for the records clerk's."""
    if settings.number:
        return label(f"doc_number_{rules.kind}", lang, number=settings.number)
    blank = label("doc_number_blank", lang) + (
        ":" if rules.kind == "state" and lang == "vi" else ""
    )
    return blank + "\u00a0" * 12


def _date_line(dataset, lang: str, settings: DocumentSettings) -> str:
    day = settings.issued or date.today()
    if lang == "vi":
        # HD 36, Mục II.1.4 and ND 30, Phụ lục I, Mục II.4: days below 10 and months below 3
        # take a leading zero ("ngày 06 tháng 02 năm 2026").
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
    where = settings.place if settings.place is not None else _province_parts(dataset)[1]
    return label("doc_place_date", lang, place=where, date=text) if where else text


def add_title_block(
    doc: Document,
    dataset,
    lang: str,
    settings: DocumentSettings,
    subject: str,
    rules: Rules = STATE,
) -> None:
    """The header table (issuer and number left; title or motto, place and date right), then
    the document's type and subject, centred."""
    left_mm, right_mm = rules.left_mm, TEXT_MM - rules.left_mm
    table = doc.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _no_borders(table)
    for col, width in zip(table.columns, (left_mm, right_mm)):
        col.width = Mm(width)
        for cell in col.cells:
            cell.width = Mm(width)
    left, right = table.rows[0].cells
    lines = issuer_lines(dataset, lang, settings)
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        p = left.paragraphs[0] if i == 0 else left.add_paragraph()
        p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(line)
        # The superior body in regular type, the issuing body (the last line) in bold.
        run.font.size = Pt(rules.issuer_pt if last else rules.superior_pt)
        run.bold = last
    if rules.kind == "party":
        # HD 36, Mục II.1.2: an asterisk under the issuing body parts it from the number.
        add_paragraph(left, "*", align="center", size=rules.issuer_pt)
    else:
        # ND 30, Phụ lục I, Mục II.2: a line under the issuing body, 1/3 to 1/2 of its width.
        _rule(left, 25, left_mm)
    add_paragraph(
        left,
        number_line(settings, lang, rules),
        align="center",
        size=rules.number_pt,
        space_before=2,
    )
    date_line = _date_line(dataset, lang, settings)
    p = right.paragraphs[0]
    p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if rules.kind == "party":
        # HD 36, Mục II.1.1 and Phụ lục 3 item 1: top right, first line, upper case bold,
        # with a solid line under it as long as the title.
        head = label("doc_party_title", lang)
        run = p.add_run(head if lang != "vi" else head.upper())
        run.bold = True
        run.font.size = Pt(rules.head_pt)
        _borders(p, ["bottom"], size=6, space=1)
        _fit_width(p, right_mm, run.text, rules.head_pt, bold=True)
        add_paragraph(
            right, date_line, align="center", italic=True, size=rules.date_pt, space_before=8
        )
    elif lang == "vi":
        run = p.add_run(label("doc_motto_nation", lang))
        run.bold = True
        run.font.size = Pt(rules.head_pt)
        add_paragraph(
            right, label("doc_motto_words", lang), align="center", bold=True, size=rules.motto_pt
        )
        _rule(right, 62, right_mm)
        add_paragraph(
            right, date_line, align="center", italic=True, size=rules.date_pt, space_before=4
        )
    else:
        p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        run = p.add_run(date_line)
        run.italic = True
        run.font.size = Pt(rules.date_pt)
    add_paragraph(
        doc,
        label("doc_type_report", lang).upper(),
        align="center",
        bold=True,
        size=rules.doc_type_pt,
        space_before=18,
    )
    add_paragraph(doc, subject, align="center", bold=True, size=rules.subject_pt)
    if rules.kind == "party":
        # Under the subject, the Party's documents set five hyphens, centred.
        add_paragraph(doc, "-----", align="center", size=rules.subject_pt)
    else:
        _rule(doc, 40, TEXT_MM)


def _fit_width(paragraph, cell_mm: float, text: str, size: float, *, bold: bool) -> None:
    """Indent a paragraph so that its bottom border is about as long as its text (HD 36: the
    line under the title is as long as the title). Times New Roman capitals average about
    0.68 em (bold), a little less in regular type."""
    em_mm = size * 0.3528
    width = len(text) * em_mm * (0.68 if bold else 0.64)
    indent = max(0.0, (cell_mm - width) / 2 - 1)
    fmt = paragraph.paragraph_format
    fmt.left_indent = fmt.right_indent = Mm(indent)


def _no_borders(table) -> None:
    borders = _put(table._tbl.tblPr, "w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)


def add_synthetic_box(doc: Document, dataset, lang: str) -> None:
    """The full synthetic-data notice in a framed box under the title (the header repeats
    its first words on every page)."""
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
# Closing blocks: recipients (left) and signature (right)
# ---------------------------------------------------------------------------------------------


def add_closing_block(doc: Document, lang: str, settings: DocumentSettings, rules: Rules = STATE):
    """ "Nơi nhận" bottom left and the signature bottom right, side by side in a borderless
    table (HD 36, Mục II.1.7 and II.1.9; ND 30, Phụ lục I, Mục II.7 and II.9).

    Recipients: one per line, each after a hyphen and ending with a comma, the last with a
    full stop; without recipients, the archive line ("Lưu Văn phòng"; "Lưu: VT"). Signature:
    the authority ("K/T TRƯỞNG BAN"), the title, room for the signature and seal, the name;
    left out when no signer is set. Returns the table.
    """
    left_mm = 75
    right_mm = TEXT_MM - left_mm
    spacer = doc.add_paragraph()
    spacer.paragraph_format.space_before = Pt(6)
    spacer.paragraph_format.keep_with_next = True
    table = doc.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _no_borders(table)
    _put(table.rows[0]._tr.get_or_add_trPr(), "w:cantSplit")
    for col, width in zip(table.columns, (left_mm, right_mm)):
        col.width = Mm(width)
        for cell in col.cells:
            cell.width = Mm(width)
    left, right = table.rows[0].cells

    head = left.paragraphs[0]
    run = head.add_run(label(f"doc_recipients_{rules.kind}", lang))
    run.font.size = Pt(rules.recipients_head_pt)
    run.bold = rules.recipients_head_bold
    run.italic = rules.recipients_head_italic
    run.underline = rules.recipients_head_underline
    recipients = list(settings.recipients or ())
    if not recipients:
        recipients = [label(f"doc_recipient_archive_{rules.kind}", lang)]
    end = "," if rules.kind == "party" else ";"
    for i, name in enumerate(recipients):
        mark = "." if i == len(recipients) - 1 else end
        add_paragraph(left, f"- {name}{mark}", size=rules.recipients_pt)

    signer = [settings.signer_authority, settings.signer_title, settings.signer_name]
    if any(signer):
        first = True
        for text, size, bold in (
            (settings.signer_authority, rules.authority_pt, True),
            (settings.signer_title, rules.signer_title_pt, rules.signer_title_bold),
        ):
            if not text:
                continue
            shown = text.upper() if lang == "vi" else text
            p = right.paragraphs[0] if first else right.add_paragraph()
            p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
            r = p.add_run(shown)
            r.bold = bold
            r.font.size = Pt(size)
            first = False
        # Room for the signature and the seal.
        for _ in range(4):
            add_paragraph(right, "", align="center", size=rules.signer_name_pt)
        if settings.signer_name:
            add_paragraph(
                right, settings.signer_name, align="center", bold=True, size=rules.signer_name_pt
            )
    return table


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
