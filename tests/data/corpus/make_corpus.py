"""Build the input corpus: every case is the reference dataset, written the way a file arrives.

Run from the repository root (it rewrites ``tests/data/corpus/cases/``)::

    python tests/data/corpus/make_corpus.py

The reference (``reference/``: metadata.json, pilots.csv, panel.csv) is written by hand. Each
case below changes it in one way: an encoding, a separator, a number or date convention, a
planted mistake, or the workbook it was typed into. ``cases.csv`` (written by hand too) says,
for each case, whether it must read as the reference or be refused, and where the mistake is.

Everything here is deterministic and needs nothing outside the standard library: workbooks
are written as raw Office Open XML (not through openpyxl, so that its upgrades change nothing),
their parts stored uncompressed with a fixed timestamp (deflate output can differ between zlib
builds; bzip2's, used for the zip bomb, does not). ``tests/test_corpus.py`` re-runs
:func:`build` and checks the committed bytes.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import struct
import sys
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference"
CASES = HERE / "cases"

YEARS = (2017, 2018, 2019, 2020)
INDICATORS = ("so_cuoc_hop", "kinh_phi_hoat_dong", "dat_chuan_co_so")
# Rows of the workbook's indicator sheets: (name as the template writes it, code).
SHEET_UNITS = (
    ("Thành phố Sơn La", "116"),
    ("Huyện Quỳnh Nhai", "118"),
    ("Huyện Phù Yên", "122"),
    ("Huyện Mai Sơn", "125"),
)
UNIT_ROW = {"Thành phố Sơn La": 6, "Quỳnh Nhai": 7, "Phù Yên": 8, "Mai Sơn": 9}
YEAR_COL = {2017: "C", 2018: "D", 2019: "E", 2020: "F"}
_TONES = "\u0300\u0301\u0303\u0309\u0323"  # combining in Windows-1258


# ---------------------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------------------


def read_reference(folder: Path = REFERENCE) -> dict[str, str]:
    return {
        name: (folder / name).read_text(encoding="utf-8")
        for name in ("metadata.json", "pilots.csv", "panel.csv")
    }


def rows_of(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text, newline=""))]


def render(rows, delimiter=",", newline="\n", quoting=csv.QUOTE_MINIMAL) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=quoting).writerows(rows)
    return buf.getvalue()


def edit(text: str, row: int, column: str, value: str) -> str:
    """Set ``column`` of the 1-based line ``row`` (the header is row 1)."""
    rows = rows_of(text)
    rows[row - 1][rows[0].index(column)] = value
    return render(rows)


def map_values(rows, fn) -> list[list[str]]:
    """Apply ``fn`` to the ``value`` column of every data row."""
    col = rows[0].index("value")
    return [rows[0]] + [r[:col] + [fn(r[col], r)] + r[col + 1 :] for r in rows[1:]]


def comma_decimal(v: str) -> str:
    """2150.5 -> 2150,5 (Excel's General format on Vietnamese Windows)."""
    return v.replace(".", ",")


def vi_grouped(v: str) -> str:
    """2150.5 -> 2.150,5; 1010 -> 1.010; 0.8 -> 0,8 (format #.##0,## on Vietnamese Windows)."""
    whole, _, frac = v.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return ".".join(groups) + ("," + frac if frac else "")


def utf16(text: str) -> bytes:
    """UTF-16 little-endian with its BOM, as Windows writes it (whatever this machine is)."""
    return b"\xff\xfe" + text.encode("utf-16-le")


def to_cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: base letters precomposed, tone marks combining."""
    out = []
    for ch in text:
        try:
            out.append(ch.encode("cp1258"))
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
            tones = "".join(c for c in parts if c in _TONES)
            out.append((base + tones).encode("cp1258"))
    return b"".join(out)


# Legacy encodings, written here from the codes' definitions and independent of kiemnhiem's
# tables (the corpus then checks one against the other). Each string lists a vowel's forms in
# the order plain, huyền, hỏi, ngã, sắc, nặng.
_FORMS = {
    "a": "aàảãáạ", "ă": "ăằẳẵắặ", "â": "âầẩẫấậ", "e": "eèẻẽéẹ", "ê": "êềểễếệ",
    "i": "iìỉĩíị", "o": "oòỏõóọ", "ô": "ôồổỗốộ", "ơ": "ơờởỡớợ", "u": "uùủũúụ",
    "ư": "ưừửữứự", "y": "yỳỷỹýỵ",
}  # fmt: skip
# TCVN3 (ABC): one byte per form (plain a e i o u y are ASCII), shown as Windows-1252 glyphs.
_TCVN3 = {
    "a": "aµ¶·¸¹", "ă": "¨»¼½¾Æ", "â": "©ÇÈÉÊË", "e": "eÌÎÏÐÑ", "ê": "ªÒÓÔÕÖ",
    "i": "i×ØÜÝÞ", "o": "oßáâãä", "ô": "«åæçèé", "ơ": "¬êëìíî", "u": "uïñòóô",
    "ư": "\u00adõö÷øù", "y": "yúûüýþ",
}  # fmt: skip
_TCVN3_CAPITALS = {"Ă": "¡", "Â": "¢", "Ê": "£", "Ô": "¤", "Ơ": "¥", "Ư": "¦", "Đ": "§", "đ": "®"}


def to_tcvn3(text: str) -> str:
    """Text as typed with a .VnTime font, as a Unicode program shows it."""
    table = dict(_TCVN3_CAPITALS)
    for vowel, forms in _FORMS.items():
        for form, glyph in zip(forms, _TCVN3[vowel]):
            table.setdefault(form, glyph)
    return "".join(table.get(ch, ch) for ch in unicodedata.normalize("NFC", text))


def to_vni(text: str) -> str:
    """Text as typed with a VNI-Times font: base letter then diacritic glyphs."""
    tones = "øûõùï"  # huyền, hỏi, ngã, sắc, nặng after a e o u y ơ ư
    hat = "àåãáä"  # the same after â ê ô (written a e o + â)
    breve = "èúüéë"  # the same after ă (written a + ê)
    lower = {"đ": "ñ", "ơ": "ô", "ư": "ö", "â": "aâ", "ê": "eâ", "ô": "oâ", "ă": "aê"}
    for vowel, forms in _FORMS.items():
        for k, form in enumerate(forms[1:]):
            if vowel in "aeouy":
                lower[form] = vowel + tones[k]
            elif vowel in "âêô":
                lower[form] = vowel.replace("â", "a").replace("ê", "e").replace("ô", "o") + hat[k]
            elif vowel == "ă":
                lower[form] = "a" + breve[k]
            elif vowel in "ơư":
                lower[form] = lower[vowel] + tones[k]
            elif vowel == "i":
                lower[form] = "ìæóíò"[k]
    lower["ỵ"] = "î"
    table = dict(lower)
    table.update({k.upper(): v.upper() for k, v in lower.items()})
    return "".join(table.get(ch, ch) for ch in unicodedata.normalize("NFC", text))


# ---------------------------------------------------------------------------------------------
# Workbooks, written as raw Office Open XML
# ---------------------------------------------------------------------------------------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
BILLION_LAUGHS = (
    '<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
)


@dataclass
class Formula:
    """A formula cell; ``value`` is what Excel saved with it (None: never calculated)."""

    expr: str
    value: float | int | None = None
    shared: str | None = None  # "ref" of the group's first cell, or "" for a follower


@dataclass
class DateCell:
    """A number shown as a date (Excel's built-in format 14)."""

    serial: int


@dataclass
class Inline:
    """A string stored in the cell (``t="inlineStr"``) rather than in sharedStrings."""

    text: str


@dataclass
class Sheet:
    name: str
    cells: dict[str, object]
    state: str | None = None  # "hidden", "veryHidden"
    merged: list[str] = field(default_factory=list)
    prolog: str = ""  # text between the XML declaration and the root (the XML bomb)
    hidden_rows: list[int] = field(default_factory=list)
    hidden_columns: list[int] = field(default_factory=list)
    padding: int = 0  # bytes of blanks inside sheetData (the zip bomb)


def _split_ref(ref: str) -> tuple[int, int]:
    letters = ref.rstrip("0123456789")
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return int(ref[len(letters) :]), col


def _number(v: float | int) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(v)


def _sheet_xml(sheet: Sheet, strings: dict[str, int]) -> list:
    """The sheet's XML in pieces: bytes, or a number of blanks (a zip bomb's padding)."""
    by_row: dict[int, list[tuple[int, str, object]]] = {}
    for ref, value in sheet.cells.items():
        row, col = _split_ref(ref)
        by_row.setdefault(row, []).append((col, ref, value))
    body = []
    for row in sorted(by_row):
        cells = []
        for _col, ref, value in sorted(by_row[row], key=lambda t: t[0]):
            if isinstance(value, bool):
                cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, int | float):
                cells.append(f'<c r="{ref}"><v>{_number(value)}</v></c>')
            elif isinstance(value, DateCell):
                cells.append(f'<c r="{ref}" s="1"><v>{value.serial}</v></c>')
            elif isinstance(value, Inline):
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{value.text}</t></is></c>')
            elif isinstance(value, Formula):
                attrs = ""
                if value.shared is not None:
                    attrs = ' t="shared" si="0"' + (
                        f' ref="{value.shared}"' if value.shared else ""
                    )
                expr = escape(value.expr)
                saved = "" if value.value is None else f"<v>{_number(value.value)}</v>"
                cells.append(f'<c r="{ref}"><f{attrs}>{expr}</f>{saved}</c>')
            else:
                index = strings.setdefault(str(value), len(strings))
                cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
        hidden = ' hidden="1"' if row in sheet.hidden_rows else ""
        body.append(f'<row r="{row}"{hidden}>{"".join(cells)}</row>')
    merged = ""
    if sheet.merged:
        refs = "".join(f'<mergeCell ref="{m}"/>' for m in sheet.merged)
        merged = f'<mergeCells count="{len(sheet.merged)}">{refs}</mergeCells>'
    cols = "".join(
        f'<col min="{c}" max="{c}" width="9" hidden="1" customWidth="1"/>'
        for c in sheet.hidden_columns
    )
    cols = f"<cols>{cols}</cols>" if cols else ""
    head = f'{_DECL}{sheet.prolog}<worksheet xmlns="{_MAIN}" xmlns:r="{_DOC_REL}">{cols}<sheetData>'
    tail = f"{''.join(body)}</sheetData>{merged}</worksheet>"
    pieces: list = [head.encode("utf-8")]
    if sheet.padding:
        pieces.append(sheet.padding)  # written as blanks, chunk by chunk
    pieces.append(tail.encode("utf-8"))
    return pieces


_STYLES = (
    f'{_DECL}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def write_workbook(
    path: Path, sheets: list[Sheet], *, strings_prolog: str = "", book_prolog: str = ""
) -> None:
    """A workbook as Excel lays it out (shared strings, one part per sheet), stored."""
    strings: dict[str, int] = {}
    parts: list[tuple[str, list[bytes], int]] = []
    for i, sheet in enumerate(sheets, start=1):
        method = zipfile.ZIP_BZIP2 if sheet.padding else zipfile.ZIP_STORED
        parts.append((f"xl/worksheets/sheet{i}.xml", _sheet_xml(sheet, strings), method))
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    content_types = (
        f'{_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f"{overrides}"
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
        "</Types>"
    )
    root_rels = (
        f'{_DECL}<Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_DOC_REL}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    entries = []
    for i, sheet in enumerate(sheets, start=1):
        state = f' state="{sheet.state}"' if sheet.state else ""
        entries.append(f'<sheet name="{escape(sheet.name)}" sheetId="{i}"{state} r:id="rId{i}"/>')
    workbook = (
        f'{_DECL}{book_prolog}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_REL}">'
        f'<bookViews><workbookView activeTab="{_first_visible(sheets)}"/></bookViews>'
        f"<sheets>{''.join(entries)}</sheets></workbook>"
    )
    n = len(sheets)
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n + 1)
    )
    book_rels = (
        f'{_DECL}<Relationships xmlns="{_PKG_REL}">{rels}'
        f'<Relationship Id="rId{n + 1}" Type="{_DOC_REL}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId{n + 2}" Type="{_DOC_REL}/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>'
    )
    items = "".join(
        f'<si><t xml:space="preserve">{escape(s)}</t></si>'
        if not s.startswith("&")
        else f"<si><t>{s}</t></si>"  # an entity reference, left for the parser to expand
        for s in strings
    )
    shared = (
        f'{_DECL}{strings_prolog}<sst xmlns="{_MAIN}" count="{len(strings)}" '
        f'uniqueCount="{len(strings)}">{items}</sst>'
    )
    stored = zipfile.ZIP_STORED
    ordered = [
        ("[Content_Types].xml", [content_types.encode()], stored),
        ("_rels/.rels", [root_rels.encode()], stored),
        ("xl/workbook.xml", [workbook.encode()], stored),
        ("xl/_rels/workbook.xml.rels", [book_rels.encode()], stored),
        ("xl/styles.xml", [_STYLES.encode()], stored),
        ("xl/sharedStrings.xml", [shared.encode()], stored),
        *parts,
    ]
    write_zip(path, ordered)


def _first_visible(sheets: list[Sheet]) -> int:
    return next((i for i, s in enumerate(sheets) if not s.state), 0)


def write_zip(path: Path, members) -> None:
    """A zip with fixed timestamps and attributes, so that it is byte-identical per run."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, pieces, method in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = method
            info.create_system = 0
            info.external_attr = 0
            with zf.open(info, "w", force_zip64=False) as fh:
                for piece in pieces:
                    if isinstance(piece, int):
                        block = b" " * (1 << 20)
                        for _ in range(piece >> 20):
                            fh.write(block)
                        fh.write(b" " * (piece % (1 << 20)))
                    else:
                        fh.write(piece)


def reference_sheets(ref: dict[str, str]) -> list[Sheet]:
    """The reference dataset typed into the template's layout (DESIGN.md "Workbook layout")."""
    meta = json.loads(ref["metadata.json"])
    info = {
        "A1": "Thông tin bộ dữ liệu / Dataset information",
        "A2": "key",
        "B2": "value",
        "C2": "description",
    }
    keys = ("name", "province", "synthetic", "description", "source", "data_end")
    for row, key in enumerate(keys, start=3):
        info[f"A{row}"] = key
        info[f"B{row}"] = meta[key]
    pilots = {
        "A1": "Đơn vị / Unit",
        "B1": "Mô hình / Model",
        "C1": "Bắt đầu / Start",
        "D1": "Độ chính xác / Precision",
        "E1": "Tình trạng / Status",
        "F1": "Kết thúc / End",
        "G1": "Nguồn / Source",
    }
    prows = rows_of(ref["pilots.csv"])
    for col, code in zip("ABCDEFG", prows[0]):
        pilots[f"{col}2"] = code
    for r, rec in enumerate(prows[1:], start=3):
        for col, value in zip("ABCDEFG", rec):
            if value:
                pilots[f"{col}{r}"] = value
    sheets = [
        Sheet("huong_dan", {"A1": "Hướng dẫn nhập số liệu", "A2": "How to fill in this workbook"}),
        Sheet("thong_tin", info),
        Sheet("thi_diem", pilots),
    ]
    values = {}
    for unit, period, indicator, value, _note in rows_of(ref["panel.csv"])[1:]:
        values.setdefault(indicator, {})[f"{YEAR_COL[int(period)]}{UNIT_ROW[unit]}"] = value
    labels = {
        "so_cuoc_hop": "Số cuộc họp / Meetings held",
        "kinh_phi_hoat_dong": "Kinh phí hoạt động (triệu đồng) / Running costs (million VND)",
        "dat_chuan_co_so": "Tỷ lệ cơ sở đạt chuẩn / Facilities up to standard",
        "xep_loai": "Xếp loại hằng năm / Annual rating",
    }
    for indicator in [*INDICATORS, *(i for i in values if i not in INDICATORS)]:
        cells: dict[str, object] = {
            "A1": labels[indicator],
            "A2": "Đơn vị tính / Unit of measure",
            "A5": "unit",
            "B5": "code",
        }
        for year, col in YEAR_COL.items():
            cells[f"{col}5"] = year
        for row, (name, code) in enumerate(SHEET_UNITS, start=6):
            cells[f"A{row}"], cells[f"B{row}"] = name, code
        for ref_, text in values[indicator].items():
            cells[ref_] = float(text) if "." in text else int(text)
        sheets.append(Sheet(indicator, cells))
    return sheets


def sheet(sheets: list[Sheet], name: str) -> Sheet:
    return next(s for s in sheets if s.name == name)


# ---------------------------------------------------------------------------------------------
# Files that are not workbooks
# ---------------------------------------------------------------------------------------------


def png_1x1() -> bytes:
    """A valid 1x1 white PNG, its pixel data in a stored deflate block (no zlib variance)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"\x00\xff\xff\xff"  # filter byte, one RGB pixel
    stored = b"\x01" + struct.pack("<HH", len(raw), 0xFFFF ^ len(raw)) + raw
    idat = b"\x78\x01" + stored + struct.pack(">I", zlib.adler32(raw))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def cfb_encrypted(streams: tuple[str, str] = ("EncryptionInfo", "EncryptedPackage")) -> bytes:
    """The compound-file (OLE/CFB) container Excel writes for a password-protected workbook.

    Only its skeleton: the header, a FAT sector and a directory naming the ``EncryptionInfo``
    and ``EncryptedPackage`` streams (left empty). A reader needs no more to recognize it.
    """
    free, end, fat = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    header = bytearray(512)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 24, 0x003E, 0x0003, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 40, 0, 1, 1, 0, 0x1000, end, 0, end, 0)
    struct.pack_into("<I", header, 76, 0)  # DIFAT[0]: the FAT is sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * i, free)
    fat_sector = struct.pack("<II", fat, end) + struct.pack("<I", free) * 126

    def entry(name: str, kind: int, left=free, right=free, child=free) -> bytes:
        raw = bytearray(128)
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        raw[0 : len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 64, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 68, left, right, child)
        struct.pack_into("<IQ", raw, 116, end, 0)
        return bytes(raw)

    directory = (
        entry("Root Entry", 5, child=1)
        + entry(streams[0], 2, right=2)
        + entry(streams[1], 2)
        + entry("", 0)
    )
    return bytes(header) + fat_sector + directory


# ---------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------


def csv_cases(ref: dict[str, str]) -> dict[str, dict[str, bytes | str | None]]:
    """Folder cases: {case: {file: text or bytes; None leaves the file out}}."""
    meta, pilots, panel = ref["metadata.json"], ref["pilots.csv"], ref["panel.csv"]
    prows, vrows = rows_of(pilots), rows_of(panel)
    crlf = {"newline": "\r\n"}
    cases: dict[str, dict[str, bytes | str | None]] = {}

    def case(name, **changed):
        files = {"metadata.json": meta, "pilots.csv": pilots, "panel.csv": panel}
        files.update(
            {k.replace("_json", ".json").replace("_csv", ".csv"): v for k, v in changed.items()}
        )
        cases[name] = files

    # -- read as the reference --
    tab_comma = render(map_values(vrows, lambda v, r: comma_decimal(v)), "\t", **crlf)
    case(
        "utf16_tab_bom",  # Excel's "Unicode text": UTF-16 LE with BOM, tabs, CRLF
        pilots_csv=utf16(render(prows, "\t", **crlf)),
        panel_csv=utf16(tab_comma),
    )
    case(
        "utf16_tab_thousands_dots",  # the same, numbers formatted #.##0,## (1.010 is 1010)
        panel_csv=utf16(render(map_values(vrows, lambda v, r: vi_grouped(v)), "\t", **crlf)),
    )
    case(
        "utf16_be_bom",
        metadata_json=b"\xfe\xff" + meta.encode("utf-16-be"),
        pilots_csv=b"\xfe\xff" + pilots.encode("utf-16-be"),
        panel_csv=b"\xfe\xff" + panel.encode("utf-16-be"),
    )
    case(
        "utf8_bom",
        metadata_json=b"\xef\xbb\xbf" + meta.encode(),
        pilots_csv=b"\xef\xbb\xbf" + pilots.encode(),
        panel_csv=b"\xef\xbb\xbf" + panel.encode(),
    )
    case("cp1258_combining", pilots_csv=to_cp1258(pilots), panel_csv=to_cp1258(panel))
    case(
        "nfd_utf8",  # decomposed accents, as macOS writes names
        pilots_csv=unicodedata.normalize("NFD", pilots).encode(),
        panel_csv=unicodedata.normalize("NFD", panel).encode(),
    )
    semi = map_values(vrows, lambda v, r: comma_decimal(v))
    case("semicolons", pilots_csv=render(prows, ";"), panel_csv=render(semi, ";"))
    case(
        "decimal_comma_quoted",  # comma-separated, decimal commas in quoted fields
        panel_csv=render(map_values(vrows, lambda v, r: comma_decimal(v))),
    )
    case(
        "thousands_dots",  # semicolons, thousands dots and decimal commas
        panel_csv=render(map_values(vrows, lambda v, r: vi_grouped(v)), ";"),
    )
    case(
        "thousands_spaces",  # thousands grouped by no-break spaces
        panel_csv=render(
            map_values(vrows, lambda v, r: vi_grouped(v).replace(".", "\u00a0").replace(",", "."))
        ),
    )
    case(
        "share_percent",  # shares typed as percentages
        panel_csv=render(
            map_values(
                vrows,
                lambda v, r: f"{round(float(v) * 100):d}%" if r[2] == "dat_chuan_co_so" else v,
            )
        ),
    )
    case(
        "excel_serial_dates",
        pilots_csv=edit(edit(pilots, 2, "start", "43313"), 3, "start", "43466"),
    )
    case(
        "dates_dd_mm_yyyy",
        pilots_csv=edit(edit(pilots, 2, "start", "01/08/2018"), 3, "start", "01/01/2019"),
    )
    case("dates_mm_yyyy", pilots_csv=edit(pilots, 2, "start", "08/2018"))
    case(
        "crlf",
        metadata_json=meta.replace("\n", "\r\n"),
        pilots_csv=pilots.replace("\n", "\r\n"),
        panel_csv=panel.replace("\n", "\r\n"),
    )
    case("trailing_blank_lines", pilots_csv=pilots + "\n\n", panel_csv=panel + "\n \n\n\t\n")
    case(
        "trailing_separator_rows",  # formatted empty rows, as Excel saves them
        pilots_csv=render(prows, ";", **crlf) + ";;;;;;\r\n;;;;;;\r\n",
        panel_csv=render(semi, ";", **crlf) + ";;;;\r\n" * 3,
    )
    case(
        "trailing_empty_columns",  # cells right of the table once formatted, then emptied
        pilots_csv=render([r + ["", ""] for r in prows]),
        panel_csv=render([r + [""] for r in vrows]),
    )
    case(
        "excel_vi_csv",  # "CSV" from Excel on Vietnamese Windows: cp1258, ;, CRLF, 1.234,5
        metadata_json=to_cp1258(meta),
        pilots_csv=to_cp1258(render(prows, ";", **crlf)),
        panel_csv=to_cp1258(
            render(map_values(vrows, lambda v, r: vi_grouped(v)), ";", **crlf) + ";;;;\r\n"
        ),
    )
    case(
        "bom_semicolon_cp1258_mix",  # each file from a different program
        metadata_json=b"\xef\xbb\xbf" + meta.encode(),
        pilots_csv=b"\xef\xbb\xbf" + render(prows, ";").encode(),
        panel_csv=to_cp1258(render(semi, ";", **crlf)),
    )
    spellings = {
        "Thành phố Sơn La": ["116", "TP. Sơn La", "thành phố sơn la", "Tp Sơn La"],
        "Quỳnh Nhai": ["Huyện Quỳnh Nhai", "Huyen Quynh Nhai", "118", "QUỲNH NHAI"],
        "Phù Yên": ["phu yen", "Huyện Phù Yên", "  Phù  Yên ", "122"],
        "Mai Sơn": ["Mai Son", "huyện mai sơn", "125", "MAI SƠN"],
    }
    renamed = [vrows[0]] + [
        [spellings[r[0]][(i // 3) % 4], *r[1:]] for i, r in enumerate(vrows[1:])
    ]
    case(
        "unit_spellings",
        pilots_csv=edit(edit(pilots, 2, "unit", "Huyện Phù Yên"), 3, "unit", "118"),
        panel_csv=render(renamed),
    )
    case(
        "header_case_spaces",
        pilots_csv=pilots.replace("unit,model", " Unit , MODEL ", 1),
        panel_csv=panel.replace(
            "unit,period,indicator,value,note", "UNIT,Period , Indicator,VALUE,Note", 1
        ),
    )
    case("quoted_fields", panel_csv=render(vrows, quoting=csv.QUOTE_ALL))

    # -- refused --
    bad = to_cp1258(panel).split(b"\n")
    bad[29] = bad[29] + b"\x81"  # row 30 (line 30): a byte neither UTF-8 nor Windows-1258
    case("undecodable_bytes", panel_csv=b"\n".join(bad))
    case("utf16_no_bom", panel_csv=panel.encode("utf-16-le"))
    bom_lines = panel.encode().split(b"\n")
    bom_lines[11] += b"\xff"  # line 12: never valid in UTF-8, whatever the BOM says
    case("utf8_bom_bad_bytes", panel_csv=b"\xef\xbb\xbf" + b"\n".join(bom_lines))
    case("utf16_truncated", pilots_csv=utf16(pilots)[:-1])  # cut inside its last character
    meta_lines = meta.encode().split(b"\n")
    meta_lines[4] = meta_lines[4].replace("bịa".encode(), b"b\xc3(a")  # line 5
    case("metadata_bad_bytes", metadata_json=b"\xef\xbb\xbf" + b"\n".join(meta_lines))
    case("empty_file", panel_csv=b"")
    case("blank_file", pilots_csv="\r\n  \r\n\r\n")
    case("header_only", panel_csv=panel.splitlines(keepends=True)[0])
    case("missing_file", pilots_csv=None)
    case("missing_column", panel_csv=render([r[:3] + r[4:] for r in vrows]))
    case(
        "extra_column",
        panel_csv=render([vrows[0] + ["nguoi_nhap"]] + [r + ["An"] for r in vrows[1:]]),
    )
    case("misspelled_column", panel_csv=panel.replace(",value,", ",valeu,", 1))
    short = [list(r) for r in vrows]
    short[19] = short[19][:4]  # line 20 lost its last cell
    case("ragged_row", panel_csv=render(short))
    case("unknown_unit", panel_csv=edit(panel, 14, "unit", "Huyện Núi Xanh"))
    case("misspelled_unit", panel_csv=edit(panel, 26, "unit", "Phù Yen"))
    national = json.loads(meta)
    del national["province"]
    case(
        "ambiguous_unit",  # a multi-province dataset: a bare name shared by several units
        metadata_json=json.dumps(national, ensure_ascii=False, indent=2) + "\n",
        panel_csv=edit(panel, 38, "unit", "Châu Thành"),
    )
    case("unit_other_province", pilots_csv=edit(pilots, 3, "unit", "Mường Tè"))
    case("unknown_model", pilots_csv=edit(pilots, 2, "model", "tuyengiao_ttctt"))
    case("unknown_indicator", panel_csv=edit(panel, 6, "indicator", "kinh_phi"))
    case("duplicate_row", panel_csv=panel + "Phù Yên,2018,so_cuoc_hop,12,\n")  # line 50 = 27
    case(
        "duplicate_pilot", pilots_csv=pilots + "Huyện Phù Yên,tuyengiao_ttct,2019,year,assumed,,\n"
    )
    case("negative_count", panel_csv=edit(panel, 3, "value", "-14"))
    case("fractional_count", panel_csv=edit(panel, 16, "value", "10.5"))
    case("text_in_number", panel_csv=edit(panel, 7, "value", "hai nghìn"))
    case("share_over_one", panel_csv=edit(panel, 47, "value", "150%"))
    case(
        "tab_ambiguous_number",  # tabs say nothing about the decimal mark; no value shows it
        panel_csv=render(
            [vrows[0]]
            + [r for r in vrows[1:] if r[2] == "so_cuoc_hop"]
            + [["Quỳnh Nhai", "2018", "kinh_phi_hoat_dong", "1.250", ""]],
            "\t",
        ),
    )
    case("month_13", panel_csv=edit(panel, 4, "period", "2018-13"))
    case("year_1899", panel_csv=edit(panel, 5, "period", "1899"))
    case("future_year", panel_csv=edit(panel, 49, "period", "2090"))
    case("start_outside_data", pilots_csv=edit(pilots, 3, "start", "01/01/2010"))
    case("end_before_start", pilots_csv=edit(pilots, 2, "end", "2017-12-31"))
    case("month_first_date", pilots_csv=edit(pilots, 3, "start", "08/15/2018"))
    case("start_less_precise", pilots_csv=edit(pilots, 3, "start", "2019"))
    case(
        "metadata_not_json", metadata_json=meta.replace('"synthetic": true,', "'synthetic': true,")
    )

    # -- issue 14: what district offices send ---------------------------------------------------
    names = ("Thành phố Sơn La", "Quỳnh Nhai", "Phù Yên", "Mai Sơn")

    def legacy_units(rows, encode):
        """Unit names (and the pilots' sources) typed with a legacy font."""
        return [rows[0]] + [[encode(r[0]), *r[1:]] for r in rows[1:]]

    # read as the reference
    grouped_comma = map_values(vrows, lambda v, r: vi_grouped(v))
    case(
        "thousands_dots_comma_file",  # LibreOffice in Vietnamese: 2.150,5 and 1.010, comma file
        panel_csv=render(grouped_comma),
    )
    case(
        "tcvn3_names_utf8",  # .VnTime names in a UTF-8 file: "Thµnh phè S¬n La", "Quúnh Nhai"
        pilots_csv=render(legacy_units(prows, to_tcvn3)),
        panel_csv=render(legacy_units(vrows, to_tcvn3)),
    )
    case(
        "vni_names_utf8",  # VNI-Times names: "Thaønh phoá Sôn La", "Mai Sôn"
        pilots_csv=render(legacy_units(prows, to_vni)),
        panel_csv=render(legacy_units(vrows, to_vni)),
    )
    case(
        "tcvn3_bytes",  # saved by a program using .VnTime: the TCVN3 bytes themselves
        panel_csv=to_tcvn3(panel).encode("latin-1"),
    )
    case(
        "vni_bytes",  # the same with VNI-Times, semicolons, decimal commas
        pilots_csv=to_vni(render(prows, ";")).encode("latin-1"),
    )
    legacy_meta = json.loads(meta)
    legacy_meta["name"] = to_tcvn3(legacy_meta["name"])
    case(
        "tcvn3_dataset_name",  # the name every report prints, typed with .VnTime
        metadata_json=json.dumps(legacy_meta, ensure_ascii=False, indent=2) + "\n",
    )
    hidden = {"Thành phố Sơn La": "Thành\u00a0phố Sơn\u200b La", "Quỳnh Nhai": "Quỳnh\u00ad Nhai",
              "Phù Yên": "\ufeffPhù Yên", "Mai Sơn": "Mai\u200d Sơn"}  # fmt: skip
    case(
        "invisible_characters",  # zero-width space and joiner, soft hyphen, BOM, no-break space
        panel_csv=render([vrows[0]] + [[hidden[r[0]], *r[1:]] for r in vrows[1:]]),
    )
    case(
        "dates_day_first_shown",  # 15/08/2018 shows the order; 01/01/2019 reads either way
        pilots_csv=edit(edit(pilots, 2, "start", "15/08/2018"), 3, "start", "01/01/2019"),
    )

    # refused, each with its own message
    case(
        "comma_file_thousands_unshown",  # "2.210" in a comma file whose numbers show no mark
        panel_csv=render(
            [vrows[0]]
            + [r for r in vrows[1:] if r[2] == "so_cuoc_hop"]
            + [["Thành phố Sơn La", "2018", "kinh_phi_hoat_dong", "2.210", ""]]
        ),
    )
    case(
        "comma_file_thousands_dot_decimal",  # "2.210" where 0.82 shows a decimal dot: 2.21
        panel_csv=edit(panel, 7, "value", "2.210"),
    )
    case("magnitude_dong", panel_csv=edit(panel, 32, "value", "1105500000"))  # đồng
    case("value_with_unit_word", panel_csv=edit(panel, 2, "value", "15 cuộc"))
    case("value_dash", panel_csv=edit(panel, 15, "value", "-"))
    case("value_dots", panel_csv=edit(panel, 27, "value", "..."))
    case("value_x", panel_csv=edit(panel, 40, "value", "x"))
    case("value_excel_error", panel_csv=edit(panel, 19, "value", "#REF!"))
    case("value_rating_word", panel_csv=edit(panel, 3, "value", "HTTNV"))
    case("share_as_percent_number", panel_csv=edit(panel, 11, "value", "55"))
    case("legacy_unsure", panel_csv=edit(panel, 26, "unit", "HuyÖn Phuø"))
    mixed = panel.encode("utf-8").split(b"\n")
    mixed[39:] = [to_cp1258(line.decode("utf-8")) for line in mixed[39:]]
    case("mixed_encodings", panel_csv=b"\n".join(mixed))  # lines 40 on: Windows-1258
    case(
        "title_lines",  # the report's heading above the header
        panel_csv="BÁO CÁO SỐ LIỆU CÁC HUYỆN,,,,\n(Kèm theo Công văn số 12),,,,\n" + panel,
    )
    case(
        "repeated_header",  # two files joined by copy and paste
        panel_csv=panel + "unit,period,indicator,value,note\n",
    )
    case("totals_row", panel_csv=panel + "Tổng cộng,2017,so_cuoc_hop,48,\n")
    case("province_name_row", panel_csv=panel + "Sơn La,2017,so_cuoc_hop,48,\n")
    case(
        "signature_block",
        panel_csv=panel + ',,,,\nNgười lập biểu,,,,\n"(Ký, ghi rõ họ tên)",,,,\nLò Văn A,,,,\n',
    )
    case("signature_one_cell", panel_csv=panel + "Thủ trưởng đơn vị\n")
    case(
        "notes_column",  # "Ghi chú" beside the panel's own note column name
        panel_csv=render([r[:4] + [("Ghi chú" if k == 0 else r[4])] for k, r in enumerate(vrows)]),
    )
    case(
        "notes_column_pilots",
        pilots_csv=render([r + [("Ghi chú" if k == 0 else "")] for k, r in enumerate(prows)]),
    )
    case("us_date_unshown", pilots_csv=edit(pilots, 2, "start", "8/1/2018"))  # 1 August?
    case(
        "us_dates_shown",  # 12/31/2018 shows month first: never read day first
        pilots_csv=edit(edit(pilots, 2, "start", "8/1/2018"), 3, "start", "12/31/2018"),
    )
    case("date_empty", pilots_csv=edit(pilots, 3, "start", ""))
    case(
        "merged_province_unit",  # a Yên Bái district named with the province it merged into
        metadata_json=json.dumps(national, ensure_ascii=False, indent=2) + "\n",
        panel_csv=edit(panel, 38, "unit", "Văn Yên, Lào Cai"),
    )
    case(
        "unit_of_merged_province",  # Văn Yên (Yên Bái) in a Lào Cai dataset
        metadata_json=meta.replace('"Sơn La"', '"Lào Cai"'),
        panel_csv=render([vrows[0], ["Văn Yên", "2017", "so_cuoc_hop", "9", ""]]),
        pilots_csv=render([prows[0], ["Bảo Thắng", *prows[1][1:]]]),
    )
    garbled = json.loads(meta)
    garbled["name"] = "Bé d÷ liÖu Phuø"
    case(
        "metadata_legacy_unsure",
        metadata_json=json.dumps(garbled, ensure_ascii=False, indent=2) + "\n",
    )
    case("value_with_word_trieu", panel_csv=edit(panel, 30, "value", "980,25 triệu"))
    del names
    return cases


def workbook_cases(ref: dict[str, str]) -> dict[str, object]:
    """Workbook cases: {case: list of sheets, or the file's bytes}."""
    cases: dict[str, object] = {}

    def case(name, change=None, **kwargs):
        sheets = reference_sheets(ref)
        if change is not None:
            change(sheets)
        cases[name] = (sheets, kwargs)

    # -- read as the reference --
    case("wb_reference")

    def formulas(sheets):
        cost = sheet(sheets, "kinh_phi_hoat_dong").cells
        cost["C6"] = Formula("2000+150.5", 2150.5)
        cost["D6"] = Formula("C6+59.5", 2210)
        meetings = sheet(sheets, "so_cuoc_hop").cells
        # 2020 = 2019 - 1 for every unit, filled down: Excel writes one shared formula, its
        # text in F6 only, and the saved value in every cell.
        for row in (6, 7, 8, 9):
            saved = meetings[f"F{row}"]
            meetings[f"F{row}"] = Formula(
                "E6-1" if row == 6 else "", saved, shared="F6:F9" if row == 6 else ""
            )
        share = sheet(sheets, "dat_chuan_co_so").cells
        share["F9"] = Formula("E9+0.05", 0.6)

    case("wb_formulas_saved", formulas)

    def helper_sheet(sheets):
        sheets.append(
            Sheet(
                "_ghi_chu",
                {"A1": "Nháp: không phải số liệu", "B2": "abc", "C3": -5, "D4": Formula("1/0")},
                state="hidden",
                merged=["A1:C1"],
            )
        )

    case("wb_hidden_helper_sheet", helper_sheet)

    def hide_data(sheets):
        for s in sheets:
            if s.name in INDICATORS:
                s.state = "hidden"
        sheet(sheets, "thi_diem").state = "veryHidden"

    case("wb_hidden_data_sheets", hide_data)

    def text_cells(sheets):
        for s in sheets:
            if s.name in INDICATORS:
                for ref_, v in list(s.cells.items()):
                    if ref_[0] in "CDEF" and ref_[1:] != "5" and isinstance(v, int | float):
                        text = vi_grouped(_number(v))
                        if s.name == "dat_chuan_co_so":
                            text = f"{round(v * 100)}%"
                        s.cells[ref_] = text
                for year, col in YEAR_COL.items():
                    s.cells[f"{col}5"] = str(year)  # year headers typed as text

    case("wb_text_cells", text_cells)

    def date_cells(sheets):
        pilots = sheet(sheets, "thi_diem").cells
        pilots["C3"] = DateCell(43313)  # 1 August 2018, with precision "month"
        pilots["C4"] = DateCell(43466)  # 1 January 2019

    case("wb_date_cells", date_cells)

    def inline(sheets):
        for s in sheets:
            for ref_, v in list(s.cells.items()):
                if isinstance(v, str) and ref_.startswith("A") and ref_ != "A1":
                    s.cells[ref_] = Inline(escape(v))

    case("wb_inline_strings", inline)

    def folded_names(sheets):
        sheet(sheets, "thong_tin").name = "Thông tin"
        sheet(sheets, "thi_diem").name = "Thí điểm"
        sheet(sheets, "so_cuoc_hop").name = "SO_CUOC_HOP"

    case("wb_sheet_names_folded", folded_names)

    # -- refused --
    def no_value(sheets):
        sheet(sheets, "so_cuoc_hop").cells["D7"] = Formula("C7+1")

    case("wb_formula_no_value", no_value)

    def merged(sheets):
        s = sheet(sheets, "kinh_phi_hoat_dong")
        s.merged.append("D8:E8")
        del s.cells["E8"]

    case("wb_merged_cells", merged)

    def renamed(sheets):
        sheet(sheets, "thi_diem").name = "thi_diem (2)"

    case("wb_renamed_sheet", renamed)

    def missing(sheets):
        sheets.remove(sheet(sheets, "thong_tin"))

    case("wb_missing_sheet", missing)

    def hidden_unknown(sheets):
        sheets.append(Sheet("Sheet2", {"A1": "tạm"}, state="hidden"))

    case("wb_hidden_unknown_sheet", hidden_unknown)

    def negative(sheets):
        sheet(sheets, "so_cuoc_hop").cells["E8"] = -3

    case("wb_negative_cell", negative)

    def text_number(sheets):
        sheet(sheets, "kinh_phi_hoat_dong").cells["C9"] = "khoảng 1.500"

    case("wb_text_in_number", text_number)

    def other_province(sheets):
        cells = sheet(sheets, "so_cuoc_hop").cells
        cells["A10"], cells["C10"] = "Huyện Mường Tè", 7

    case("wb_unit_other_province", other_province)

    def bad_start(sheets):
        sheet(sheets, "thi_diem").cells["C4"] = "15/13/2018"

    case("wb_bad_date", bad_start)

    def bomb(sheets):
        sheet(sheets, "so_cuoc_hop").padding = 256 << 20  # 256 MiB of blanks, ~1 KB bzip2

    case("wb_zip_bomb", bomb)

    def entity_sheet(sheets):
        s = sheet(sheets, "so_cuoc_hop")
        s.prolog = BILLION_LAUGHS
        s.cells["A10"] = Inline("&lol9;")

    case("wb_xml_bomb_sheet", entity_sheet)

    def entity_strings(sheets):
        sheet(sheets, "huong_dan").cells["A3"] = "&lol9;"

    case("wb_xml_bomb_shared_strings", entity_strings, strings_prolog=BILLION_LAUGHS)
    # workbook.xml is parsed by lxml (entities left unresolved), not defusedxml: declared only.
    case("wb_xml_bomb_workbook", book_prolog=BILLION_LAUGHS)

    # -- issue 14 --
    def tcvn3_names(sheets):
        for s in sheets:
            for ref_, v in list(s.cells.items()):
                if ref_.startswith("A") and isinstance(v, str) and s.name in INDICATORS:
                    if ref_ not in ("A1", "A2", "A5"):
                        s.cells[ref_] = to_tcvn3(v)
        sheet(sheets, "thi_diem").cells["A3"] = to_tcvn3("Phù Yên")

    case("wb_tcvn3_names", tcvn3_names)  # read: names typed with .VnTime

    def hidden_row(sheets):
        s = sheet(sheets, "so_cuoc_hop")
        s.cells.update({"A10": "Huyện Mai Sơn (nháp)", "B10": "125", "C10": 99})
        s.hidden_rows.append(10)

    case("wb_hidden_row", hidden_row)

    def hidden_column(sheets):
        s = sheet(sheets, "kinh_phi_hoat_dong")
        s.cells.update({"G5": 2016, "G6": 2000, "G7": 1100})
        s.hidden_columns.append(7)

    case("wb_hidden_column", hidden_column)

    def totals(sheets):
        cells = sheet(sheets, "so_cuoc_hop").cells
        cells["A10"], cells["C10"] = "Tổng cộng", 48

    case("wb_totals_row", totals)

    def province_row(sheets):
        cells = sheet(sheets, "so_cuoc_hop").cells
        cells["A10"], cells["C10"] = "Sơn La", 48

    case("wb_province_row", province_row)

    def signature(sheets):
        cells = sheet(sheets, "so_cuoc_hop").cells
        cells["A11"], cells["D11"] = "Người lập biểu", "Thủ trưởng đơn vị"

    case("wb_signature_block", signature)

    def dash(sheets):
        sheet(sheets, "so_cuoc_hop").cells["E7"] = "-"

    case("wb_value_dash", dash)

    def in_dong(sheets):
        sheet(sheets, "kinh_phi_hoat_dong").cells["E8"] = 1105500000

    case("wb_magnitude_dong", in_dong)

    def us_date(sheets):
        sheet(sheets, "thi_diem").cells["C3"] = "8/1/2018"

    case("wb_us_date", us_date)

    def rating_in_count(sheets):
        sheet(sheets, "so_cuoc_hop").cells["D9"] = "Hoàn thành tốt nhiệm vụ"

    case("wb_rating_word_in_count", rating_in_count)
    cases["wb_xls"] = cfb_encrypted(("Workbook", "SummaryInformation"))
    cases["wb_encrypted"] = cfb_encrypted()
    cases["wb_png_renamed"] = png_1x1()
    cases["wb_text_renamed"] = render(rows_of(ref["panel.csv"])[:6], ";").encode("utf-8")
    return cases


def build(out: Path = CASES, reference: Path = REFERENCE) -> list[Path]:
    """Write every case under ``out`` (emptied first); returns the files written."""
    ref = read_reference(reference)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    written = []
    for name, files in csv_cases(ref).items():
        folder = out / name
        folder.mkdir()
        for filename, content in files.items():
            if content is None:
                continue
            data = content.encode("utf-8") if isinstance(content, str) else content
            (folder / filename).write_bytes(data)
            written.append(folder / filename)
    for name, spec in workbook_cases(ref).items():
        path = out / f"{name}.xlsx"
        if isinstance(spec, bytes):
            path.write_bytes(spec)
        else:
            sheets, kwargs = spec
            write_workbook(path, sheets, **kwargs)
        written.append(path)
    # The truncated download: the reference workbook cut in half.
    whole = (out / "wb_reference.xlsx").read_bytes()
    (out / "wb_truncated.xlsx").write_bytes(whole[: len(whole) // 2])
    written.append(out / "wb_truncated.xlsx")
    # A zip of CSV files named .xlsx: a zip, but not a workbook.
    members = [("panel.csv", [ref["panel.csv"].encode("utf-8")], zipfile.ZIP_STORED)]
    write_zip(out / "wb_zip_not_workbook.xlsx", members)
    written.append(out / "wb_zip_not_workbook.xlsx")
    written += intake_cases(ref, out, reference.parent)
    return written


# ---------------------------------------------------------------------------------------------
# OpenDocument spreadsheets (.ods), written as LibreOffice lays them out
# ---------------------------------------------------------------------------------------------

_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)
_ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
    'manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def _ods_cell(value: object) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, bool):
        v = "true" if value else "false"
        return f'<table:table-cell office:value-type="boolean" office:boolean-value="{v}"/>'
    if isinstance(value, int | float):
        v = _number(value)
        return (
            f'<table:table-cell office:value-type="float" office:value="{v}">'
            f"<text:p>{v}</text:p></table:table-cell>"
        )
    text = escape(str(value))
    return (
        f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'
    )


def write_ods(path: Path, sheets: list[Sheet]) -> None:
    """An .ods spreadsheet: ``mimetype`` first and stored, then the manifest and content.xml
    with one table per sheet; hidden rows and columns as LibreOffice marks them (collapse)."""
    tables = []
    for s in sheets:
        cells = {_split_ref(ref): value for ref, value in s.cells.items()}
        n_rows = max(r for r, _ in cells)
        n_cols = max(c for _, c in cells)
        cols = "".join(
            '<table:table-column table:visibility="collapse"/>'
            if c in s.hidden_columns
            else "<table:table-column/>"
            for c in range(1, n_cols + 1)
        )
        rows = []
        for r in range(1, n_rows + 1):
            hidden = ' table:visibility="collapse"' if r in s.hidden_rows else ""
            body = "".join(_ods_cell(cells.get((r, c))) for c in range(1, n_cols + 1))
            rows.append(f"<table:table-row{hidden}>{body}</table:table-row>")
        tables.append(
            f'<table:table table:name="{escape(s.name)}">{cols}{"".join(rows)}</table:table>'
        )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {_ODS_NS} '
        f'office:version="1.2"><office:body><office:spreadsheet>{"".join(tables)}'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    stored = deflated = zipfile.ZIP_STORED  # no compressor version in the bytes
    write_zip(
        path,
        [
            ("mimetype", [b"application/vnd.oasis.opendocument.spreadsheet"], stored),
            ("META-INF/manifest.xml", [_ODS_MANIFEST.encode()], deflated),
            ("content.xml", [content.encode()], deflated),
        ],
    )


# ---------------------------------------------------------------------------------------------
# Issue 14, the remainder: .ods, numbers typed as text in workbooks, legacy cells without a
# telling glyph in workbooks, rating words read, a confirmed value far from the others
# ---------------------------------------------------------------------------------------------

RATING_WORDS = {
    1: "Không hoàn thành nhiệm vụ",
    2: "Hoàn thành nhiệm vụ",
    3: "hoàn thành tốt nhiệm vụ",  # lower case, as typed
    4: "Hoàn thành xuất sắc nhiệm vụ",
}
RATING_ABBREVIATIONS = {1: "KHTNV", 2: "HTNV", 3: "H.T.T.N.V", 4: "htxsnv"}


def intake_cases(ref: dict[str, str], out: Path, corpus: Path) -> list[Path]:
    """The cases of issue 14's remainder; ``corpus`` holds the reference folders."""
    written: list[Path] = []

    def folder(name, files):
        (out / name).mkdir()
        for filename, text in files.items():
            (out / name / filename).write_bytes(text.encode("utf-8"))
            written.append(out / name / filename)

    def xlsx(name, sheets):
        write_workbook(out / f"{name}.xlsx", sheets)
        written.append(out / f"{name}.xlsx")

    def ods(name, sheets):
        write_ods(out / f"{name}.ods", sheets)
        written.append(out / f"{name}.ods")

    # -- .ods, read through python-calamine exactly as .xlsx --
    ods("ods_reference", reference_sheets(ref))  # read
    sheets = reference_sheets(ref)
    s = sheet(sheets, "so_cuoc_hop")
    s.cells.update({"A10": "Huyện Mai Sơn (nháp)", "B10": "125", "C10": 99})
    s.hidden_rows.append(10)
    ods("ods_hidden_row", sheets)  # refused: draft figures in a hidden row
    sheets = reference_sheets(ref)
    sheet(sheets, "kinh_phi_hoat_dong").cells["D6"] = "2.210"  # text; no number shows the mark
    ods("ods_text_thousands_unshown", sheets)  # refused: 2.210 is 2210 or 2.21
    (out / "ods_csv_renamed.ods").write_bytes(ref["panel.csv"].encode("utf-8"))
    written.append(out / "ods_csv_renamed.ods")  # refused: a CSV file renamed .ods

    # -- numbers typed as text in a workbook: the file's own decision, as in a CSV file --
    sheets = reference_sheets(ref)
    cost = sheet(sheets, "kinh_phi_hoat_dong").cells
    for ref_, v in list(cost.items()):
        if ref_[0] in "CDEF" and ref_[1:] != "5":
            cost[ref_] = vi_grouped(_number(v))  # "2.150,5" shows the comma: "2.210" is 2210
    xlsx("wb_text_thousands_shown", sheets)  # read
    sheets = reference_sheets(ref)
    sheet(sheets, "kinh_phi_hoat_dong").cells["D6"] = "2.210"
    xlsx("wb_text_thousands_unshown", sheets)  # refused, as comma_file_thousands_unshown

    # -- a workbook typed with .VnTime: "Quúnh Nhai" shows no glyph of its own --
    sheets = reference_sheets(ref)
    pilots = sheet(sheets, "thi_diem").cells
    pilots["A3"], pilots["A4"] = to_tcvn3("Phù Yên"), to_tcvn3("Quỳnh Nhai")
    pilots["G3"] = to_tcvn3("Báo Sơn La")
    pilots["G4"] = to_tcvn3("Giả định")
    xlsx("wb_tcvn3_no_glyph", sheets)  # read: Quúnh Nhai is Quỳnh Nhai in a TCVN3 workbook

    # -- rating words and abbreviations, read as 1-4 (reference_ratings) --
    rated = read_reference(corpus / "reference_ratings")
    rows = rows_of(rated["panel.csv"])

    def ratings_as(words):
        return render(map_values(rows, lambda v, r: words[int(v)] if r[2] == "xep_loai" else v))

    folder("rating_words", {**rated, "panel.csv": ratings_as(RATING_WORDS)})
    folder("rating_abbreviations", {**rated, "panel.csv": ratings_as(RATING_ABBREVIATIONS)})
    sheets = reference_sheets(rated)
    grid = sheet(sheets, "xep_loai").cells
    for ref_, v in list(grid.items()):
        if ref_[0] in "CDEF" and ref_[1:] != "5":
            grid[ref_] = RATING_WORDS[int(v)]
    xlsx("wb_rating_words", sheets)  # read

    # -- a value far from the other units', confirmed (reference_confirmed) --
    confirmed = read_reference(corpus / "reference_confirmed")
    crows = rows_of(confirmed["panel.csv"])
    col = crows[0].index("confirmed")
    said = [crows[0]] + [r[:col] + (["đã kiểm tra"] if r[col] else [""]) for r in crows[1:]]
    folder("confirmed_far_value", {**confirmed, "panel.csv": render(said)})  # read
    unsaid = [r[:col] + [""] if k else r for k, r in enumerate(crows)]
    folder("confirmed_missing", {**confirmed, "panel.csv": render(unsaid)})  # refused
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else CASES
    for path in build(target):
        print(path.relative_to(target.parent), path.stat().st_size)
