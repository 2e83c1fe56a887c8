"""The data-entry template (``kiemnhiem template``): sheets, drop-downs, checks, protection.

Analysts keep their figures in Excel. :func:`write_template` writes the workbook of the dataset
contract (the layout is in :mod:`.sheets`): instructions in Vietnamese then English, a
metadata sheet, the pilots and comments sheets with drop-downs, and one sheet per indicator
whose value cells accept only what the indicator's kind allows. Sheets are protected without a
password so that labels and codes stay as written; :mod:`.workbook` reads the filled workbook.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from ..exceptions import ParameterError, UnitError
from ..labels import both, label
from .catalog import builtin_indicators, builtin_models
from .choices import PRECISION_WORDS, STATUS_WORDS, SYNTHETIC_WORDS
from .issuing import KIND_WORDS
from .sheets import (
    COMMENT_HEADER,
    GRID_HEADER_ROW,
    PILOT_HEADER,
    SHEET_COMMENTS,
    SHEET_GUIDE,
    SHEET_LISTS,
    SHEET_META,
    SHEET_PILOTS,
)
from .sources import META_KEYS
from .units import UnitMatcher, unit_table

__all__ = ["parse_years", "write_template"]

_ENTRY_ROWS = 1000  # rows given drop-downs and checks (pilots, comments, freely typed units)
_YEAR_LIMITS = (1945, 2100)
_DATE_COLUMNS = ("start", "end", "date")


def _both(key: str, /, **fields: object) -> str:
    """Vietnamese and English in one cell ("vi / en")."""
    vi, en = both(key, **fields)
    return f"{vi} / {en}"


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
    # Models are picked by their Vietnamese name; the reader also takes codes and short forms.
    unit_list = _write_lists(lists, listed, list(models["label_vi"]))
    _write_guide(guide, matcher, indicators, models, unit_rows)
    _write_meta_sheet(book.create_sheet(SHEET_META), matcher, last)
    _write_entry_sheet(book.create_sheet(SHEET_PILOTS), PILOT_HEADER, unit_list)
    for rec in indicators.itertuples(index=False):
        _write_indicator_sheet(book.create_sheet(rec.code), rec, unit_rows, first, last)
    _write_entry_sheet(book.create_sheet(SHEET_COMMENTS), COMMENT_HEADER, unit_list)
    book.move_sheet(lists, offset=len(book.sheetnames))
    lists.sheet_state = "hidden"
    _protect(lists, [])
    for ws in book.worksheets:
        _print_setup(ws)
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


#: Rows repeated at the top of each printed page, per sheet (indicator sheets: rows 1-5).
_TITLE_ROWS = {SHEET_META: "1:2", SHEET_PILOTS: "1:2", SHEET_COMMENTS: "1:2"}


def _print_setup(ws) -> None:
    """A4 landscape, every column on one page width, the header rows on every page: an
    office prints the empty template to fill in by hand, or a filled one to sign."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if ws.title == SHEET_GUIDE or ws.title == SHEET_LISTS:
        return
    ws.print_title_rows = _TITLE_ROWS.get(ws.title, f"1:{GRID_HEADER_ROW}")


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


def _words(choices: dict) -> str:
    """An inline drop-down of a choice's Vietnamese words (``"ngày,tháng,năm"``)."""
    return '"' + ",".join(vi for vi, _en in choices.values()) + '"'


def _write_lists(ws, unit_rows, model_names) -> str | None:
    """The drop-down sources; returns the unit list's range (None without units)."""
    ws["A1"], ws["B1"] = "unit", "model"
    for i, (name, _code) in enumerate(unit_rows, start=2):
        ws.cell(row=i, column=1, value=name)
    for i, name in enumerate(model_names, start=2):
        ws.cell(row=i, column=2, value=name)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 70
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
    dv = _validation("list", _both("wb_dv_synthetic"), formula1=_words(SYNTHETIC_WORDS))
    dv.add(f"B{synthetic_row}")
    ws.add_data_validation(dv)
    # The documents' format: Đảng (HD 36-HD/VPTW) or Nhà nước (Decree 30/2020/NĐ-CP).
    kind_row = 3 + META_KEYS.index("the_thuc")
    dv = _validation("list", _both("wb_dv_the_thuc"), formula1=_words(KIND_WORDS))
    dv.add(f"B{kind_row}")
    ws.add_data_validation(dv)
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 40
    ws.column_dimensions["C"].width = 90
    ws.freeze_panes = "A3"
    _protect(ws, [f"B3:B{2 + len(META_KEYS)}"])


def _write_entry_sheet(ws, columns: tuple[str, ...], unit_list: str | None) -> None:
    """``thi_diem`` or ``nhan_xet``: display labels, column codes, then rows to fill."""
    from openpyxl.utils import get_column_letter

    st = _styles()
    first, last = 3, 2 + _ENTRY_ROWS
    widths = {"unit": 24, "model": 40, "comment": 60, "source": 40}
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
            dv = _validation("list", _both("wb_dv_precision"), formula1=_words(PRECISION_WORDS))
        elif code == "start_status":
            dv = _validation("list", _both("wb_dv_status"), formula1=_words(STATUS_WORDS))
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
    hr = GRID_HEADER_ROW
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
