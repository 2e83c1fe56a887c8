"""Word and PDF documents for official circulation.

The documents are built in memory with python-docx from the same results and figures the
notebooks show (:func:`~kiemnhiem.evaluation.evaluate_pilot` rows,
:func:`~kiemnhiem.evaluation.pilot_series`, :func:`~kiemnhiem.plots.plot_series` and
:func:`~kiemnhiem.plots.plot_before_after` rendered to PNG), never by converting HTML. The layout
follows the rules for Vietnamese administrative documents (Decree 30/2020/NĐ-CP): A4 portrait,
Times New Roman 13 pt, margins 25/20/30/15 mm (top, bottom, left, right), the issuing body at
the top left and the national motto at the top right, the place and date in italics, the
document type and subject in bold, page numbers centred in the top margin from page 2, tables
and figures numbered ("Bảng 1.", "Hình 1."). Synthetic data and the classification line are
marked in the footer and header of every page.

Three steps, each its own function, so that a runner can place them where it likes::

    document = build_pilot_docx(dataset, "122", "tuyengiao_ttct", lang="vi")
    write_docx(document, "reports/tuyengiao_ttct/122-phu-yen.docx")
    convert_to_pdf("reports/tuyengiao_ttct/122-phu-yen.docx",
                   "reports/tuyengiao_ttct/122-phu-yen.pdf")

Only :func:`write_docx` and :func:`convert_to_pdf` touch files; only :func:`convert_to_pdf`
starts a process (LibreOffice, with a throw-away profile per call so that parallel workers
never share one).
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd
from babel.dates import format_date as _babel_date
from docx import Document as _new_document
from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from . import __version__
from .evaluation import chance_verdicts, evaluate_all, evaluate_pilot, pilot_series
from .exceptions import ParameterError, RunError
from .labels import both, check_lang, format_number, format_percent, label
from .plots import figure_png, plot_before_after, plot_series
from .tables import (
    VERDICTS,
    chance_text,
    format_difference,
    indicator_info,
    indicator_notes,
    indicator_table,
    interval_text,
    method_markdown,
    model_label,
    provenance_markdown,
    summary_table,
    verdict_code,
    verdict_text,
)

__all__ = [
    "FONT",
    "build_pilot_docx",
    "build_summary_docx",
    "convert_to_pdf",
    "write_docx",
]

#: The font every style names (Debian renders it with the metric-compatible Liberation Serif).
FONT = "Times New Roman"
BODY_PT = 13
TABLE_PT = 10.5
NOTE_PT = 11
MARGINS_MM = {"top": 25, "bottom": 20, "left": 30, "right": 15}
PAGE_MM = (210, 297)
#: Width of the text block: A4 less the left and right margins.
TEXT_MM = PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]
#: Indicators per verdict-matrix table: beyond this the matrix is split into parts, so that a
#: portrait page keeps readable columns whatever the catalog holds.
MATRIX_COLUMNS = 5
MIXED_MARK = "†"
SAMPLED_MARK = "*"

_LOCALES = {"vi": "vi_VN", "en": "en_GB"}
_LANG_TAGS = {"vi": "vi-VN", "en": "en-GB"}
_BLACK = RGBColor(0, 0, 0)
_NOTICE = "B3261E"
_PROGRAMS = ("soffice", "libreoffice")


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


# =============================================================================================
# Public API
# =============================================================================================
def build_pilot_docx(
    dataset,
    unit,
    model: str,
    lang: str = "vi",
    results: pd.DataFrame | None = None,
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
    classification: str | None = None,
    issuer: str | None = None,
    *,
    issued: date | None = None,
    place: str | None = None,
    dpi: int = 150,
) -> Document:
    """The report on one pilot as a Word document, built in memory.

    The content is the pilot notebook's: summary, table of indicators, how to read the report,
    and per indicator the verdict with its reason, interval, p-values and caveats, followed by
    the two figures (series against the comparison group, before and after).

    Parameters
    ----------
    dataset : Dataset
        From :func:`~kiemnhiem.dataset.load_dataset`.
    unit : str or int
        Pilot unit: code ("122") or name in any spelling the dataset's province resolves.
    model : str
        Model code, e.g. ``"tuyengiao_ttct"``.
    lang : {"vi", "en"}
        Language of the document.
    results : DataFrame, optional
        Evaluation results to present instead of computing them: the rows of
        :func:`~kiemnhiem.evaluation.evaluate_pilot` or the whole frame of
        :func:`~kiemnhiem.evaluation.evaluate_all` (the pilot's rows are picked out), computed
        with the same windows and ``level``.
    pre_years, post_years : int
        Window lengths (calendar years).
    level : float
        Test level of the verdicts.
    classification : str, optional
        A line such as "Tài liệu nội bộ", printed in the header of every page.
    issuer : str, optional
        The issuing body, top left; several lines separated by ``"\\n"`` (the governing body
        first, the issuing body last, as Decree 30 stacks them). Default: the organization
        commission of the dataset's province party committee.
    issued : date, optional
        Date on the place-and-date line (default: today).
    place : str, optional
        Place on the place-and-date line (default: the dataset's province name).
    dpi : int
        Resolution of the figures.

    Returns
    -------
    docx.document.Document

    Raises
    ------
    ParameterError
        Unknown model or unit, invalid language, windows or level; ``results`` without the
        pilot's rows or computed at another level.
    """
    lang = check_lang(lang)
    rows = _pilot_results(dataset, unit, model, results, pre_years, post_years, level)
    first = rows.iloc[0]
    unit_code, unit_name = str(first["unit_code"]), str(first["unit_name"])

    doc = _new_document()
    _setup(doc, dataset, lang, classification)
    subject = label("doc_pilot_subject", lang, unit=unit_name)
    _title_block(doc, dataset, lang, issuer, issued, place, subject)
    model_name = model_label(dataset.models, model, lang)
    model_text = f"{label('report_summary_model', lang)}: {model_name}"
    _paragraph(doc, model_text, align="center", italic=True, space_after=12)
    _synthetic_box(doc, dataset, lang)
    counter = _Counter()

    _heading(doc, 1, 1, label("report_summary_heading", lang))
    summary = summary_table(
        rows,
        lang,
        models=dataset.models,
        indicators=dataset.indicators,
        pilots=dataset.pilots,
        level=level,
    )
    _caption(
        doc,
        label("doc_table_number", lang, n=counter.table()),
        label("report_summary_heading", lang),
    )
    _table(
        doc,
        summary,
        widths=[55, TEXT_MM - 55],
        font_pt=NOTE_PT,
        align_first="left",
        align_rest="left",
    )

    _heading(doc, 1, 2, label("report_indicators_heading", lang))
    table = indicator_table(rows, dataset.indicators, lang)
    _caption(
        doc,
        label("doc_table_number", lang, n=counter.table()),
        label("report_indicators_heading", lang),
    )
    _table(doc, table, widths=[28, 19, 15, 15, 15, 16, 21, 18, 18], font_pt=TABLE_PT - 1)
    _note(doc, lang, label("report_table_note", lang))

    _heading(doc, 1, 3, label("report_figures_heading", lang))
    _body(doc, label("report_figures_guide", lang))
    for i, (_, row) in enumerate(rows.iterrows(), start=1):
        series = pilot_series(
            dataset,
            unit_code,
            model,
            str(row["indicator"]),
            pre_years=pre_years,
            post_years=post_years,
        )
        _indicator_section(doc, i, row, series, dataset.indicators, lang, counter, dpi)

    _markdown(
        doc,
        method_markdown(lang, pre_years=pre_years, post_years=post_years, level=level),
        numbering=4,
    )
    parameters = {
        "unit": unit_code,
        "model": model,
        "lang": lang,
        "pre_years": pre_years,
        "post_years": post_years,
        "level": level,
    }
    _provenance(doc, dataset, parameters, lang)
    _properties(
        doc, dataset, lang, issuer, issued, title=f"{label('doc_type_report', lang)}: {subject}"
    )
    return doc


def build_summary_docx(
    dataset,
    lang: str = "vi",
    results: pd.DataFrame | None = None,
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
    classification: str | None = None,
    issuer: str | None = None,
    *,
    models: Sequence[str] | None = None,
    issued: date | None = None,
    place: str | None = None,
) -> Document:
    """The province summary as a Word document, built in memory.

    An overview (verdict counts by model), then per model the verdict matrix (every pilot unit
    x indicator), the model's pooled effect per indicator with its two-sided p-value, and after
    each the reminder of how many verdicts chance alone would give
    (:func:`~kiemnhiem.evaluation.chance_verdicts`); then how to read the report.

    Parameters
    ----------
    dataset : Dataset
    lang : {"vi", "en"}
    results : DataFrame, optional
        :func:`~kiemnhiem.evaluation.evaluate_all` computed with the same windows and
        ``level``; computed here when not given.
    pre_years, post_years, level, classification, issuer, issued, place
        As :func:`build_pilot_docx`.
    models : sequence of str, optional
        Only these models (default: every model in the results).

    Returns
    -------
    docx.document.Document

    Raises
    ------
    ParameterError
        Invalid language, windows or level; ``results`` computed at another level.
    """
    lang = check_lang(lang)
    if results is None:
        results = evaluate_all(
            dataset,
            pre_years=pre_years,
            post_years=post_years,
            level=level,
            models=list(models) if models else None,
        )
    _check_results_level(results, level)
    if models is not None:
        results = results[results["model"].isin(list(models))]
    model_codes = list(dict.fromkeys(str(m) for m in results["model"]))
    pilots = _scope(results, "pilot")
    pooled = _scope(results, "model")

    doc = _new_document()
    _setup(doc, dataset, lang, classification)
    subject = label("doc_summary_subject", lang, area=_area(dataset, lang))
    _title_block(doc, dataset, lang, issuer, issued, place, subject)
    _synthetic_box(doc, dataset, lang)
    counter = _Counter()

    _heading(doc, 1, 1, label("doc_overview_heading", lang))
    n_pilots = len(pilots[["unit_code", "model"]].drop_duplicates())
    _body(
        doc,
        label(
            "doc_overview_text",
            lang,
            name=dataset.name,
            n_pilots=n_pilots,
            n_models=len(model_codes),
            pre_years=pre_years,
            post_years=post_years,
            level=format_percent(level, lang, 0),
        ),
    )
    _caption(
        doc, label("doc_table_number", lang, n=counter.table()), label("doc_counts_caption", lang)
    )
    counts = _counts_frame(pilots, model_codes, dataset.models, lang)
    _table(
        doc,
        counts,
        widths=_widths(TEXT_MM, 45, counts.shape[1] - 1),
        font_pt=TABLE_PT,
    )
    _body(doc, label("eval_note_selection", lang))

    _heading(doc, 1, 2, label("doc_results_heading", lang))
    for k, model in enumerate(model_codes, start=1):
        name = model_label(dataset.models, model, lang)
        _heading(doc, 2, k, name)
        model_pilots = pilots[pilots["model"] == model]
        model_pooled = pooled[pooled["model"] == model]
        mixed = set(model_pooled.loc[model_pooled["mixed_models"].astype(bool), "indicator"])
        mixed |= set(model_pilots.loc[model_pilots["mixed_models"].astype(bool), "indicator"])

        parts = _matrix_frames(model_pilots, dataset.indicators, mixed, lang)
        for j, frame in enumerate(parts, start=1):
            title = label("doc_matrix_caption", lang, model=name)
            if len(parts) > 1:
                title += " " + label("doc_part", lang, k=j, n=len(parts))
            _caption(doc, label("doc_table_number", lang, n=counter.table()), title)
            _table(doc, frame, widths=_widths(TEXT_MM, 40, frame.shape[1] - 1), font_pt=TABLE_PT)
        if mixed:
            _note(doc, lang, label("doc_mixed_mark", lang, mark=MIXED_MARK))
        _chance(doc, model_pilots, level, lang, "doc_pilot_chance_heading")

        _body(doc, label("doc_pooled_text", lang))
        _caption(
            doc,
            label("doc_table_number", lang, n=counter.table()),
            label("doc_pooled_caption", lang, model=name),
        )
        frame, sampled = _pooled_frame(model_pooled, dataset.indicators, mixed, lang)
        _table(doc, frame, widths=[58, 24, 28, 22, TEXT_MM - 132], font_pt=TABLE_PT)
        notes = []
        if mixed:
            notes.append(label("doc_mixed_mark", lang, mark=MIXED_MARK))
        if len(sampled):
            notes.append(
                label(
                    "doc_sampled_note",
                    lang,
                    mark=SAMPLED_MARK,
                    # n_assignments counts the observed placement beside the draws.
                    n=format_number(int(sampled["n_assignments"].max()) - 1, lang, 0),
                    error=format_number(float(sampled["mc_error"].max()), lang, 4),
                )
            )
        for text in notes:
            _note(doc, lang, text)
        _chance(doc, model_pooled, level, lang, "doc_pooled_chance_heading")

    _markdown(
        doc,
        method_markdown(lang, pre_years=pre_years, post_years=post_years, level=level),
        numbering=3,
    )
    parameters = {
        "lang": lang,
        "pre_years": pre_years,
        "post_years": post_years,
        "level": level,
        "models": ",".join(model_codes),
    }
    _provenance(doc, dataset, parameters, lang)
    _properties(
        doc, dataset, lang, issuer, issued, title=f"{label('doc_type_report', lang)}: {subject}"
    )
    return doc


def write_docx(document: Document, path: str | Path) -> Path:
    """Save ``document`` to ``path`` atomically (a temporary file beside it, then ``os.replace``).

    A reader never sees a half-written file; a failed save leaves any previous file intact.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            document.save(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def convert_to_pdf(docx_path: str | Path, pdf_path: str | Path, timeout: float = 120) -> Path:
    """Convert a .docx to PDF with LibreOffice (``soffice --headless --convert-to pdf``).

    Each call runs LibreOffice with its own throw-away profile
    (``-env:UserInstallation=file:///...``): two LibreOffice processes sharing a profile
    block or fail, so parallel workers must never share one. The PDF is written beside
    ``pdf_path`` and moved into place with ``os.replace``.

    Parameters
    ----------
    docx_path : str or Path
        The document to convert.
    pdf_path : str or Path
        Where the PDF goes (its folder must exist).
    timeout : float
        Seconds before LibreOffice is stopped (its whole process group).

    Returns
    -------
    Path
        ``pdf_path``.

    Raises
    ------
    RunError
        LibreOffice (``soffice`` or ``libreoffice``) is not on PATH, timed out, or failed.
    """
    program = _find_soffice()
    source = Path(docx_path).resolve()
    target = Path(pdf_path)
    name = Path(program).name
    with tempfile.TemporaryDirectory(prefix="kiemnhiem-soffice-") as tmp:
        profile = Path(tmp, "profile")
        outdir = Path(tmp, "out")
        command = [
            program,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--invisible",
            "--nodefault",
            "--nologo",
            "--nolockcheck",
            "--norestore",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(outdir),
            str(source),
        ]
        code, detail = _run(command, timeout, name, source)
        produced = outdir / f"{source.stem}.pdf"
        if code != 0 or not produced.is_file() or produced.stat().st_size == 0:
            vi, en = both(
                "doc_err_convert", program=name, file=source.name, code=code, detail=detail or "–"
            )
            raise RunError(vi, en)
        fd, partial = _temp_beside(target)
        os.close(fd)
        try:
            shutil.copyfile(produced, partial)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    return target


def _temp_beside(path: Path) -> tuple[int, str]:
    """A new file next to ``path`` for an atomic replace, with the permissions an ordinary
    file gets (``mkstemp`` would make it private to the owner)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp"
        try:
            return os.open(name, flags, 0o666), str(name)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")  # pragma: no cover


# =============================================================================================
# LibreOffice
# =============================================================================================
def _find_soffice() -> str:
    for program in _PROGRAMS:
        found = shutil.which(program)
        if found:
            return found
    vi, en = both("doc_err_no_soffice", program=" / ".join(_PROGRAMS))
    raise RunError(vi, en)


def _run(command: list[str], timeout: float, name: str, source: Path) -> tuple[int, str]:
    """Run LibreOffice; on timeout stop its whole process group (soffice forks soffice.bin)."""
    posix = os.name == "posix"
    env = dict(os.environ)
    env.setdefault("SAL_USE_VCLPLUGIN", "svp")  # no display needed
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=posix,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc, posix)
        proc.communicate()
        vi, en = both("doc_err_timeout", program=name, file=source.name, seconds=f"{timeout:g}")
        raise RunError(vi, en) from None
    except BaseException:
        _kill(proc, posix)
        proc.communicate()
        raise
    text = (err or out or b"").decode("utf-8", "replace").strip()
    return proc.returncode, text[-500:]


def _kill(proc: subprocess.Popen, posix: bool) -> None:
    try:
        if posix:
            os.killpg(proc.pid, 9)
        else:  # pragma: no cover - Windows
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


# =============================================================================================
# Results
# =============================================================================================
def _scope(results: pd.DataFrame, scope: str) -> pd.DataFrame:
    if "scope" not in results.columns:
        return results if scope == "pilot" else results.iloc[0:0]
    return results[results["scope"] == scope]


def _check_results_level(results: pd.DataFrame, level: float) -> None:
    if "level" not in results.columns or results.empty:
        return
    found = pd.to_numeric(results["level"], errors="coerce").dropna().unique()
    for value in found:
        if not math.isclose(float(value), level, rel_tol=0, abs_tol=1e-9):
            vi, en = both("doc_err_level", found=f"{float(value):g}", level=f"{level:g}")
            raise ParameterError(vi, en)


def _pilot_results(dataset, unit, model, results, pre_years, post_years, level) -> pd.DataFrame:
    if results is None:
        rows = evaluate_pilot(
            dataset, unit, model, pre_years=pre_years, post_years=post_years, level=level
        ).reset_index(drop=True)
        if rows.empty:  # no indicator of the catalog concerns the model
            vi, en = both("doc_err_no_results", unit=str(unit), model=model)
            raise ParameterError(vi, en)
        return rows
    _check_results_level(results, level)
    rows = _scope(results, "pilot")
    rows = rows[rows["model"] == model]
    codes = set(rows["unit_code"].astype(str))
    text = unicodedata.normalize("NFC", str(unit)).strip()
    if text in codes:
        code = text
    elif text.isdigit() and text.zfill(3) in codes:
        code = text.zfill(3)
    else:
        from .units import UnitMatcher

        code = UnitMatcher(dataset.province_code).resolve(text).code
    rows = rows[rows["unit_code"].astype(str) == code]
    if rows.empty:
        vi, en = both("doc_err_no_results", unit=text, model=model)
        raise ParameterError(vi, en)
    return rows.reset_index(drop=True)


def _counts_frame(
    pilots: pd.DataFrame, models: list[str], catalog: pd.DataFrame, lang: str
) -> pd.DataFrame:
    # Only the verdicts that occur: the district vocabulary has a dozen codes.
    present = {verdict_code(v) for v in pilots["verdict"]}
    shown = [code for code in VERDICTS if code in present] or ["not_assessed"]
    columns = [label("doc_col_model", lang), label("doc_col_pilots", lang)]
    columns += [verdict_text(code, lang) for code in shown]
    rows = []
    for model in models:
        mine = pilots[pilots["model"] == model]
        codes = [verdict_code(v) for v in mine["verdict"]]
        rows.append(
            [model_label(catalog, model, lang), str(mine["unit_code"].nunique())]
            + [str(codes.count(code)) for code in shown]
        )
    return pd.DataFrame(rows, columns=columns)


def _indicator_header(catalog: pd.DataFrame, code: str, mixed: set, lang: str) -> str:
    name = indicator_info(catalog, code, lang).label
    return f"{name} {MIXED_MARK}" if code in mixed else name


def _matrix_frames(
    pilots: pd.DataFrame, catalog: pd.DataFrame, mixed: set, lang: str
) -> list[pd.DataFrame]:
    """The verdict matrix (pilot units x indicators), split into parts of few columns."""
    indicators = list(dict.fromkeys(str(i) for i in pilots["indicator"]))
    units = pilots[["unit_code", "unit_name"]].drop_duplicates("unit_code")
    units = units.sort_values("unit_code")
    verdict = {(str(r.unit_code), str(r.indicator)): r.verdict for r in pilots.itertuples()}
    if not indicators:
        return []
    n_parts = math.ceil(len(indicators) / MATRIX_COLUMNS)
    size = math.ceil(len(indicators) / n_parts)
    frames = []
    for start in range(0, len(indicators), size):
        chunk = indicators[start : start + size]
        columns = [label("report_summary_unit", lang)]
        columns += [_indicator_header(catalog, code, mixed, lang) for code in chunk]
        rows = [
            [str(u.unit_name)]
            + [verdict_text(verdict.get((str(u.unit_code), code)), lang) for code in chunk]
            for u in units.itertuples()
        ]
        frames.append(pd.DataFrame(rows, columns=columns))
    return frames


def _pooled_frame(
    pooled: pd.DataFrame, catalog: pd.DataFrame, mixed: set, lang: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    columns = [
        label("report_col_indicator", lang),
        label("doc_col_pooled_pilots", lang),
        label("doc_col_effect", lang),
        label("doc_col_p", lang),
        label("report_col_verdict", lang),
    ]
    rows = []
    for _, r in pooled.iterrows():
        info = indicator_info(catalog, str(r["indicator"]), lang)
        p_text = _p_text(r.get("p_two"), lang)
        if r.get("inference") == "sampled" and p_text != "–":
            p_text += SAMPLED_MARK
        n = r.get("n_pilots")
        rows.append(
            [
                _indicator_header(catalog, str(r["indicator"]), mixed, lang),
                "–" if _missing(n) else str(int(n)),
                _with_unit(format_difference(r.get("did"), info, lang), info),
                p_text,
                verdict_text(r.get("verdict"), lang),
            ]
        )
    sampled = pooled[pooled.get("inference", pd.Series(dtype=str)) == "sampled"]
    return pd.DataFrame(rows, columns=columns), sampled


def _p_text(p: object, lang: str) -> str:
    """A p-value to 3 decimals; below 0.001 as "< 0,001" rather than a rounded figure."""
    if _missing(p):
        return "–"
    if float(p) < 0.001:
        return f"< {format_number(0.001, lang, 3)}"
    return format_number(float(p), lang, 3)


def _with_unit(text: str, info) -> str:
    if text == "–" or info.kind == "share" or not info.unit:
        return text
    return f"{text} {info.unit}"


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


# =============================================================================================
# Document structure
# =============================================================================================
class _Counter:
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


def _area(dataset, lang: str) -> str:
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


def _setup(doc: Document, dataset, lang: str, classification: str | None) -> None:
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


def _paragraph(
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


def _title_block(
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
        _paragraph(right, label("doc_motto_words", lang), align="center", bold=True, size=BODY_PT)
        _rule(right, 62, right_mm)
        _paragraph(right, date_line, align="center", italic=True, space_before=4)
    else:
        p = right.paragraphs[0]
        p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        run = p.add_run(date_line)
        run.italic = True
    _paragraph(
        doc,
        label("doc_type_report", lang).upper(),
        align="center",
        bold=True,
        size=BODY_PT + 1,
        space_before=18,
    )
    _paragraph(doc, subject, align="center", bold=True, size=BODY_PT + 1)
    _rule(doc, 40, TEXT_MM)


def _no_borders(table) -> None:
    borders = _put(table._tbl.tblPr, "w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)


def _synthetic_box(doc: Document, dataset, lang: str) -> None:
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


def _roman(n: int) -> str:
    out = []
    for value, numeral in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out.append(numeral)
            n -= value
    return "".join(out)


def _heading(doc: Document, level: int, number: int, text: str):
    """Decree 30 numbering: "I. TEXT IN CAPITALS" for sections, "1. Text" below them."""
    if level == 1:
        shown = f"{_roman(number)}. {text.upper()}"
    else:
        shown = f"{number}. {text}"
    return doc.add_paragraph(shown, style=f"Heading {level}")


def _body(doc: Document, text: str, *, italic: bool = False, prefix: str = ""):
    p = doc.add_paragraph(style="Body Text")
    if prefix:
        p.add_run(prefix)
    _inline(p, text, italic=italic)
    return p


def _note(doc: Document, lang: str, text: str):
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


def _caption(doc: Document, number: str, title: str, *, keep_with_next: bool = True):
    p = doc.add_paragraph(style="Caption")
    p.paragraph_format.keep_with_next = keep_with_next
    head = p.add_run(number + " ")
    head.bold = True
    p.add_run(title)
    return p


def _widths(total: float, first: float, n_rest: int) -> list[float]:
    return [first] + [(total - first) / max(1, n_rest)] * n_rest


def _table(
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


def _figure(doc: Document, png: bytes, width_mm: float, number: str, title: str) -> None:
    p = doc.add_paragraph()
    p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.keep_with_next = True
    p.paragraph_format.space_before = Pt(6)
    p.add_run().add_picture(io.BytesIO(png), width=Mm(width_mm))
    _caption(doc, number, title, keep_with_next=False)


def _indicator_section(
    doc: Document,
    number: int,
    row: pd.Series,
    series: pd.DataFrame,
    catalog: pd.DataFrame,
    lang: str,
    counter: _Counter,
    dpi: int,
) -> None:
    """One indicator: verdict and reason, interval, p-values, caveats, definition, figures
    (the notebook's ``indicator_markdown`` and its two images)."""
    info = indicator_info(catalog, str(row["indicator"]), lang)
    _heading(doc, 2, number, info.label)
    p = doc.add_paragraph(style="Body Text")
    head = p.add_run(f"{label('report_verdict_label', lang)}: ")
    head.bold = True
    verdict = p.add_run(verdict_text(row.get("verdict"), lang) + ".")
    verdict.bold = True
    notes = indicator_notes(row, lang)
    reason = str(row.get(f"reason_{lang}", "") or "").strip()
    if notes and notes[0] == reason:
        p.add_run(" " + notes.pop(0))
    if verdict_code(row.get("verdict")) != "not_assessed":
        interval = interval_text(row, info, lang)
        if interval:
            _body(doc, interval)
        p_better, p_worse = row.get("p_better"), row.get("p_worse")
        if not _missing(p_better) and not _missing(p_worse):
            _body(
                doc,
                label(
                    "report_p_values",
                    lang,
                    p_better=format_number(float(p_better), lang, 3),
                    p_worse=format_number(float(p_worse), lang, 3),
                ),
            )
    for note in notes:
        _body(doc, note, prefix="- ")
    if info.description:
        body = _body(doc, "")
        lead = body.add_run(f"{label('report_description_label', lang)}: ")
        lead.italic = True
        lead.bold = True
        body.add_run(info.description).italic = True

    unit = str(row.get("unit_name", "") or "")
    # Flatter figures than the notebook's, so that an indicator's text and both figures fit
    # on one A4 page; printed at about 80 % of their size, the text stays near 8 pt.
    fig = plot_series(series, row, catalog, lang, figsize=(7.5, 4.0))
    _figure(
        doc,
        figure_png(fig, dpi=dpi),
        150,
        label("doc_figure_number", lang, n=counter.figure()),
        label("plot_series_title", lang, indicator=info.label, unit=unit),
    )
    fig = plot_before_after(series, row, catalog, lang, figsize=(5.0, 3.0))
    _figure(
        doc,
        figure_png(fig, dpi=dpi),
        95,
        label("doc_figure_number", lang, n=counter.figure()),
        label("plot_before_after_title", lang, indicator=info.label, unit=unit),
    )


def _chance(doc: Document, rows: pd.DataFrame, level: float, lang: str, key: str) -> None:
    """How many verdicts chance alone would give among the tests of ``rows`` (none: nothing)."""
    n, expected = chance_verdicts(rows, level)
    if n == 0:
        return
    p = _body(doc, chance_text(n, level, lang, expected), italic=True)
    lead = p.runs[0] if p.runs else None
    head = p.add_run(f"{label(key, lang)}: ")
    head.bold = True
    head.italic = True
    if lead is not None:
        lead._r.addprevious(head._r)


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


def _markdown(doc: Document, text: str, *, numbering: int) -> None:
    """The few Markdown blocks :mod:`kiemnhiem.tables` writes: ``#`` headings and paragraphs."""
    for block in (b.strip() for b in text.split("\n\n")):
        if not block:
            continue
        if block.startswith("#"):
            _heading(doc, 1, numbering, block.lstrip("#").strip())
        else:
            _body(doc, " ".join(block.splitlines()))


def _provenance(doc: Document, dataset, parameters: Mapping, lang: str) -> None:
    text = provenance_markdown(
        version=__version__,
        dataset_name=dataset.name,
        content_hash=dataset.content_hash,
        parameters=parameters,
        lang=lang,
    )
    p = doc.add_paragraph(style="Body Text")
    p.paragraph_format.space_before = Pt(18)
    p.paragraph_format.first_line_indent = None
    run = p.add_run(text.strip().strip("*"))
    run.italic = True
    run.font.size = Pt(NOTE_PT - 1)


def _properties(
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
