"""Workbooks as datasets: read a filled template (``load_dataset``), import it to a folder.

:class:`WorkbookSource` lets :func:`~kiemnhiem.data.dataset.load_dataset` read a workbook in
the template's layout (:mod:`.sheets`), with every problem naming its sheet and cell
(``so_cuoc_hop!D7``); :func:`import_workbook` (``kiemnhiem import``) validates a workbook and
writes it as a dataset folder. The template itself is written by :mod:`.template`.

Before openpyxl opens a file, :func:`_check_package` refuses what is not a workbook to read:
an OLE/CFB container (a password-protected workbook or an old ``.xls``), anything that is not a
zip, a damaged zip, parts that would inflate beyond :data:`_MAX_INFLATED` (a zip bomb: judged
from the zip directory, before inflating anything) and XML parts declaring a DTD (an entity
bomb; openpyxl also parses sheets and shared strings through defusedxml, which refuses them).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from ..exceptions import DatasetError, Problem, UnitError
from ..labels import both
from .catalog import builtin_indicators
from .cells import CleanText, clean_text
from .choices import read_synthetic
from .folder import check_outdir, dataset_files, number_text, write_dataset_folder
from .legacy import decode_as
from .ods import is_ods, ods_encrypted, read_ods
from .readers import ENCODING_NAMES, ReadError, Table, parse_period
from .sheets import (
    FIXED_SHEETS,
    HEADER_SCAN,
    SHEET_GUIDE,
    SHEET_META,
    TABLE_SHEETS,
)
from .sources import META_KEYS, Source
from .units import UnitMatcher, fold
from .validate import validate_source

__all__ = ["WorkbookSource", "import_workbook"]

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CFB_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")  # OLE compound file: encrypted, or .xls
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_MAX_INFLATED = 200 * 2**20  # bytes, all parts together: far beyond any data workbook
_MAX_RATIO = 200  # inflated / compressed, for parts over _RATIO_FLOOR (deflate tops at ~1032)
_RATIO_FLOOR = 8 * 2**20
_PROLOG_BYTES = 4096  # how much of each XML part is searched for a DTD


# ---------------------------------------------------------------------------------------------
# Reading a workbook
# ---------------------------------------------------------------------------------------------


@dataclass
class _SheetTable(Table):
    """A table gathered from workbook cells; rows may come from several sheets."""

    sheets: list[str] = field(default_factory=list)

    # The decimal mark of numbers typed as text ("2.150", "12,5") is decided per workbook as
    # for a CSV file (Table.decimal_comma, readers.decimal_mark): LibreOffice and Excel in
    # Vietnamese write "2.150" for 2150, and "2.150" alone does not say which it is. Number
    # cells are exact and passed on with a dot (``numeric``).

    def where(self, i: int, column: str | None = None) -> dict:
        sheet = self.sheets[i]
        place = self.place(i)
        cell = self.cells[i].get(column) if (self.cells and column) else None
        if cell:
            return {"file": self.file, "sheet": sheet, "cell": f"{sheet}!{cell}", "place": place}
        return {
            "file": self.file,
            "sheet": sheet,
            "row": self.line_numbers[i],
            "column": column,
            "place": place,
        }

    def ref(self, i: int) -> str:
        return f"{self.sheets[i]}!{self.line_numbers[i]}"


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
        return number_text(value, decimal)
    return unicodedata.normalize("NFC", str(value)).strip()


def _date_as_shown(cell, text: str) -> str:
    """A date cell's value to the precision its number format shows (``2018-08`` for
    ``mmm-yy``, ``2018`` for ``yyyy``); other cells as read."""
    if not isinstance(cell.value, datetime | date):
        return text
    shown = re.sub(r'"[^"]*"|\[[^]]*\]', "", str(cell.number_format or "")).lower()
    day = cell.value.date() if isinstance(cell.value, datetime) else cell.value
    if "d" in shown:
        return day.isoformat()
    if "m" in shown:
        return f"{day.year:04d}-{day.month:02d}"
    if "y" in shown:
        return f"{day.year:04d}"
    return day.isoformat()


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

    def __init__(self, path: str | Path, *, include_hidden: bool = False):
        self.path = Path(path)
        self.label = str(self.path)
        self.include_hidden = include_hidden  # read values in hidden rows and columns
        self._cleaned: dict[str, CleanText] = {}  # text cell -> what clean_text made of it
        self._notes: dict[tuple, list] = {}  # (kind, what) -> [count, where, before, after]
        self._opened = False
        self._book = None
        self._sheets: dict[str, object] = {}  # folded key -> worksheet
        self._indicator_sheets: list[tuple[str, object]] = []
        self._no_value: dict[str, set[str]] = {}
        self._province: str | None = None
        self._ods = False  # an OpenDocument spreadsheet, read through python-calamine
        self._encoding: str | None = None  # the legacy encoding of the workbook's text, if one
        self._unicode_columns: set[tuple[str, int]] = set()  # (sheet, column) with Unicode text

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
        self._ods = _is_ods_package(self.path)
        try:
            if self._ods:
                book, self._no_value = read_ods(self.path)
            else:
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
        fixed = {_sheet_key(s): s for s in FIXED_SHEETS}
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
        self._scan_legacy()
        return True

    def _scan_legacy(self) -> None:
        """Find the workbook's legacy encoding, as a CSV file's (readers._clean_columns): when
        the text cells that show a telling glyph are all of one encoding, the cells without
        one ("Quúnh Nhai", "Mai Sôn") in columns with no Unicode Vietnamese of their own are
        read in that encoding too (:meth:`_text`)."""
        sheets = [ws for key, ws in self._sheets.items() if key != SHEET_GUIDE]
        sheets += [ws for _code, ws in self._indicator_sheets]
        encodings: set[str] = set()
        for ws in sheets:
            # Below the header row only: the labels above it are the template's Unicode text.
            first = 1
            for (cell,) in ws.iter_rows(min_row=1, max_row=HEADER_SCAN, max_col=1):
                if isinstance(cell.value, str) and cell.value.strip().lower() in ("unit", "key"):
                    first = cell.row + 1
                    break
            for row in ws.iter_rows(min_row=first):
                for cell in row:
                    value = cell.value
                    if not isinstance(value, str) or value.isascii():
                        continue
                    if any(ord(ch) > 0xFF for ch in value):
                        self._unicode_columns.add((ws.title, cell.column))
                    text = _cell_text(value)
                    cleaned = self._cleaned.get(text)
                    if cleaned is None:
                        cleaned = self._cleaned[text] = clean_text(text)
                    if cleaned.encoding:
                        encodings.add(cleaned.encoding)
        self._encoding = next(iter(encodings)) if len(encodings) == 1 else None

    def _text(self, ws, cell, problems: list[Problem], decimal: str = ",") -> str:
        """A cell's text; a formula without a saved value is a problem (and blank). Text typed
        with a legacy font is converted and invisible characters removed (noted), or, when the
        conversion is not certain, refused."""
        if cell.value is None and cell.coordinate in self._no_value.get(ws.title, ()):
            self._problem("wb_err_formula_no_value", problems, _at(ws, cell.coordinate))
            return ""
        text = _cell_text(cell.value, decimal)
        if text.isascii() or not isinstance(cell.value, str):
            return text
        cleaned = self._cleaned.get(text)
        if cleaned is None:
            cleaned = self._cleaned[text] = clean_text(text)
        if cleaned.unsure:
            self._problem("err_legacy_unsure", problems, _at(ws, cell.coordinate), value=text)
            return text
        if (
            not cleaned.changed
            and self._encoding is not None
            and (ws.title, cell.column) not in self._unicode_columns
        ):
            read = decode_as(text, self._encoding)
            if read.encoding:
                cleaned = CleanText(read.text, text, read.encoding)
        if cleaned.changed:
            where = {"file": self.path.name, **_at(ws, cell.coordinate)}
            if cleaned.encoding:
                entry = self._notes.setdefault(
                    ("legacy", cleaned.encoding), [0, where, text, cleaned.text]
                )
                entry[0] += 1
            if cleaned.removed:
                what = ", ".join(cleaned.removed)
                self._notes.setdefault(("invisible", what), [0, where, "", ""])[0] += 1
        return cleaned.text

    def notes(self) -> list[Problem]:
        """What was converted or removed while reading, one note per kind (first place)."""
        out = []
        for (kind, what), (count, where, before, after) in self._notes.items():
            if kind == "legacy":
                vi_name, en_name = ENCODING_NAMES[what]
                fields = {"count": count, "before": before, "after": after}
                vi = both("note_legacy_converted", encoding=vi_name, **fields)[0]
                en = both("note_legacy_converted", encoding=en_name, **fields)[1]
                out.append(Problem(vi, en, **where))
            else:
                msgs = both("note_invisible_removed", what=what, count=count)
                out.append(Problem(*msgs, **where))
        return out

    def _hidden(self, ws) -> tuple[set[int], set[int]]:
        """The sheet's hidden rows and columns (numbers); none when they are to be read."""
        if self.include_hidden:
            return set(), set()
        rows = {r for r, dim in ws.row_dimensions.items() if dim.hidden}
        cols: set[int] = set()
        for dim in ws.column_dimensions.values():
            if dim.hidden and dim.min:
                cols.update(range(dim.min, (dim.max or dim.min) + 1))
        return rows, cols

    def _check_hidden(self, ws, cells, problems: list[Problem]) -> set[str]:
        """Refuse values in hidden rows or columns (draft figures imported unseen); returns the
        coordinates to leave out. ``cells`` are the value cells of the table's rows."""
        rows, cols = self._hidden(ws)
        if not rows and not cols:
            return set()
        from openpyxl.utils import get_column_letter

        hidden_rows, hidden_cols, skip = set(), set(), set()
        for cell in cells:
            if cell.value is None:
                continue
            if cell.row in rows:
                hidden_rows.add(cell.row)
                skip.add(cell.coordinate)
            elif cell.column in cols:
                hidden_cols.add(cell.column)
                skip.add(cell.coordinate)
        if hidden_rows:
            first = min(hidden_rows)
            text = ", ".join(str(r) for r in sorted(hidden_rows))
            self._problem(
                "err_wb_hidden_rows", problems, {"sheet": ws.title, "row": first}, rows=text
            )
        if hidden_cols:
            letters = [get_column_letter(c) for c in sorted(hidden_cols)]
            self._problem(
                "err_wb_hidden_columns",
                problems,
                {"sheet": ws.title, "column": letters[0]},
                columns=", ".join(letters),
            )
        return skip

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
        for row in ws.iter_rows(min_row=1, max_row=min(ws.max_row, HEADER_SCAN)):
            for cell in row:
                if column is not None and cell.column != column:
                    continue
                if isinstance(cell.value, str) and cell.value.strip().lower() == marker:
                    return cell.row
        self._problem(
            "wb_err_no_header", problems, {"sheet": ws.title}, marker=marker, rows=HEADER_SCAN
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
        sheet = TABLE_SHEETS.get(kind)
        if sheet is None:
            return None  # catalogs and events come from the built-ins
        ws = self._sheets.get(sheet)
        if ws is None:
            if must_exist:
                self._problem("wb_err_missing_sheet", problems, {"sheet": sheet}, sheet=sheet)
            return None
        # A district without a pilot leaves thi_diem empty: valid to import and merge.
        rows_needed = must_exist and kind != "pilots"
        return self._entry_table(ws, required, optional, problems, rows_needed)

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
        below = list(ws.iter_rows(min_row=header_row + 1))
        merged = merged | self._check_hidden(ws, [c for row in below for c in row], problems)
        for row in below:
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
            start_cell = by_col.get(columns.get("start", 0))
            if rec.get("start_precision", "x") == "" and start_cell is not None:
                # Precision left blank: a date cell's own display decides (Excel shows a typed
                # "08/2018" as Aug-18: a month, never 1 August).
                rec["start"] = _date_as_shown(start_cell, rec["start"])
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
        rows, lines, cells, sheets, numeric = [], [], [], [], []
        for code, ws in self._indicator_sheets:
            for rec, line, where, is_number in self._grid(code, ws, matcher, problems):
                rows.append(rec)
                lines.append(line)
                cells.append(where)
                sheets.append(ws.title)
                numeric.append(is_number)
        if not rows:
            self._problem("wb_err_no_values", problems)
            return None
        columns = ["unit", "period", "indicator", "value", "note"]
        return _SheetTable(
            self.path.name,
            columns,
            rows,
            lines,
            sheet="",
            cells=cells,
            sheets=sheets,
            numeric=numeric,
        )

    def _grid(self, code: str, ws, matcher, problems):
        """Melt one indicator sheet: yields (row, line, cells, is_number) per non-blank value
        cell; ``is_number`` when the cell holds a number rather than text."""
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
        below = list(ws.iter_rows(min_row=header_row + 1))
        hidden = self._check_hidden(ws, [c for row in below for c in row], problems)
        merged = merged | hidden
        for row in below:
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
                text = self._text(ws, cell, problems, decimal=".")
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
                is_number = isinstance(cell.value, int | float) and not isinstance(cell.value, bool)
                yield rec, cell.row, where, is_number

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
        # An OLE container: Excel 97-2003 (.xls) holds a "Workbook" (or "Book") stream, an
        # encrypted .xlsx an "EncryptedPackage"; directory names are UTF-16 in the file.
        data = path.read_bytes()[: 1 << 20]
        if "EncryptedPackage".encode("utf-16-le") not in data and (
            "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data
        ):
            return "err_wb_xls", {}
        return "err_wb_encrypted", {}
    ods_name = path.suffix.lower() == ".ods"
    if not head.startswith(_ZIP_SIGNATURES):
        return ("err_ods_not_spreadsheet" if ods_name else "err_wb_not_xlsx"), {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            ods = is_ods(zf)
            if ods and ("content.xml" not in names or ods_encrypted(zf)):
                # LibreOffice encrypts content.xml when a password is set
                return ("err_wb_encrypted" if ods_encrypted(zf) else "err_ods_damaged"), {}
            if not ods and "[Content_Types].xml" not in names:
                return ("err_ods_not_spreadsheet" if ods_name else "err_wb_not_xlsx"), {}
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
        return ("err_ods_damaged" if ods_name else "err_wb_damaged"), {}
    return None


def _is_ods_package(path: Path) -> bool:
    """Whether a package (checked by :func:`_check_package`) is an OpenDocument spreadsheet;
    the content decides, not the name (an .ods renamed .xlsx is read too)."""
    with zipfile.ZipFile(path) as zf:
        return is_ods(zf)


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


def _synthetic(value: object) -> object:
    """``synthetic`` as typed (TRUE/FALSE cells, có/không, true/false); else the raw text."""
    read = read_synthetic(value if isinstance(value, bool) else _cell_text(value, "."))
    return _cell_text(value, ".") if read is None else read  # not a bool: the loader says


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


def import_workbook(
    workbook: str | Path,
    outdir: str | Path,
    *,
    today: date | None = None,
    include_hidden: bool = False,
    force: bool = False,
) -> Path:
    """Validate a workbook and write it as a dataset folder.

    Parameters
    ----------
    workbook : str or Path
        A workbook in the template's layout (``.xlsx`` or ``.ods``).
    outdir : str or Path
        The dataset folder to write. A new or empty folder is written; an existing dataset
        folder (one with ``metadata.json``) is replaced only with ``force`` (the update path:
        a newer workbook of the same office), keeping the files the workbook does not provide
        (``indicators.csv``, ``models.csv``, ``events.csv``, ...). Any other non-empty folder is
        refused. The folder is written beside it and moved into place, never half-written.
    today : date, optional
        Passed to the validation (years after it are errors).
    include_hidden : bool
        Read values in hidden rows and columns instead of refusing them.
    force : bool
        Replace an existing dataset folder.

    Returns
    -------
    Path
        The folder written (absolute): ``metadata.json``, ``pilots.csv``, ``panel.csv`` and,
        when the workbook has comments, ``comments.csv``. Units are written as codes, periods as
        normalized by the loader, values as numbers (ratings 1-4, shares 0-1).

    Raises
    ------
    DatasetError
        The workbook is invalid (or the updated folder would be); nothing is written.
    ParameterError
        ``outdir`` is a file, a non-empty folder that is not a dataset, or a dataset folder
        without ``force``.
    """
    source = Path(workbook).expanduser().absolute()
    out = Path(outdir).expanduser().absolute()
    check_outdir(out, force)
    if not source.is_file():
        raise DatasetError([Problem(*both("err_no_dataset", path=str(source)))], str(source))
    dataset = validate_source(WorkbookSource(source, include_hidden=include_hidden), today=today)
    return write_dataset_folder(dataset_files(dataset), out, force=force, today=today)
