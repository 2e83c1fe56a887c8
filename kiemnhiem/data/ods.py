"""OpenDocument spreadsheets (``.ods``, what LibreOffice saves) as openpyxl workbooks.

:func:`read_ods` reads the cell values with python-calamine (MIT) and lays them into an
in-memory openpyxl workbook, so that :class:`~kiemnhiem.data.workbook.WorkbookSource` reads an
``.ods`` file exactly as an ``.xlsx`` one: same checks, same messages, same cell names
(``so_cuoc_hop!D7``).

What calamine cannot see is read from ``content.xml`` here (through defusedxml, as openpyxl
parses ``.xlsx``): calamine gives values only, so hidden rows and columns
(``table:visibility="collapse"`` or ``"filter"``), merged cells (``table:number-*-spanned``),
formulas saved without a value, and how a date cell is shown (``08/2018`` or ``01/08/2018``)
come from this second reading. Hidden rows and columns are therefore refused as in ``.xlsx``.
Not seen: conditional formats and text coloured like the background (as in ``.xlsx``).

An old ``.xls`` workbook is not read (calamine could read its values, but not which rows
and columns are hidden, so draft figures would be imported unseen): it is refused with how to
save it as ``.xlsx`` or ``.ods``.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"

_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_T = f"{{{_TABLE}}}"
_O = f"{{{_OFFICE}}}"
_HIDDEN = ("collapse", "filter")
_VALUE_ATTRS = tuple(
    f"{_O}{a}"
    for a in ("value", "date-value", "time-value", "boolean-value", "string-value", "value-type")
)


def is_ods(zf: zipfile.ZipFile) -> bool:
    """Whether a zip is an OpenDocument spreadsheet (its ``mimetype`` member says so)."""
    try:
        return zf.read("mimetype").strip() == ODS_MIMETYPE
    except KeyError:
        return False


def ods_encrypted(zf: zipfile.ZipFile) -> bool:
    """Whether the package's parts are encrypted (a password set in LibreOffice)."""
    try:
        manifest = zf.read("META-INF/manifest.xml")
    except KeyError:
        return False
    return b"encryption-data" in manifest


@dataclass
class _SheetExtras:
    """What calamine does not report about one sheet (1-based rows and columns)."""

    hidden_rows: list[tuple[int, int]] = field(default_factory=list)  # (first, last)
    hidden_cols: list[tuple[int, int]] = field(default_factory=list)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    no_value: list[tuple[int, int]] = field(default_factory=list)
    date_shown: dict[tuple[int, int], str] = field(default_factory=dict)


def _int(el, name: str) -> int:
    try:
        return max(1, int(el.get(f"{_T}{name}") or 1))
    except ValueError:
        return 1


def _extras(path: Path) -> dict[str, _SheetExtras]:
    """Per sheet name: hidden rows and columns, merged ranges, formulas without a value and the
    displayed text of date cells, from ``content.xml``."""
    from openpyxl.xml.functions import iterparse  # defusedxml's when installed

    out: dict[str, _SheetExtras] = {}
    sheet: _SheetExtras | None = None
    depth = 0  # nesting of table:table (a table inside a cell is not a sheet)
    row = col = 0
    with zipfile.ZipFile(path) as zf, zf.open("content.xml") as fh:
        for event, el in iterparse(fh, events=("start", "end")):
            tag = el.tag
            if event == "start":
                if tag == f"{_T}table":
                    depth += 1
                    if depth == 1:
                        sheet = out.setdefault(el.get(f"{_T}name") or "", _SheetExtras())
                        row = col = 0
                elif depth != 1 or sheet is None:
                    continue
                elif tag == f"{_T}table-column":
                    n = _int(el, "number-columns-repeated")
                    if el.get(f"{_T}visibility") in _HIDDEN:
                        sheet.hidden_cols.append((col + 1, col + n))
                    col += n
                elif tag == f"{_T}table-row":
                    n = _int(el, "number-rows-repeated")
                    if el.get(f"{_T}visibility") in _HIDDEN:
                        sheet.hidden_rows.append((row + 1, row + n))
                    row += 1
                    col = 0
                    el.set("_rows", str(n))
                elif tag in (f"{_T}table-cell", f"{_T}covered-table-cell"):
                    first = col + 1
                    col += _int(el, "number-columns-repeated")
                    el.set("_col", str(first))
                    cols = _int(el, "number-columns-spanned")
                    rows = _int(el, "number-rows-spanned")
                    if tag == f"{_T}table-cell" and (cols > 1 or rows > 1):
                        sheet.merged.append((row, first, row + rows - 1, first + cols - 1))
                continue
            # end events
            if tag == f"{_T}table":
                depth -= 1
            elif depth == 1 and sheet is not None:
                if tag == f"{_T}table-row":
                    row += int(el.get("_rows", "1")) - 1
                    el.clear()
                elif tag == f"{_T}table-cell":
                    at = (row, int(el.get("_col", "0")))
                    if el.get(f"{_T}formula") and not any(el.get(a) for a in _VALUE_ATTRS):
                        sheet.no_value.append(at)
                    elif el.get(f"{_O}value-type") == "date":
                        sheet.date_shown[at] = "".join(el.itertext()).strip()
                    el.clear()
    return out


def _date_format(shown: str) -> str:
    """An Excel number format telling how much of a date cell's value is shown: a day, a
    month or a year (``08/2018`` shows no day; "Aug 2018" neither)."""
    fields = len(re.findall(r"\d+|[^\W\d_]+", shown))
    if fields >= 3 or not shown:
        return "yyyy-mm-dd"
    return "mm/yyyy" if fields == 2 else "yyyy"


def read_ods(path: Path):
    """An ``.ods`` file as (openpyxl Workbook, {sheet: cells holding a formula without value}).

    Values as calamine reads them (numbers as float, dates as date or datetime, text as typed);
    hidden rows and columns, merged ranges and date display formats as the file says.
    """
    import python_calamine
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    extras = _extras(path)
    source = python_calamine.CalamineWorkbook.from_path(str(path))
    book = Workbook()
    book.remove(book.active)
    no_value: dict[str, set[str]] = {}
    try:
        for name in source.sheet_names:
            ws = book.create_sheet(name)
            rows = source.get_sheet_by_name(name).to_python(skip_empty_area=False)
            extra = extras.get(name, _SheetExtras())
            for r, values in enumerate(rows, start=1):
                for c, value in enumerate(values, start=1):
                    if value == "" or value is None:
                        continue
                    cell = ws.cell(row=r, column=c, value=value)
                    shown = extra.date_shown.get((r, c))
                    if shown is not None:
                        cell.number_format = _date_format(shown)
            height = max(len(rows), 1) + 1  # hidden runs reach to the sheet's last row
            width = max((len(v) for v in rows), default=1) + 1
            for first, last in extra.hidden_rows:
                for r in range(first, min(last, height) + 1):
                    ws.row_dimensions[r].hidden = True
            for first, last in extra.hidden_cols:
                for c in range(first, min(last, width) + 1):
                    dim = ws.column_dimensions[get_column_letter(c)]
                    dim.hidden = True
                    dim.min = dim.max = c
            for r1, c1, r2, c2 in extra.merged:
                ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r2}"
                ws.merge_cells(ref)
            no_value[name] = {f"{get_column_letter(c)}{r}" for r, c in extra.no_value}
    finally:
        source.close()
    return book, no_value
