"""Export estimates, verdicts and the yearly data used to one Excel workbook, for analysts.

One sheet per table, each formatted for reading: a header row of labels in the chosen language
over a row of column codes (the English names of :func:`~kiemnhiem.evaluation.evaluate_all`'s
columns, so the sheet can be read back by program), number formats by meaning, widths that fit,
the header frozen. Sheets:

- ``thong_tin``: what made the workbook (dataset, synthetic or not, parameters, version);
- ``uoc_luong``: every estimate, one row per pilot x indicator and per model x indicator;
- ``ket_luan``: the verdicts with their reasons and caveats, in words;
- ``so_lieu_nam``: the yearly values the estimates use (``annual_panel``), with the notes the
  dataset gives for each year.

Text from the data never becomes a formula: any text starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return is stored explicitly as a string with Excel's quote prefix (shown as
typed, never evaluated, even after the cell is edited). The file is written to a temporary name
beside the target and moved into place, so a reader never sees half a workbook.
"""

from __future__ import annotations

import math
import os
import uuid
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .exceptions import ParameterError
from .labels import both, check_lang, label
from .readers import FORMULA_START
from .tables import indicator_info, indicator_notes, model_label, verdict_text

__all__ = [
    "ESTIMATE_COLUMNS",
    "SHEET_DATA",
    "SHEET_ESTIMATES",
    "SHEET_INFO",
    "SHEET_VERDICTS",
    "VERDICT_COLUMNS",
    "YEARLY_COLUMNS",
    "export_results",
    "safe_text",
]

SHEET_INFO = "thong_tin"
SHEET_ESTIMATES = "uoc_luong"
SHEET_VERDICTS = "ket_luan"
SHEET_DATA = "so_lieu_nam"
#: Marks a workbook this module wrote (the only kind it overwrites without being told).
EXPORT_KEYWORD = "kiemnhiem-export"

ESTIMATE_COLUMNS = (
    "scope",
    "model",
    "unit_code",
    "unit_name",
    "indicator",
    "indicator_name",
    "kind",
    "better",
    "start",
    "start_precision",
    "start_status",
    "end",
    "T",
    "g",
    "pre_years_used",
    "post_years_used",
    "did_years_used",
    "n_pre",
    "n_post",
    "n_pilots",
    "pre_mean",
    "post_mean",
    "change",
    "change_scale",
    "pct_change",
    "did",
    "comparison",
    "n_comparison",
    "ci_low",
    "ci_high",
    "ci_level",
    "hl_estimate",
    "p_better",
    "p_worse",
    "p_two",
    "p_min",
    "n_assignments",
    "n_possible",
    "inference",
    "mc_error",
    "rank",
    "rank_direction",
    "trend_effect",
    "pretrend_slope",
    "pretrend_p",
    "pretrend_years_used",
    "pretrend_flag",
    "start_sensitive",
    "mixed_models",
    "joint_test",
    "level",
    # District evidence (pilot rows) and the model test's power.
    "own_estimate",
    "own_low",
    "own_high",
    "own_p_better",
    "own_p_worse",
    "noise_floor",
    "n_reference",
    "pooled_estimate",
    "pooled_low",
    "pooled_high",
    "consistency_p",
    "consistency",
    "long_diff",
    "long_diff_p",
    "mde",
    "model_verdict",
    "joint_with",
)
VERDICT_COLUMNS = (
    "scope",
    "model",
    "model_name",
    "unit_code",
    "unit_name",
    "indicator",
    "indicator_name",
    "status",
    "verdict",
    "verdict_text",
    "reason_code",
    "reason",
    "notes",
    "verdict_earlier",
    "verdict_later",
    "placebo_verdict",
    "placebo_reason",
)
YEARLY_COLUMNS = (
    "unit_code",
    "unit_name",
    "indicator",
    "indicator_name",
    "year",
    "value",
    "partial",
    "freq",
    "note",
)

# Number formats by meaning (Excel shows them in the reader's own locale).
_INT = "0"
_LEVEL = "#,##0.00"
_DIFF = "+#,##0.00;-#,##0.00;0.00"
_SHARE = "0.0%"
_SHARE_DIFF = "+0.000;-0.000;0.000"
_PCT = "+0.0%;-0.0%;0.0%"
_P = "0.0000"
_DATE = "dd/mm/yyyy"
_FORMATS = {
    "T": _INT,
    "g": _INT,
    "n_pre": _INT,
    "n_post": _INT,
    "n_pilots": _INT,
    "n_comparison": _INT,
    "n_assignments": "#,##0",
    "n_possible": "#,##0",
    "rank": _INT,
    "year": _INT,
    "pct_change": _PCT,
    "ci_level": "0%",
    "level": "0%",
    "p_better": _P,
    "p_worse": _P,
    "p_two": _P,
    "p_min": _P,
    "mc_error": _P,
    "pretrend_p": _P,
    "own_p_better": _P,
    "own_p_worse": _P,
    "consistency_p": _P,
    "long_diff_p": _P,
    "noise_floor": "0.00",
    "n_reference": _INT,
    "start": _DATE,
    "end": _DATE,
}
_LEVELS = ("pre_mean", "post_mean", "value")
_DIFFERENCES = (
    "change", "did", "ci_low", "ci_high", "hl_estimate", "trend_effect", "pretrend_slope",
    "own_estimate", "own_low", "own_high", "pooled_estimate", "pooled_low", "pooled_high",
    "long_diff", "mde",
)


def export_results(
    dataset,
    out_path: str | Path,
    *,
    lang: str = "vi",
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
    results: pd.DataFrame | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the estimates, verdicts and yearly data of ``dataset`` to an ``.xlsx`` workbook.

    Parameters
    ----------
    dataset : Dataset
    out_path : str or Path
        The ``.xlsx`` file to write (its folder is created).
    lang : {"vi", "en"}
        Language of the header labels and of the verdicts' words.
    pre_years, post_years, level
        As :func:`~kiemnhiem.evaluation.evaluate_all`.
    results : DataFrame, optional
        :func:`~kiemnhiem.evaluation.evaluate_all`'s frame, when already computed with the same
        parameters (else it is computed here).
    overwrite : bool
        Replace any existing file. Without it only a workbook this function wrote earlier is
        replaced: an analyst's own workbook (say the dataset, typed by mistake) never is.

    Returns
    -------
    Path
        The file written (absolute).

    Raises
    ------
    ParameterError
        Not an ``.xlsx`` name, an existing file that is not an earlier export, or the dataset
        itself as the target.
    """
    from openpyxl import Workbook

    from .evaluation import evaluate_all
    from .timeline import annual_panel

    lang = check_lang(lang)
    out = Path(out_path).expanduser().absolute()
    if out.suffix.lower() != ".xlsx":
        raise ParameterError(*both("export_err_suffix", path=str(out)))
    if dataset.path is not None and out.resolve() == Path(dataset.path).resolve():
        raise ParameterError(*both("export_err_is_dataset", path=str(out)))
    if out.exists() and not overwrite and not _is_export(out):
        raise ParameterError(*both("wb_err_exists", path=str(out)))
    if results is None:
        results = evaluate_all(dataset, pre_years=pre_years, post_years=post_years, level=level)

    book = Workbook()
    book.properties.creator = f"kiemnhiem {__version__}"
    book.properties.keywords = EXPORT_KEYWORD
    book.properties.title = label("export_title", lang, name=dataset.name)
    info = book.active
    info.title = SHEET_INFO
    _write_info(info, dataset, lang, pre_years, post_years, level)
    estimates = _estimates(results, dataset, lang)
    _write_table(
        book.create_sheet(SHEET_ESTIMATES),
        estimates,
        lang,
        freeze="F3",
        share_levels=(estimates["kind"] == "share").tolist(),
        share_differences=(estimates["change_scale"] == "pp").tolist(),
    )
    _write_table(
        book.create_sheet(SHEET_VERDICTS), _verdicts(results, dataset, lang), lang, freeze="H3"
    )
    yearly = _yearly(annual_panel(dataset), dataset, set(results["indicator"].astype(str)), lang)
    kinds = dataset.indicators.set_index("code")["kind"]
    _write_table(
        book.create_sheet(SHEET_DATA),
        yearly,
        lang,
        freeze="E3",
        share_levels=(yearly["indicator"].map(kinds) == "share").tolist(),
    )
    for ws in book.worksheets:
        # One selected tab only: grouped tabs in Excel take each other's typing.
        ws.sheet_view.tabSelected = ws.title == SHEET_INFO
    book.active = 0

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        book.save(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def safe_text(text: str) -> tuple[str, bool]:
    """Text as a cell may hold it: XML-illegal control characters dropped, and whether it must
    be stored as a string explicitly (it starts like a formula)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    clean = ILLEGAL_CHARACTERS_RE.sub("", text)
    return clean, clean.startswith(FORMULA_START)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _estimates(results: pd.DataFrame, dataset, lang: str) -> pd.DataFrame:
    frame = results.copy()
    frame["indicator_name"] = frame["indicator"].map(
        _indicator_names(frame["indicator"], dataset, lang)
    )
    return frame.loc[:, list(ESTIMATE_COLUMNS)]


def _verdicts(results: pd.DataFrame, dataset, lang: str) -> pd.DataFrame:
    names = _indicator_names(results["indicator"], dataset, lang)
    rows = []
    for _, r in results.iterrows():
        notes = indicator_notes(r, lang)
        reason = str(r.get(f"reason_{lang}", "") or "")
        if notes and notes[0] == reason.strip():
            notes = notes[1:]
        rows.append(
            {
                "scope": r["scope"],
                "model": r["model"],
                "model_name": model_label(dataset.models, str(r["model"]), lang),
                "unit_code": r["unit_code"],
                "unit_name": r["unit_name"],
                "indicator": r["indicator"],
                "indicator_name": names[r["indicator"]],
                "status": r["status"],
                "verdict": r["verdict"],
                "verdict_text": verdict_text(r["verdict"], lang),
                "reason_code": r["reason_code"],
                "reason": reason,
                "notes": " ".join(notes),
                "verdict_earlier": r["verdict_earlier"],
                "verdict_later": r["verdict_later"],
                "placebo_verdict": r.get("placebo_verdict", ""),
                "placebo_reason": str(r.get(f"placebo_reason_{lang}", "") or ""),
            }
        )
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))


def _yearly(annual: pd.DataFrame, dataset, indicators: set[str], lang: str) -> pd.DataFrame:
    frame = annual[annual["indicator"].isin(indicators)].copy()
    panel = dataset.panel
    notes = panel[panel["note"].fillna("").astype(str).str.strip() != ""]
    joined = (
        notes.groupby(["unit_code", "indicator", "year"])["note"]
        .agg(lambda s: "; ".join(dict.fromkeys(str(n).strip() for n in s)))
        .rename("note")
        .reset_index()
    )
    frame = frame.merge(joined, on=["unit_code", "indicator", "year"], how="left")
    frame["note"] = frame["note"].fillna("")
    frame["unit_name"] = frame["unit_code"].map(_names(frame["unit_code"], dataset.unit_name))
    frame["indicator_name"] = frame["indicator"].map(
        _indicator_names(frame["indicator"], dataset, lang)
    )
    frame = frame.sort_values(["indicator", "unit_code", "year"], kind="stable")
    return frame.loc[:, list(YEARLY_COLUMNS)].reset_index(drop=True)


def _names(codes: pd.Series, name_of) -> dict:
    return {c: name_of(str(c)) for c in pd.unique(codes)}


def _indicator_names(codes: pd.Series, dataset, lang: str) -> dict:
    return _names(codes, lambda c: indicator_info(dataset.indicators, c, lang).label)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _styles():
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    return {
        "header": Font(bold=True),
        "code": Font(color="595959", size=9),
        "fill": PatternFill("solid", fgColor="DDEBF7"),
        "code_fill": PatternFill("solid", fgColor="F2F2F2"),
        "wrap": Alignment(wrap_text=True, vertical="top"),
        "top": Alignment(vertical="top"),
        "rule": Border(bottom=Side(style="thin", color="808080")),
        "title": Font(bold=True, size=13),
        "warning": Font(bold=True, color="B3261E"),
    }


def _write_info(ws, dataset, lang: str, pre_years: int, post_years: int, level: float) -> None:
    st = _styles()
    rows = [
        (label("export_info_title", lang), label("export_title", lang, name=dataset.name)),
    ]
    if dataset.synthetic:
        rows.append((label("report_synthetic_title", lang), label("report_print_synthetic", lang)))
    rows += [
        (label("export_info_dataset", lang), dataset.name),
        (label("export_info_province", lang), dataset.province_name or "–"),
        (label("export_info_path", lang), str(dataset.path or "")),
        (label("export_info_hash", lang), dataset.content_hash),
        (label("export_info_version", lang), f"kiemnhiem {__version__}"),
        (label("export_info_made", lang), datetime.now().replace(microsecond=0)),
        (label("export_info_pre_years", lang), pre_years),
        (label("export_info_post_years", lang), post_years),
        (label("export_info_level", lang), level),
        (label("export_info_sheets", lang), label("export_info_sheets_text", lang)),
        (label("export_info_codes", lang), label("export_info_codes_text", lang)),
    ]
    for i, (key, value) in enumerate(rows, start=1):
        ws.cell(i, 1, key).font = st["header"]
        cell = _put(ws, i, 2, value)
        cell.alignment = st["wrap"]
        if isinstance(value, datetime):
            cell.number_format = "dd/mm/yyyy hh:mm"
        elif isinstance(value, float):
            cell.number_format = "0%"
    ws["B1"].font = st["title"]
    if dataset.synthetic:
        ws["A2"].font = ws["B2"].font = st["warning"]
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 100


def _write_table(
    ws,
    frame: pd.DataFrame,
    lang: str,
    *,
    freeze: str,
    share_levels: list[bool] | None = None,
    share_differences: list[bool] | None = None,
) -> None:
    """Labels over codes in rows 1-2, data from row 3, formats by column, header frozen.

    ``share_levels`` / ``share_differences`` say, per row, whether levels are shares (shown as
    percent) and differences are in share units (percentage points / 100).
    """
    from openpyxl.utils import get_column_letter

    st = _styles()
    columns = list(frame.columns)
    widths = []
    for j, code in enumerate(columns, start=1):
        head = ws.cell(1, j, label(f"export_col_{code}", lang))
        head.font, head.fill, head.alignment = st["header"], st["fill"], st["wrap"]
        sub = ws.cell(2, j, code)
        sub.font, sub.fill, sub.border = st["code"], st["code_fill"], st["rule"]
        widths.append(max(len(code) + 2, min(len(head.value), 22)))
    n = len(frame)
    share_levels = share_levels or [False] * n
    share_differences = share_differences or [False] * n
    for i, record in enumerate(frame.itertuples(index=False, name=None), start=3):
        for j, (code, value) in enumerate(zip(columns, record, strict=True), start=1):
            cell = _put(ws, i, j, value)
            fmt = _FORMATS.get(code)
            if fmt is None and code in _LEVELS:
                fmt = _SHARE if share_levels[i - 3] else _LEVEL
            elif fmt is None and code in _DIFFERENCES:
                fmt = _SHARE_DIFF if share_differences[i - 3] else _DIFF
            if fmt is not None and cell.data_type == "n":
                cell.number_format = fmt
            elif fmt == _DATE and cell.data_type == "d":
                cell.number_format = fmt
            text = "" if value is None else str(cell.value)
            widths[j - 1] = max(widths[j - 1], min(len(text) + 2, 60))
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = max(8, min(width, 60))
    for j in range(1, len(columns) + 1):
        if widths[j - 1] >= 40:
            for row in ws.iter_rows(min_row=3, min_col=j, max_col=j):
                row[0].alignment = st["wrap"]
    ws.row_dimensions[1].height = 45
    ws.freeze_panes = freeze
    if len(frame):
        ws.auto_filter.ref = f"A2:{get_column_letter(len(columns))}{len(frame) + 2}"


def _put(ws, row: int, column: int, value: object):
    """Write one value: missing as empty, infinities as text, text never as a formula."""
    value = _plain(value)
    if isinstance(value, str):
        text, guard = safe_text(value)
        cell = ws.cell(row, column)
        cell.value = text
        if guard:
            cell.data_type = "s"
            cell.quotePrefix = True
        return cell
    return ws.cell(row, column, value)


def _plain(value: object) -> object:
    """A value openpyxl can write: numpy and pandas scalars to Python, NA to None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, (datetime, date, str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        number = float(value)
        if math.isnan(number):
            return None
        if math.isinf(number):
            return "+∞" if number > 0 else "-∞"
        return number
    return str(value)


def _is_export(path: Path) -> bool:
    """Whether ``path`` is a workbook this module wrote (so replacing it loses nothing)."""
    try:
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            return book.properties.keywords == EXPORT_KEYWORD
        finally:
            book.close()
    except Exception:  # not a workbook we can read: certainly not ours
        return False
