"""The Excel path: the data-entry template, workbooks as a dataset source, import to a folder.

Analysts keep their figures in Excel. :func:`write_template` writes the workbook of the dataset
contract ("Workbook layout" in ``DESIGN.md``); :class:`WorkbookSource` lets
:func:`~kiemnhiem.data.dataset.load_dataset` read such a workbook, with every problem naming its
sheet
and cell (``so_cuoc_hop!D7``); :func:`import_workbook` validates a workbook and writes it as a
dataset folder.

Layout (row numbers as written by the template; the reader finds header rows by their marker):

- ``huong_dan``: instructions, Vietnamese then English; never read.
- ``thong_tin``: a ``key`` / ``value`` / ``description`` header row, then one row per metadata key.
- ``thi_diem``: display labels in row 1, the column codes of ``pilots.csv`` in row 2 (``unit``
  marks the header row), one pilot per row below.
- one sheet per indicator, named by its code: label, unit of measure, better direction and
  entry hint in rows 1-4; header row 5 with ``unit``, ``code`` and one year per column; one unit
  per row below.
- ``nhan_xet`` (optional): analysts' comments, laid out like ``thi_diem``.
- sheets whose names start with ``_`` are ignored (the template keeps its drop-down lists in
  the hidden ``_danh_muc``). Only the name decides: visibility is display, so hidden and very
  hidden sheets (and hidden rows and columns) are read like visible ones, and a hidden sheet
  with an unknown name is reported like a visible one.

Before openpyxl opens a file, :func:`_check_package` refuses what is not a workbook to read:
an OLE/CFB container (a password-protected workbook or an old ``.xls``), anything that is not a
zip, a damaged zip, parts that would inflate beyond :data:`_MAX_INFLATED` (a zip bomb: judged
from the zip directory, before inflating anything) and XML parts declaring a DTD (an entity
bomb; openpyxl also parses sheets and shared strings through defusedxml, which refuses them).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd

from ..exceptions import DatasetError, ParameterError, Problem, UnitError
from ..labels import both, label
from .catalog import builtin_indicators, builtin_models
from .readers import FORMULA_START, ReadError, Table, parse_period
from .sources import (
    COMMENT_COLUMNS,
    COMMENT_OPTIONAL,
    META_KEYS,
    PILOT_COLUMNS,
    PILOT_OPTIONAL,
    PRECISIONS,
    STATUSES,
    Source,
)
from .units import UnitMatcher, fold, unit_table
from .validate import Dataset, validate_source

__all__ = ["WorkbookSource", "import_workbook", "parse_years", "write_template"]

SHEET_GUIDE = "huong_dan"
SHEET_META = "thong_tin"
SHEET_PILOTS = "thi_diem"
SHEET_COMMENTS = "nhan_xet"
SHEET_LISTS = "_danh_muc"
_TABLE_SHEETS = {"pilots": SHEET_PILOTS, "comments": SHEET_COMMENTS}
_FIXED_SHEETS = (SHEET_GUIDE, SHEET_META, SHEET_PILOTS, SHEET_COMMENTS)

_HEADER_SCAN = 20  # rows searched for a sheet's header row
_GRID_HEADER_ROW = 5  # where the template puts an indicator sheet's header row
_ENTRY_ROWS = 1000  # rows given drop-downs and checks (pilots, comments, freely typed units)
_YEAR_LIMITS = (1945, 2100)
_PILOT_HEADER = (*PILOT_COLUMNS, *PILOT_OPTIONAL)
_COMMENT_HEADER = (*COMMENT_COLUMNS, *COMMENT_OPTIONAL)
_DATE_COLUMNS = ("start", "end", "date")
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CFB_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")  # OLE compound file: encrypted, or .xls
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_MAX_INFLATED = 200 * 2**20  # bytes, all parts together: far beyond any data workbook
_MAX_RATIO = 200  # inflated / compressed, for parts over _RATIO_FLOOR (deflate tops at ~1032)
_RATIO_FLOOR = 8 * 2**20
_PROLOG_BYTES = 4096  # how much of each XML part is searched for a DTD


def _both(key: str, /, **fields: object) -> str:
    """Vietnamese and English in one cell ("vi / en")."""
    vi, en = both(key, **fields)
    return f"{vi} / {en}"


# ---------------------------------------------------------------------------------------------
# Writing the template
# ---------------------------------------------------------------------------------------------


def write_template(
    out_path: str | Path,
    province: str | int | None = None,
    years: tuple[int, int] = (2014, 2025),
    units: list[str | int] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write the data-entry workbook of the dataset contract.

    Parameters
    ----------
    out_path : str or Path
        The ``.xlsx`` file to write. An existing file is refused unless ``overwrite``.
    province : str, int or None
        Province name or code. Its units fill the indicator sheets' rows and the unit
        drop-down of ``thi_diem``; None writes a multi-province template whose units are typed
        freely (by code, or as "name, province").
    years : (int, int)
        First and last year (inclusive) of the year columns.
    units : list of str or int, optional
        Only these units (names or codes, resolved within ``province``) instead of all of the
        province's units.
    overwrite : bool
        Replace an existing file (never the default: it may hold an analyst's figures).

    Returns
    -------
    Path
        The file written (absolute).

    Raises
    ------
    ParameterError
        Unknown province or unit, bad year range, or an existing file.
    """
    from openpyxl import Workbook

    out = Path(out_path).expanduser().absolute()
    first, last = _check_years(years)
    if out.exists() and not overwrite:
        raise ParameterError(*both("wb_err_exists", path=str(out)))
    try:
        matcher = UnitMatcher(province)
        unit_rows = _template_units(matcher, units)
    except UnitError as exc:
        raise ParameterError(exc.message_vi, exc.message_en) from None

    book = Workbook()
    guide = book.active
    guide.title = SHEET_GUIDE
    indicators = builtin_indicators()
    models = builtin_models()
    lists = book.create_sheet(SHEET_LISTS)
    # Without a province, names alone are ambiguous: units are typed (code, "name, province").
    listed = unit_rows if matcher.province_code is not None else []
    unit_list = _write_lists(lists, listed, list(models["code"]))
    _write_guide(guide, matcher, indicators, models, unit_rows)
    _write_meta_sheet(book.create_sheet(SHEET_META), matcher, last)
    _write_entry_sheet(book.create_sheet(SHEET_PILOTS), _PILOT_HEADER, unit_list)
    for rec in indicators.itertuples(index=False):
        _write_indicator_sheet(book.create_sheet(rec.code), rec, unit_rows, first, last)
    _write_entry_sheet(book.create_sheet(SHEET_COMMENTS), _COMMENT_HEADER, unit_list)
    book.move_sheet(lists, offset=len(book.sheetnames))
    lists.sheet_state = "hidden"
    _protect(lists, [])
    book.active = 1  # open on thong_tin
    for ws in book.worksheets:
        # Only the active tab may be selected: two selected tabs are "grouped" in Excel, and
        # whatever is typed into one would be typed into both.
        ws.sheet_view.tabSelected = ws.title == SHEET_META

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        book.save(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _check_years(years) -> tuple[int, int]:
    low, high = _YEAR_LIMITS
    try:
        first, last = (int(y) for y in years)
    except (TypeError, ValueError):
        first = last = None
    if first is None or not low <= first <= last <= high:
        raise ParameterError(*both("wb_err_years", value=str(years), low=low, high=high))
    return first, last


def parse_years(text: str) -> tuple[int, int]:
    """``"2014-2025"`` (or ``"2020"``) as ``(2014, 2025)``; a :class:`ParameterError` if not."""
    parts = [p.strip() for p in str(text).replace("–", "-").split("-")]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        low, high = _YEAR_LIMITS
        raise ParameterError(*both("wb_err_years", value=text, low=low, high=high))
    return _check_years(parts)


def _template_units(matcher: UnitMatcher, units) -> list[tuple[str, str]]:
    """(name, code) of the rows to pre-fill: the chosen units, else the province's units."""
    if units is not None:
        chosen = {u.code: u for u in (matcher.resolve(v) for v in units)}
        return [(u.name, u.code) for u in sorted(chosen.values(), key=lambda u: u.code)]
    if matcher.province_code is None:
        return []
    table = unit_table()
    scope = table[table["province_code"] == matcher.province_code].sort_values("code")
    return list(zip(scope["name"], scope["code"]))


def _styles():
    from openpyxl.styles import Alignment, Font, PatternFill

    return {
        "title": Font(bold=True, size=13),
        "bold": Font(bold=True),
        "code": Font(bold=True, color="1F4E79"),
        "header_fill": PatternFill("solid", fgColor="DDEBF7"),
        "label_fill": PatternFill("solid", fgColor="F2F2F2"),
        "wrap": Alignment(wrap_text=True, vertical="top"),
    }


def _protect(ws, unlocked_ranges: list[str], unlocked_columns: tuple[str, ...] = ()) -> None:
    """Protect a sheet without a password, leaving cells and whole columns editable.

    An unlocked column is a column style: cells typed there later are unlocked too, while the
    header cells, which carry their own style, stay locked.
    """
    from openpyxl.styles import Protection

    unlocked = Protection(locked=False)
    for ref in unlocked_ranges:
        for row in ws[ref]:
            for cell in row:
                cell.protection = unlocked
    for letter in unlocked_columns:
        ws.column_dimensions[letter].protection = unlocked
    ws.protection.sheet = True
    # Resizing rows and columns stays allowed; the protection only guards labels and codes.
    ws.protection.formatColumns = False
    ws.protection.formatRows = False


def _validation(kind: str, prompt: str, *, formula1: str | None = None, **extra):
    from openpyxl.worksheet.datavalidation import DataValidation

    dv = DataValidation(
        type=kind,
        formula1=formula1,
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorTitle=_both("wb_dv_error_title"),
        error=prompt,
        prompt=prompt,
        **extra,
    )
    return dv


def _write_lists(ws, unit_rows, model_codes) -> str | None:
    """The drop-down sources; returns the unit list's range (None without units)."""
    ws["A1"], ws["B1"] = "unit", "model"
    for i, (name, _code) in enumerate(unit_rows, start=2):
        ws.cell(row=i, column=1, value=name)
    for i, code in enumerate(model_codes, start=2):
        ws.cell(row=i, column=2, value=code)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 20
    if not unit_rows:
        return None
    return f"'{SHEET_LISTS}'!$A$2:$A${len(unit_rows) + 1}"


def _models_range(n_models: int) -> str:
    return f"'{SHEET_LISTS}'!$B$2:$B${n_models + 1}"


def _write_guide(ws, matcher, indicators, models, unit_rows) -> None:
    st = _styles()
    ws.column_dimensions["A"].width = 120
    row = 1
    keys = (
        "wb_guide_intro",
        "wb_guide_meta",
        "wb_guide_pilots",
        "wb_guide_precision",
        "wb_guide_status",
        "wb_guide_grid",
        "wb_guide_numbers",
        "wb_guide_shares",
        "wb_guide_ratings",
        "wb_guide_formulas",
        "wb_guide_sheets",
        "wb_guide_protect",
    )
    for lang in ("vi", "en"):
        ws.cell(row=row, column=1, value=label("wb_guide_title", lang)).font = st["title"]
        ws.cell(row=row + 1, column=1, value=label("wb_guide_lang", lang)).font = st["bold"]
        row += 2
        for key in keys:
            ws.cell(row=row, column=1, value=label(key, lang)).alignment = st["wrap"]
            row += 1
        ws.cell(row=row, column=1, value=label("wb_guide_models", lang)).font = st["bold"]
        row += 1
        for rec in models.itertuples(index=False):
            ws.cell(row=row, column=1, value=f"{rec.code}: {getattr(rec, f'label_{lang}')}")
            row += 1
        ws.cell(row=row, column=1, value=label("wb_guide_indicators", lang)).font = st["bold"]
        row += 1
        for rec in indicators.itertuples(index=False):
            text = (
                f"{rec.code}: {getattr(rec, f'label_{lang}')} ({getattr(rec, f'unit_{lang}')})"
                f" - {label(f'wb_kind_{rec.kind}', lang)}"
            )
            ws.cell(row=row, column=1, value=text).alignment = st["wrap"]
            row += 1
        if matcher.province_code is not None and unit_rows:
            head = label("wb_guide_units", lang, province=matcher.province_name)
            ws.cell(row=row, column=1, value=head).font = st["bold"]
            row += 1
            for name, code in unit_rows:
                ws.cell(row=row, column=1, value=f"{code}: {name}")
                row += 1
        row += 1
    _protect(ws, [])


def _write_meta_sheet(ws, matcher: UnitMatcher, last_year: int) -> None:
    st = _styles()
    ws["A1"] = _both("wb_title_meta")
    ws["A1"].font = st["title"]
    for col, code in zip("ABC", ("key", "value", "description")):
        cell = ws[f"{col}2"]
        cell.value = code
        cell.font = st["code"]
        cell.fill = st["header_fill"]
    defaults = {
        "province": matcher.province_name or "",
        # The district level ended on 1 July 2025: a template reaching 2025 says so.
        "data_end": "2025-06-30" if last_year >= 2025 else "",
    }
    for row, key in enumerate(META_KEYS, start=3):
        ws.cell(row=row, column=1, value=key).font = st["bold"]
        value = ws.cell(row=row, column=2, value=defaults.get(key) or None)
        value.number_format = "@"
        ws.cell(row=row, column=3, value=_both(f"wb_meta_{key}")).alignment = st["wrap"]
    synthetic_row = 3 + META_KEYS.index("synthetic")
    dv = _validation("list", _both("wb_dv_synthetic"), formula1='"false,true"')
    dv.add(f"B{synthetic_row}")
    ws.add_data_validation(dv)
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 40
    ws.column_dimensions["C"].width = 90
    ws.freeze_panes = "A3"
    _protect(ws, [f"B3:B{2 + len(META_KEYS)}"])


def _write_entry_sheet(ws, columns: tuple[str, ...], unit_list: str | None) -> None:
    """``thi_diem`` or ``nhan_xet``: display labels, column codes, then rows to fill."""
    from openpyxl.utils import get_column_letter

    st = _styles()
    first, last = 3, 2 + _ENTRY_ROWS
    widths = {"unit": 24, "model": 18, "comment": 60, "source": 40}
    for j, code in enumerate(columns, start=1):
        letter = get_column_letter(j)
        head = ws.cell(row=1, column=j, value=_both(f"wb_col_{code}"))
        head.font = st["bold"]
        head.fill = st["label_fill"]
        head.alignment = st["wrap"]
        cell = ws.cell(row=2, column=j, value=code)
        cell.font = st["code"]
        cell.fill = st["header_fill"]
        ws.column_dimensions[letter].width = widths.get(code, 16)
        area = f"{letter}{first}:{letter}{last}"
        dv = None
        if code == "unit" and unit_list is not None:
            dv = _validation("list", _both("wb_dv_unit"), formula1=unit_list)
        elif code == "model":
            n_models = len(builtin_models())
            dv = _validation("list", _both("wb_dv_model"), formula1=_models_range(n_models))
        elif code == "start_precision":
            dv = _validation("list", _both("wb_dv_precision"), formula1=f'"{",".join(PRECISIONS)}"')
        elif code == "start_status":
            dv = _validation("list", _both("wb_dv_status"), formula1=f'"{",".join(STATUSES)}"')
        if dv is not None:
            dv.add(area)
            ws.add_data_validation(dv)
        if code in _DATE_COLUMNS:
            # Text cells keep "08/2018" as typed, instead of Excel turning it into 1 August.
            ws.column_dimensions[letter].number_format = "@"
    ws.row_dimensions[1].height = 45
    ws.freeze_panes = "A3"
    _protect(ws, [], tuple(get_column_letter(j) for j in range(1, len(columns) + 1)))


def _write_indicator_sheet(ws, rec, unit_rows, first_year: int, last_year: int) -> None:
    from openpyxl.utils import get_column_letter

    st = _styles()
    hr = _GRID_HEADER_ROW
    ws["A1"] = f"{rec.label_vi} / {rec.label_en}"
    ws["A1"].font = st["title"]
    ws["A2"] = f"{_both('wb_ind_unit_of_measure')}: {rec.unit_vi} / {rec.unit_en}"
    ws["A3"] = f"{_both('wb_ind_better')}: {_both(f'wb_better_{rec.better}')}"
    ws["A4"] = f"{_both('wb_ind_entry')}: {_both(f'wb_kind_{rec.kind}')}"
    for cell in ("A2", "A3", "A4"):
        ws[cell].font = st["bold"]
    years = list(range(first_year, last_year + 1))
    header = ["unit", "code", *years]
    for j, value in enumerate(header, start=1):
        cell = ws.cell(row=hr, column=j, value=value)
        cell.font = st["code"]
        cell.fill = st["header_fill"]
    n_rows = len(unit_rows) if unit_rows else _ENTRY_ROWS
    top, bottom = hr + 1, hr + n_rows
    for i, (name, code) in enumerate(unit_rows, start=top):
        ws.cell(row=i, column=1, value=name)
        code_cell = ws.cell(row=i, column=2, value=code)  # a str: "094" keeps its zero
        code_cell.number_format = "@"
    value_columns = [get_column_letter(j) for j in range(3, 3 + len(years))]
    grid = f"C{top}:{value_columns[-1]}{bottom}"
    dv = _grid_validation(rec.kind)
    dv.add(grid)
    ws.add_data_validation(dv)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 8
    for letter in value_columns:
        ws.column_dimensions[letter].width = 10
    ws.freeze_panes = f"C{top}"
    if unit_rows:
        # The province's units are fixed: only their value cells are editable.
        if rec.kind == "share":
            for row in ws[grid]:
                for c in row:
                    c.number_format = "0.0%"
        _protect(ws, [grid])
    else:
        # Units are typed freely: whole columns are editable, codes are text.
        ws.column_dimensions["B"].number_format = "@"
        if rec.kind == "share":
            for letter in value_columns:
                ws.column_dimensions[letter].number_format = "0.0%"
        _protect(ws, [], ("A", "B", *value_columns))


_RATING_CHOICES = (
    "1",
    "2",
    "3",
    "4",
    "Không hoàn thành nhiệm vụ",
    "Hoàn thành nhiệm vụ",
    "Hoàn thành tốt nhiệm vụ",
    "Hoàn thành xuất sắc nhiệm vụ",
)


def _grid_validation(kind: str):
    prompt = _both(f"wb_kind_{kind}")
    if kind in ("count", "stock"):
        return _validation("whole", prompt, formula1="0", operator="greaterThanOrEqual")
    if kind in ("amount", "duration"):
        return _validation("decimal", prompt, formula1="0", operator="greaterThanOrEqual")
    if kind == "share":
        return _validation("decimal", prompt, formula1="0", formula2="1", operator="between")
    if kind == "rating":
        return _validation("list", prompt, formula1=f'"{",".join(_RATING_CHOICES)}"')
    raise ValueError(f"unknown indicator kind {kind!r}")  # the catalog checks kinds on load


# ---------------------------------------------------------------------------------------------
# Reading a workbook
# ---------------------------------------------------------------------------------------------


@dataclass
class _SheetTable(Table):
    """A table gathered from workbook cells; rows may come from several sheets."""

    sheets: list[str] = field(default_factory=list)

    @property
    def decimal_comma(self) -> bool:
        # Workbooks are typed on Vietnamese Windows: a number typed as text ("1.234", "12,5")
        # reads with a thousands dot and a decimal comma. Numeric cells are passed on with a
        # decimal comma too (see _cell_text), so they read exactly.
        return True

    def where(self, i: int, column: str | None = None) -> dict:
        sheet = self.sheets[i]
        cell = self.cells[i].get(column) if (self.cells and column) else None
        if cell:
            return {"file": self.file, "sheet": sheet, "cell": f"{sheet}!{cell}"}
        return {"file": self.file, "sheet": sheet, "row": self.line_numbers[i], "column": column}

    def ref(self, i: int) -> str:
        return f"{self.sheets[i]}!{self.line_numbers[i]}"


def _number_text(value: float | int, decimal: str = ",") -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text.replace(".", decimal)


def _cell_text(value: object, decimal: str = ",") -> str:
    """A cell's value as the text the loader reads (dates as ISO, numbers exact)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return _number_text(value, decimal)
    return unicodedata.normalize("NFC", str(value)).strip()


def _at(ws, coordinate: str) -> dict:
    """A cell's location as :class:`Problem` fields (``so_cuoc_hop!D7``)."""
    return {"sheet": ws.title, "cell": f"{ws.title}!{coordinate}"}


def _sheet_key(name: str) -> str:
    return fold(name).replace(" ", "_")


class WorkbookSource(Source):
    """A workbook in the template's layout, read with openpyxl (saved values of formulas).

    Every table it returns locates its rows by sheet and cell, so that every problem names
    the cell (``so_cuoc_hop!D7``). Sheet names are matched ignoring case and diacritics.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.label = str(self.path)
        self._opened = False
        self._book = None
        self._sheets: dict[str, object] = {}  # folded key -> worksheet
        self._indicator_sheets: list[tuple[str, object]] = []
        self._no_value: dict[str, set[str]] = {}
        self._province: str | None = None

    # -- opening -------------------------------------------------------------------------------
    def _problem(
        self, key: str, problems: list[Problem], where: dict | None = None, **fields: object
    ) -> None:
        problems.append(Problem(*both(key, **fields), file=self.path.name, **(where or {})))

    def _open(self, problems: list[Problem]) -> bool:
        if self._opened:
            return self._book is not None
        self._opened = True
        from openpyxl import load_workbook

        refusal = _check_package(self.path)
        if refusal is not None:
            key, fields = refusal
            self._problem(key, problems, **fields)
            return False
        try:
            book = load_workbook(self.path, data_only=True, read_only=False)
            self._no_value = _formulas_without_value(self.path)
        except Exception as exc:  # noqa: BLE001 - any failure to parse is "not a workbook"
            # openpyxl raises many types on foreign or damaged files (BadZipFile, KeyError,
            # InvalidFileException, defusedxml's refusals, ...): all mean the same to an analyst.
            if _defused(exc):
                self._problem("err_wb_xml_unsafe", problems)
                return False
            detail = f"{type(exc).__name__}: {exc}".strip().rstrip(".")
            self._problem("wb_err_not_workbook", problems, detail=detail)
            return False
        self._book = book
        known = set(builtin_indicators()["code"])
        by_key = {_sheet_key(c): c for c in known}
        fixed = {_sheet_key(s): s for s in _FIXED_SHEETS}
        first_of: dict[str, str] = {}
        for ws in book.worksheets:
            name = ws.title
            if name.startswith("_"):
                continue
            key = _sheet_key(name)
            if key in first_of:
                self._problem(
                    "wb_err_duplicate_sheet",
                    problems,
                    {"sheet": name},
                    sheet=name,
                    first=first_of[key],
                )
                continue
            first_of[key] = name
            if key in fixed:
                self._sheets[fixed[key]] = ws
            elif key in by_key:
                self._indicator_sheets.append((by_key[key], ws))
            else:
                self._problem(
                    "wb_err_unknown_sheet",
                    problems,
                    {"sheet": name},
                    sheet=name,
                    known=", ".join(sorted(known)),
                )
        return True

    def _text(self, ws, cell, problems: list[Problem], decimal: str = ",") -> str:
        """A cell's text; a formula without a saved value is a problem (and blank)."""
        if cell.value is None and cell.coordinate in self._no_value.get(ws.title, ()):
            self._problem("wb_err_formula_no_value", problems, _at(ws, cell.coordinate))
            return ""
        return _cell_text(cell.value, decimal)

    def _check_merged(self, ws, from_row: int, problems: list[Problem]) -> set[str]:
        """Report merged ranges reaching row ``from_row`` or below; returns their cells."""
        from openpyxl.utils import get_column_letter

        inside: set[str] = set()
        for rng in ws.merged_cells.ranges:
            if rng.max_row < from_row:
                continue
            top_left = f"{get_column_letter(rng.min_col)}{rng.min_row}"
            self._problem("wb_err_merged", problems, _at(ws, top_left), cells=rng.coord)
            for row in range(rng.min_row, rng.max_row + 1):
                for col in range(rng.min_col, rng.max_col + 1):
                    inside.add(f"{get_column_letter(col)}{row}")
        return inside

    def _header_row(self, ws, marker: str, problems: list[Problem], column: int | None = None):
        """The first row holding ``marker`` (in ``column`` if given); None after a problem."""
        for row in ws.iter_rows(min_row=1, max_row=min(ws.max_row, _HEADER_SCAN)):
            for cell in row:
                if column is not None and cell.column != column:
                    continue
                if isinstance(cell.value, str) and cell.value.strip().lower() == marker:
                    return cell.row
        self._problem(
            "wb_err_no_header", problems, {"sheet": ws.title}, marker=marker, rows=_HEADER_SCAN
        )
        return None

    # -- Source interface ----------------------------------------------------------------------
    def metadata(self, problems):
        if not self._open(problems):
            return None, {}
        ws = self._sheets.get(SHEET_META)
        if ws is None:
            self._problem("wb_err_missing_sheet", problems, {"sheet": SHEET_META}, sheet=SHEET_META)
            return None, {}
        header = self._header_row(ws, "key", problems, column=1)
        if header is None:
            return None, {}
        merged = self._check_merged(ws, header, problems)
        meta: dict = {}
        places: dict[str, dict] = {}
        first: dict[str, str] = {}
        for key_cell, value_cell in ws.iter_rows(min_row=header + 1, max_col=2):
            if key_cell.coordinate in merged:
                continue
            key = self._text(ws, key_cell, problems).lower()
            if key == "":
                continue
            if key in first:
                self._problem(
                    "wb_err_duplicate_key",
                    problems,
                    _at(ws, key_cell.coordinate),
                    key=key,
                    first=first[key],
                )
                continue
            first[key] = key_cell.coordinate
            at = value_cell if key in META_KEYS else key_cell
            places[key] = {
                "file": self.path.name,
                "sheet": ws.title,
                "cell": f"{ws.title}!{at.coordinate}",
            }
            if value_cell.coordinate in merged:
                meta[key] = ""
            elif key == "synthetic":
                self._text(ws, value_cell, problems)  # a formula without a value is reported
                meta[key] = _synthetic(value_cell.value)
            else:
                meta[key] = self._text(ws, value_cell, problems, decimal=".")
        province = meta.get("province")
        self._province = province if isinstance(province, str) and province else None
        return meta, places

    def table(self, kind, required, optional, problems, must_exist):
        if not self._open(problems):
            return None
        if kind == "panel":
            return self._panel(problems)
        sheet = _TABLE_SHEETS.get(kind)
        if sheet is None:
            return None  # catalogs and events come from the built-ins
        ws = self._sheets.get(sheet)
        if ws is None:
            if must_exist:
                self._problem("wb_err_missing_sheet", problems, {"sheet": sheet}, sheet=sheet)
            return None
        return self._entry_table(ws, required, optional, problems, must_exist)

    def content_hash(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    # -- tables --------------------------------------------------------------------------------
    def _entry_table(self, ws, required, optional, problems, must_exist) -> Table | None:
        header_row = self._header_row(ws, required[0], problems)
        if header_row is None:
            return None
        merged = self._check_merged(ws, header_row, problems)
        known = set(required) | set(optional)
        columns: dict[str, int] = {}
        ok = True
        for cell in ws[header_row]:
            name = _cell_text(cell.value).lower()
            if name == "":
                continue
            at = _at(ws, cell.coordinate)
            if name not in known:
                self._problem(
                    "err_extra_column", problems, at, column=name, known=", ".join(sorted(known))
                )
                ok = False
            elif name in columns:
                self._problem("err_duplicate_column", problems, at)
                ok = False
            else:
                columns[name] = cell.column
        for name in required:
            if name not in columns:
                where = {"sheet": ws.title, "row": header_row, "column": name}
                self._problem("err_missing_column", problems, where, column=name)
                ok = False
        if not ok:
            return None
        rows, lines, cells = [], [], []
        for row in ws.iter_rows(min_row=header_row + 1):
            by_col = {c.column: c for c in row}
            rec, where = {}, {}
            for name, col in columns.items():
                cell = by_col.get(col)
                if cell is None or cell.coordinate in merged:
                    rec[name] = ""
                    continue
                rec[name] = self._text(ws, cell, problems, decimal=".")
                where[name] = cell.coordinate
            if not any(rec.values()):
                continue
            rows.append(rec)
            lines.append(row[0].row)
            cells.append(where)
        if not rows:
            if must_exist:
                self._problem("wb_err_no_rows", problems, {"sheet": ws.title})
            return None
        return _SheetTable(
            self.path.name,
            list(columns),
            rows,
            lines,
            sheet=ws.title,
            cells=cells,
            sheets=[ws.title] * len(rows),
        )

    def _panel(self, problems: list[Problem]) -> Table | None:
        if not self._indicator_sheets:
            self._problem("wb_err_no_indicator_sheet", problems)
            return None
        try:
            matcher = UnitMatcher(self._province)
        except UnitError:
            matcher = None  # the loader reports the province itself
        rows, lines, cells, sheets = [], [], [], []
        for code, ws in self._indicator_sheets:
            for rec, line, where in self._grid(code, ws, matcher, problems):
                rows.append(rec)
                lines.append(line)
                cells.append(where)
                sheets.append(ws.title)
        if not rows:
            self._problem("wb_err_no_values", problems)
            return None
        columns = ["unit", "period", "indicator", "value", "note"]
        return _SheetTable(
            self.path.name, columns, rows, lines, sheet="", cells=cells, sheets=sheets
        )

    def _grid(self, code: str, ws, matcher, problems):
        """Melt one indicator sheet: yields (row, line, cells) per non-blank value cell."""
        from openpyxl.utils import get_column_letter

        header_row = self._header_row(ws, "unit", problems, column=1)
        if header_row is None:
            return
        merged = self._check_merged(ws, header_row, problems)
        periods: dict[int, tuple[str, str]] = {}  # column -> (period, header cell)
        seen: dict[str, str] = {}
        code_col = None
        for cell in ws[header_row][1:]:
            if cell.coordinate in merged:
                continue
            if cell.column == 2 and _cell_text(cell.value).lower() == "code":
                code_col = 2
                continue
            text = self._text(ws, cell, problems)
            if text == "":
                continue
            at = _at(ws, cell.coordinate)
            try:
                parse_period(text)
            except ReadError as exc:
                self._problem(exc.key, problems, at, **exc.fields)
                continue
            if text in seen:
                self._problem("wb_err_duplicate_period", problems, at, value=text, first=seen[text])
                continue
            seen[text] = cell.coordinate
            periods[cell.column] = (text, cell.coordinate)
        for row in ws.iter_rows(min_row=header_row + 1):
            by_col = {c.column: c for c in row}
            name_cell = by_col.get(1)
            code_cell = by_col.get(code_col) if code_col else None
            name = "" if name_cell is None else self._text(ws, name_cell, problems)
            unit_code = "" if code_cell is None else self._text(ws, code_cell, problems)
            if name_cell is not None and name_cell.coordinate in merged:
                name = ""
            if code_cell is not None and code_cell.coordinate in merged:
                unit_code = ""
            values = []
            for cell in row:
                first_value_col = (code_col or 1) + 1
                if cell.column < first_value_col or cell.coordinate in merged:
                    continue
                text = self._text(ws, cell, problems)
                if text == "":
                    continue
                if cell.column not in periods:
                    header = f"{get_column_letter(cell.column)}{header_row}"
                    self._problem(
                        "wb_err_no_period_header",
                        problems,
                        _at(ws, cell.coordinate),
                        header=f"{ws.title}!{header}",
                    )
                    continue
                values.append((cell, text))
            if not values:
                continue
            if unit_code:
                unit, unit_at = unit_code, code_cell.coordinate
                if name and matcher is not None:
                    self._check_unit_name(ws, name_cell, name, unit_code, matcher, problems)
            else:
                unit = name
                unit_at = name_cell.coordinate if name_cell is not None else f"A{row[0].row}"
            for cell, text in values:
                period, period_at = periods[cell.column]
                rec = {"unit": unit, "period": period, "indicator": code, "value": text, "note": ""}
                where = {"unit": unit_at, "period": period_at, "value": cell.coordinate}
                yield rec, cell.row, where

    def _check_unit_name(self, ws, name_cell, name, unit_code, matcher, problems) -> None:
        """A row's name and code must be the same unit (the code is the key)."""
        try:
            by_name = matcher.resolve(name).code
        except UnitError:
            return  # names change; an unknown name beside a code is an alias
        if by_name != str(unit_code).strip().zfill(3):
            self._problem(
                "wb_err_unit_mismatch",
                problems,
                _at(ws, name_cell.coordinate),
                name=name,
                name_code=by_name,
                code=unit_code,
            )


# What zipfile raises on a damaged or foreign archive (a bad directory, an unknown method).
_DAMAGED_ZIP = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    EOFError,
    OSError,
    ValueError,
)


def _check_package(path: Path) -> tuple[str, dict] | None:
    """Why ``path`` must not be handed to openpyxl, as (label key, fields); None if it may.

    Only the first bytes, the zip directory and the first bytes of each XML part are read:
    a zip bomb is refused from the sizes its directory declares (``zipfile`` never inflates a
    part beyond its declared size: it fails the CRC check instead).
    """
    with path.open("rb") as fh:
        head = fh.read(8)
    if head == _CFB_SIGNATURE:
        return "err_wb_encrypted", {}
    if not head.startswith(_ZIP_SIGNATURES):
        return "err_wb_not_xlsx", {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            if "[Content_Types].xml" not in names:
                return "err_wb_not_xlsx", {}
            if any(i.flag_bits & 0x1 for i in infos):  # zip's own (legacy) encryption
                return "err_wb_encrypted", {}
            total = sum(i.file_size for i in infos)
            largest = max(infos, key=lambda i: i.file_size)
            for info in infos:
                ratio = info.file_size / max(info.compress_size, 1)
                over = info.file_size > _RATIO_FLOOR and ratio > _MAX_RATIO
                if over or total > _MAX_INFLATED:
                    info = info if over else largest
                    ratio = info.file_size / max(info.compress_size, 1)
                    return "err_wb_too_large", {
                        "part": info.filename,
                        "size": f"{info.file_size / 2**20:.0f}",
                        "ratio": f"{ratio:.0f}",
                        "limit": _MAX_INFLATED // 2**20,
                    }
            for info in infos:
                if info.filename.endswith((".xml", ".rels", ".vml")) and _declares_dtd(zf, info):
                    return "err_wb_xml_dtd", {"part": info.filename}
    except _DAMAGED_ZIP:
        return "err_wb_damaged", {}
    return None


def _declares_dtd(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether an XML part's prolog declares a DTD or entities (Excel never writes one)."""
    with zf.open(info) as fh:
        head = fh.read(_PROLOG_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    return b"<!DOCTYPE" in head or b"<!ENTITY" in head


def _defused(exc: BaseException) -> bool:
    """Whether defusedxml refused the XML somewhere down ``exc``'s chain of causes."""
    try:
        from defusedxml import DefusedXmlException
    except ImportError:  # pragma: no cover - defusedxml is a dependency
        return False
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DefusedXmlException):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


_TRUE_WORDS = {"true", "yes", "co", "x", "1", "dung"}
_FALSE_WORDS = {"false", "no", "khong", "0", "sai"}


def _synthetic(value: object) -> object:
    """``synthetic`` as typed (TRUE/FALSE cells, true/false, có/không); else the raw text."""
    if isinstance(value, bool):
        return value
    text = fold(_cell_text(value, "."))
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    return text  # not a bool: the loader reports it


def _formulas_without_value(path: Path) -> dict[str, set[str]]:
    """Sheet name -> cells holding a formula without a saved value.

    openpyxl's ``data_only`` mode shows such a cell as blank; only the sheet XML tells a
    never-calculated formula (no ``<v>``, or an empty one on a non-text result: what openpyxl
    and other generators write) from an empty text result (``t="str"``, ``<v></v>``).
    """
    from openpyxl.utils import column_index_from_string, get_column_letter
    from openpyxl.xml.functions import fromstring, iterparse  # defusedxml when installed

    main = f"{{{_MAIN_NS}}}"
    out: dict[str, set[str]] = {}
    with zipfile.ZipFile(path) as zf:
        root_rels = fromstring(zf.read("_rels/.rels"))
        book_part = next(
            r.get("Target") for r in root_rels if r.get("Type", "").endswith("/officeDocument")
        ).lstrip("/")
        base = posixpath.dirname(book_part)
        rels_part = posixpath.join(base, "_rels", posixpath.basename(book_part) + ".rels")
        targets = {r.get("Id"): r.get("Target") for r in fromstring(zf.read(rels_part))}
        for sheet in fromstring(zf.read(book_part)).iter(f"{main}sheet"):
            target = targets.get(sheet.get(f"{{{_REL_NS}}}id"), "")
            part = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(base, target))
            )
            if part not in zf.namelist() or not part.endswith(".xml"):
                continue  # a chart sheet or an external part: no cells
            missing: set[str] = set()
            out[sheet.get("name")] = missing
            with zf.open(part) as fh:
                if not any(_FORMULA_TAG.search(chunk) for chunk in _chunks(fh)):
                    continue  # the common case: no formula at all, nothing to parse
            row_no, col_no = 0, 0
            with zf.open(part) as fh:
                for event, el in iterparse(fh, events=("start", "end")):
                    if event == "start":
                        if el.tag == f"{main}row":
                            row_no = int(el.get("r") or row_no + 1)
                            col_no = 0
                        elif el.tag == f"{main}c":
                            ref = el.get("r")
                            if ref:
                                col_no = column_index_from_string(ref.rstrip("0123456789"))
                            else:
                                col_no += 1
                        continue
                    if el.tag != f"{main}c":
                        continue
                    if el.find(f"{main}f") is not None:
                        v = el.find(f"{main}v")
                        empty = v is None or not (v.text or "")
                        if empty and (v is None or el.get("t") not in ("str", "inlineStr")):
                            missing.add(el.get("r") or f"{get_column_letter(col_no)}{row_no}")
                    el.clear()
    return out


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _chunks(fh, size: int = 1 << 20):
    """A file's bytes in overlapping chunks, so that a tag is never split between two."""
    tail = b""
    while chunk := fh.read(size):
        yield tail + chunk
        tail = chunk[-16:]


# ---------------------------------------------------------------------------------------------
# Import: validate, then write a dataset folder
# ---------------------------------------------------------------------------------------------


def import_workbook(workbook: str | Path, outdir: str | Path, *, today: date | None = None) -> Path:
    """Validate a workbook and write it as a dataset folder.

    Parameters
    ----------
    workbook : str or Path
        A workbook in the template's layout.
    outdir : str or Path
        The dataset folder to create; it must not exist or be empty. It is written in a
        temporary sibling folder, then moved into place in one step.
    today : date, optional
        Passed to the validation (years after it are errors).

    Returns
    -------
    Path
        The folder written (absolute): ``metadata.json``, ``pilots.csv``, ``panel.csv`` and,
        when the workbook has comments, ``comments.csv``. Units are written as codes, periods as
        normalized by the loader, values as numbers (ratings 1-4, shares 0-1).

    Raises
    ------
    DatasetError
        The workbook is invalid; nothing is written.
    ParameterError
        ``outdir`` is a file or a non-empty folder.
    """
    source = Path(workbook).expanduser().absolute()
    out = Path(outdir).expanduser().absolute()
    _check_outdir(out)
    if not source.is_file():
        raise DatasetError([Problem(*both("err_no_dataset", path=str(source)))], str(source))
    dataset = validate_source(WorkbookSource(source), today=today)
    files = _dataset_files(dataset)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8", newline="")
        _check_outdir(out)  # still free: nobody wrote there meanwhile
        if out.is_dir():
            out.rmdir()  # empty (checked): os.replace cannot move a folder onto a folder
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _check_outdir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ParameterError(*both("wb_err_outdir_is_file", path=str(out)))
    if out.is_dir() and any(out.iterdir()):
        raise ParameterError(*both("wb_err_outdir_not_empty", path=str(out)))




def _safe(text: object) -> str:
    """A CSV field that no spreadsheet will run as a formula (plain numbers stay as they are)."""
    s = "" if text is None else str(text)
    if s.startswith(FORMULA_START):
        try:
            float(s)
            return s
        except ValueError:
            return "'" + s
    return s


def _csv(header: list[str], rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe(v) for v in row])
    return buf.getvalue()


def _start_text(start: pd.Timestamp, precision: str) -> str:
    day = start.date()
    if precision == "year":
        return f"{day.year:04d}"
    if precision == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def _dataset_files(ds: Dataset) -> dict[str, str]:
    meta = {}
    for key in META_KEYS:
        value = ds.metadata.get(key)
        if key == "synthetic" or value not in (None, ""):
            meta[key] = value
    files = {"metadata.json": json.dumps(meta, ensure_ascii=False, indent=2) + "\n"}
    files["pilots.csv"] = _csv(
        list(_PILOT_HEADER),
        (
            (
                p.unit_code,
                p.model,
                _start_text(p.start, p.start_precision),
                p.start_precision,
                p.start_status,
                "" if pd.isna(p.end) else p.end.date().isoformat(),
                p.source,
            )
            for p in ds.pilots.itertuples(index=False)
        ),
    )
    files["panel.csv"] = _csv(
        ["unit", "period", "indicator", "value", "note"],
        (
            (r.unit_code, r.period, r.indicator, _number_text(float(r.value), "."), r.note)
            for r in ds.panel.itertuples(index=False)
        ),
    )
    if len(ds.comments):
        files["comments.csv"] = _csv(
            list(_COMMENT_HEADER),
            (
                (c.unit_code, c.model, c.comment, c.author, c.date)
                for c in ds.comments.itertuples(index=False)
            ),
        )
    return files
