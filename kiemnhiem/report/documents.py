"""Word and PDF documents for official circulation: what they say.

(About 1,150 lines, over the layout's 1,000 on purpose: the pilot and the summary documents
share their sections (first page from :mod:`.conclusions`, tables, figures, notes, the closing
block) and their numbering; the page layout, fonts and the Party's and the State's forms are
apart in :mod:`.docx_layout`, the PDF conversion at the end of this module.)

The documents are built in memory with python-docx from the same results and figures the
notebooks show (:func:`~kiemnhiem.stats.evaluation.evaluate_pilot` rows,
:func:`~kiemnhiem.stats.evaluation.pilot_series`, :func:`~kiemnhiem.report.plots.plot_series`
and :func:`~kiemnhiem.report.plots.plot_before_after` rendered to PNG), never by converting
HTML. This module chooses the content and its order (summary, tables, per-indicator sections,
method, provenance); how it looks on the page (Decree 30/2020/NĐ-CP: A4, Times New Roman,
issuer and motto, numbered headings, captions, the synthetic-data notice on every page) is
:mod:`.docx_layout`'s.

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

import math
import os
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import pandas as pd
from docx import Document as _new_document
from docx.document import Document

from .. import __version__
from ..data.issuing import DocumentSettings
from ..exceptions import ParameterError, RunError
from ..labels import both, check_lang, format_number, format_percent, label
from ..stats.evaluation import chance_verdicts, evaluate_all, evaluate_pilot, pilot_series
from . import conclusions
from .docx_layout import (
    FONT,
    NOTE_PT,
    TABLE_PT,
    TEXT_MM,
    Numbering,
    add_body,
    add_caption,
    add_closing_block,
    add_figure,
    add_heading,
    add_markdown,
    add_note,
    add_paragraph,
    add_synthetic_box,
    add_table,
    add_title_block,
    area_text,
    column_widths,
    fit_property,
    rules_for,
    set_properties,
    set_up_document,
    settings_with_issuer,
)
from .frames import (
    indicator_table,
    summary_table,
)
from .indicators import indicator_info, model_label
from .plots import figure_png, plot_before_after, plot_series
from .text import (
    VERDICTS,
    chance_text,
    format_difference,
    indicator_notes,
    interval_text,
    method_markdown,
    verdict_code,
    verdict_text,
)

__all__ = [
    "FONT",
    "DocumentSettings",
    "build_pilot_docx",
    "build_summary_docx",
    "convert_documents",
    "convert_to_pdf",
    "write_docx",
]


#: Indicators per verdict-matrix table: beyond this the matrix is split into parts, so that a
#: portrait page keeps readable columns whatever the catalog holds.
MATRIX_COLUMNS = 5


MIXED_MARK = "†"


SAMPLED_MARK = "*"


_PROGRAMS = ("soffice", "libreoffice")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


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
    settings: DocumentSettings | Mapping | None = None,
    figures: Mapping[str, bytes] | None = None,
    dpi: int = 150,
) -> Document:
    """The report on one pilot as a Word document, built in memory.

    The content is the pilot notebook's: summary, table of indicators, per indicator the
    verdict with its reason, interval, p-values and caveats and the figures, the analyst's
    comments, how to read the report; then "Nơi nhận" and the signature. What made it
    (kiemnhiem's version, the dataset and its hash, the parameters) goes to the document's
    properties, not to its body.

    Parameters
    ----------
    dataset : Dataset
        From :func:`~kiemnhiem.data.dataset.load_dataset`.
    unit : str or int
        Pilot unit: code ("122") or name in any spelling the dataset's province resolves.
    model : str
        Model code, e.g. ``"tuyengiao_ttct"``.
    lang : {"vi", "en"}
        Language of the document.
    results : DataFrame, optional
        Evaluation results to present instead of computing them: the rows of
        :func:`~kiemnhiem.stats.evaluation.evaluate_pilot` or the whole frame of
        :func:`~kiemnhiem.stats.evaluation.evaluate_all` (the pilot's rows are picked out), computed
        with the same windows and ``level``.
    pre_years, post_years : int
        Window lengths (calendar years).
    level : float
        Test level of the verdicts.
    classification : str, optional
        A line such as "Tài liệu nội bộ", printed in the header of every page.
    issuer : str, optional
        The issuing body, top left; several lines separated by ``"\\n"`` (the superior body
        first, the issuing body last). Overrides ``settings``.
    issued : date, optional
        Date on the place-and-date line (default: the settings', else today).
    place : str, optional
        Place on the place-and-date line (default: the settings', else the province's name).
    settings : DocumentSettings or mapping, optional
        Issuer kind (party or state), bodies, number, place, date, signer, recipients
        (:class:`~kiemnhiem.data.issuing.DocumentSettings`); what it leaves unset comes from
        the dataset's metadata (``the_thuc``, ``so_ky_hieu``, ... in ``metadata.json`` or the
        ``thong_tin`` sheet). Party documents follow Hướng dẫn 36-HD/VPTW, State ones Decree
        30/2020/NĐ-CP.
    figures : mapping, optional
        The pilot notebook's figures by file name (``<indicator>-series.png``,
        ``<indicator>-event-study.png``, ``.en.png`` in English), as the runner extracts them:
        used as they are, so the document shows the HTML report's figures without drawing them
        again. Without them the figures are drawn here.
    dpi : int
        Resolution of the figures drawn here.

    Returns
    -------
    docx.document.Document

    Raises
    ------
    ParameterError
        Unknown model or unit, invalid language, windows, level or document settings;
        ``results`` without the pilot's rows or computed at another level.
    """
    lang = check_lang(lang)
    chosen = _settings(dataset, settings, issuer, issued, place)
    rules = rules_for(chosen.kind)
    rows = _pilot_results(dataset, unit, model, results, pre_years, post_years, level)
    first = rows.iloc[0]
    unit_code, unit_name = str(first["unit_code"]), str(first["unit_name"])

    doc = _new_document()
    set_up_document(doc, dataset, lang, classification, rules)
    subject = label("doc_pilot_subject", lang, unit=unit_name)
    add_title_block(doc, dataset, lang, chosen, subject, rules)
    model_name = model_label(dataset.models, model, lang)
    model_text = f"{label('report_summary_model', lang)}: {model_name}"
    add_paragraph(doc, model_text, align="center", italic=True, space_after=12)
    add_synthetic_box(doc, dataset, lang)
    counter = Numbering()
    section = _Sections()
    # The first page the HTML report opens with: the answers, «Đánh giá chung», «Đề xuất,
    # kiến nghị» (report/conclusions.py); then the facts and the tables.
    _conclusions_pilot(
        doc, dataset, results, rows, unit_code, model, lang, section, (pre_years, post_years, level)
    )

    add_heading(doc, 1, section.next(), label("report_summary_heading", lang))
    summary = summary_table(
        rows,
        lang,
        models=dataset.models,
        indicators=dataset.indicators,
        pilots=dataset.pilots,
        level=level,
    )
    add_caption(
        doc,
        label("doc_table_number", lang, n=counter.table()),
        label("report_summary_heading", lang),
    )
    add_table(
        doc,
        summary,
        widths=[55, TEXT_MM - 55],
        font_pt=NOTE_PT,
        align_first="left",
        align_rest="left",
    )

    add_heading(doc, 1, section.next(), label("report_indicators_heading", lang))
    table = indicator_table(rows, dataset.indicators, lang)
    add_caption(
        doc,
        label("doc_table_number", lang, n=counter.table()),
        label("report_indicators_heading", lang),
    )
    add_table(doc, table, widths=[28, 19, 15, 15, 15, 16, 21, 18, 18], font_pt=TABLE_PT - 1)
    add_note(doc, lang, label("report_table_note", lang))

    add_heading(doc, 1, section.next(), label("report_figures_heading", lang))
    add_body(doc, label("report_figures_guide", lang))
    suffix = ".en.png" if lang == "en" else ".png"
    for i, (_, row) in enumerate(rows.iterrows(), start=1):
        code = str(row["indicator"])
        given = None
        if figures is not None:
            given = [
                (kind, figures.get(f"{code}-{kind}{suffix}")) for kind in ("series", "event-study")
            ]
            given = [(kind, png) for kind, png in given if png]
        series = None
        if not given:
            series = pilot_series(
                dataset, unit_code, model, code, pre_years=pre_years, post_years=post_years
            )
        _indicator_section(doc, i, row, series, dataset.indicators, lang, counter, dpi, given)

    parameters = {"unit": unit_code, "model": model, "lang": lang}
    parameters.update(pre_years=pre_years, post_years=post_years, level=level)
    _finish(doc, dataset, lang, chosen, rules, subject, section.next(), parameters)
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
    settings: DocumentSettings | Mapping | None = None,
) -> Document:
    """The province summary as a Word document, built in memory.

    An overview (verdict counts by model, only the verdicts that can occur), then per model
    the verdict matrix (every pilot unit x indicator), the model's pooled effect per indicator
    with its two-sided p-value, and after each the reminder of how many verdicts chance alone
    would give (:func:`~kiemnhiem.stats.evaluation.chance_verdicts`); the article's claims
    against the data; how to read the report; "Nơi nhận" and the signature.

    Parameters
    ----------
    dataset : Dataset
    lang : {"vi", "en"}
    results : DataFrame, optional
        :func:`~kiemnhiem.stats.evaluation.evaluate_all` computed with the same windows and
        ``level``; computed here when not given.
    pre_years, post_years, level, classification, issuer, issued, place, settings
        As :func:`build_pilot_docx`.
    models : sequence of str, optional
        Only these models (default: every model in the results).

    Returns
    -------
    docx.document.Document

    Raises
    ------
    ParameterError
        Invalid language, windows, level or document settings; ``results`` computed at
        another level.
    """
    lang = check_lang(lang)
    chosen = _settings(dataset, settings, issuer, issued, place)
    rules = rules_for(chosen.kind)
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
    set_up_document(doc, dataset, lang, classification, rules)
    subject = label("doc_summary_subject", lang, area=area_text(dataset, lang))
    add_title_block(doc, dataset, lang, chosen, subject, rules)
    add_synthetic_box(doc, dataset, lang)
    counter = Numbering()
    section = _Sections()
    # «Đánh giá chung» per model with the article's claims, as the HTML summary opens.
    _conclusions_summary(doc, dataset, results, lang, counter, section)

    add_heading(doc, 1, section.next(), label("doc_overview_heading", lang))
    n_pilots = len(pilots[["unit_code", "model"]].drop_duplicates())
    add_body(
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
    add_caption(
        doc, label("doc_table_number", lang, n=counter.table()), label("doc_counts_caption", lang)
    )
    counts, impossible = _counts_frame(pilots, pooled, model_codes, dataset.models, lang)
    add_table(
        doc,
        counts,
        widths=column_widths(TEXT_MM, 60, counts.shape[1] - 1),
        font_pt=TABLE_PT,
    )
    if impossible:
        add_note(doc, lang, label("doc_counts_note", lang))
    add_body(doc, label("eval_note_selection", lang))

    add_heading(doc, 1, section.next(), label("doc_results_heading", lang))
    for k, model in enumerate(model_codes, start=1):
        name = model_label(dataset.models, model, lang)
        add_heading(doc, 2, k, name)
        model_pilots = pilots[pilots["model"] == model]
        model_pooled = pooled[pooled["model"] == model]
        mixed = set(model_pooled.loc[model_pooled["mixed_models"].astype(bool), "indicator"])
        mixed |= set(model_pilots.loc[model_pilots["mixed_models"].astype(bool), "indicator"])

        parts = _matrix_frames(model_pilots, dataset.indicators, mixed, lang)
        for j, frame in enumerate(parts, start=1):
            title = label("doc_matrix_caption", lang, model=name)
            if len(parts) > 1:
                title += " " + label("doc_part", lang, k=j, n=len(parts))
            add_caption(doc, label("doc_table_number", lang, n=counter.table()), title)
            add_table(
                doc, frame, widths=column_widths(TEXT_MM, 40, frame.shape[1] - 1), font_pt=TABLE_PT
            )
        if mixed:
            add_note(doc, lang, label("doc_mixed_mark", lang, mark=MIXED_MARK))
        _chance(doc, model_pilots, level, lang, "doc_pilot_chance_heading")

        add_body(doc, label("doc_pooled_text", lang))
        add_caption(
            doc,
            label("doc_table_number", lang, n=counter.table()),
            label("doc_pooled_caption", lang, model=name),
        )
        frame, sampled = _pooled_frame(model_pooled, dataset.indicators, mixed, lang)
        add_table(doc, frame, widths=[58, 24, 28, 22, TEXT_MM - 132], font_pt=TABLE_PT)
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
            add_note(doc, lang, text)
        _chance(doc, model_pooled, level, lang, "doc_pooled_chance_heading")

    parameters = {"lang": lang, "pre_years": pre_years, "post_years": post_years}
    parameters.update(level=level, models=",".join(model_codes))
    _finish(doc, dataset, lang, chosen, rules, subject, section.next(), parameters)
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

    One document: :func:`convert_documents` with one entry. The PDF is written beside
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
    outcome = convert_documents({"one": docx_path}, timeout=timeout)["one"]
    if isinstance(outcome, RunError):
        raise outcome
    target = Path(pdf_path)
    fd, partial = _temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(outcome)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return target


def convert_documents(
    documents: Mapping[str, str | Path | bytes], timeout: float | None = None
) -> dict[str, bytes | RunError]:
    """Convert many .docx to PDF in one LibreOffice process; each document's own outcome.

    LibreOffice takes most of its time to start: one ``soffice --convert-to pdf`` call for
    every document of a run costs a little more than one call for one document. The call runs
    headless with its own throw-away profile (``-env:UserInstallation=file:///...``: two
    LibreOffice processes sharing a profile block or fail) and needs no network. A document
    that does not come out is tried once more on its own (a broken one must not cost the
    others their PDF), then reported.

    Parameters
    ----------
    documents : mapping
        ``{key: .docx path or bytes}``; keys are the caller's (a report's key, for instance).
    timeout : float, optional
        Seconds for the whole call before LibreOffice is stopped (default: 60 plus 30 per
        document).

    Returns
    -------
    dict
        ``{key: PDF bytes, or the RunError that says why there is none}``.

    Raises
    ------
    RunError
        LibreOffice (``soffice`` or ``libreoffice``) is not on PATH.
    """
    program = _find_soffice()
    name = Path(program).name
    out: dict[str, bytes | RunError] = {}
    if not documents:
        return out
    with tempfile.TemporaryDirectory(prefix="kiemnhiem-soffice-") as tmp:
        inbox = Path(tmp, "in")
        inbox.mkdir()
        staged: dict[str, Path] = {}
        shown: dict[str, str] = {}
        for i, (key, source) in enumerate(documents.items()):
            # Numbered names: reports of two models share a file name (122-phu-yen.docx).
            path = inbox / f"{i:04d}.docx"
            if isinstance(source, (bytes, bytearray)):
                path.write_bytes(source)
                shown[key] = f"{str(key).replace('/', '-')}.docx"
            else:
                shutil.copyfile(Path(source), path)
                shown[key] = Path(source).name
            staged[key] = path
        pending = dict(staged)
        for attempt in (1, 2):
            if not pending:
                break
            outdir = Path(tmp, f"out{attempt}")
            limit = timeout if timeout is not None else 60 + 30 * len(pending)
            code, detail = _convert_batch(
                program,
                name,
                Path(tmp, f"profile{attempt}"),
                outdir,
                list(pending.values()),
                limit,
                ", ".join(shown[k] for k in pending),
            )
            for key, path in list(pending.items()):
                produced = outdir / f"{path.stem}.pdf"
                if produced.is_file() and produced.stat().st_size > 0:
                    out[key] = produced.read_bytes()
                    del pending[key]
                elif attempt == 2 or len(staged) == 1:
                    out[key] = (
                        code
                        if isinstance(code, RunError)
                        else RunError(
                            *both(
                                "doc_err_convert",
                                program=name,
                                file=shown[key],
                                code=code,
                                detail=detail or "–",
                            )
                        )
                    )
                    del pending[key]
            # What did not come out is tried once more, together (a process per document
            # would be slow); what is still missing then is an error.
    return out


def _convert_batch(
    program: str,
    name: str,
    profile: Path,
    outdir: Path,
    sources: list[Path],
    timeout: float,
    files: str,
) -> tuple[int | RunError, str]:
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
        *(str(p) for p in sources),
    ]
    try:
        return _run(command, timeout, name, Path(files))
    except RunError as exc:  # timed out: every document still missing is reported
        return exc, ""


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


# ---------------------------------------------------------------------------------------------
# LibreOffice
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Settings, sections, properties
# ---------------------------------------------------------------------------------------------


def _settings(dataset, settings, issuer, issued, place) -> DocumentSettings:
    """The document's settings: the explicit arguments, then ``settings``, then the dataset's
    metadata."""
    if settings is None:
        given = DocumentSettings()
    elif isinstance(settings, DocumentSettings):
        given = settings
    else:
        given = DocumentSettings.from_dict(settings)
    explicit = DocumentSettings(issued=issued, place=place)
    chosen = explicit.over(given).over(DocumentSettings.from_metadata(dataset.metadata))
    return settings_with_issuer(chosen, issuer)


class _Sections:
    """Running numbers of the top-level sections (I, II, ...)."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


def _finish(doc, dataset, lang, chosen, rules, subject, numbering: int, parameters) -> None:
    """How to read the report (numbered ``numbering``), the closing block (recipients and
    signature) and the properties: the same end for the pilot and the summary documents."""
    windows = {k: parameters[k] for k in ("pre_years", "post_years", "level")}
    add_markdown(doc, method_markdown(lang, **windows), numbering=numbering)
    add_closing_block(doc, lang, chosen, rules)
    _properties(doc, dataset, lang, chosen, subject, parameters)


def _properties(doc, dataset, lang, settings, subject, parameters: Mapping) -> None:
    """What made the document goes to its properties (comments and keywords), not its body."""
    shown = "; ".join(f"{k}={v}" for k, v in parameters.items())
    provenance = label(
        "doc_properties_comment",
        lang,
        version=__version__,
        # Shortened first, so that the hash and the parameters still fit the property.
        name=fit_property(dataset.name, 60),
        hash=str(dataset.content_hash)[:12],
        parameters=shown,
    )
    keywords = [f"{k}={v}" for k, v in parameters.items()]
    keywords.append(f"dataset={str(dataset.content_hash)[:12]}")
    set_properties(
        doc,
        dataset,
        lang,
        settings,
        title=f"{label('doc_type_report', lang)}: {subject}",
        subject=subject,
        provenance=provenance,
        keywords=keywords,
    )


def _conclusions_pilot(
    doc, dataset, results, rows, unit_code, model, lang, section: _Sections, windows
) -> None:
    """The answers per indicator, «Đánh giá chung» and «Đề xuất, kiến nghị», as the HTML
    report's first page (:func:`~kiemnhiem.report.conclusions.district_overview`). The
    model's own rows lead each answer: taken from ``results`` when it has them, else
    evaluated here."""
    frame = results if results is not None else rows
    if "scope" not in frame or not (frame["scope"] == "model").any():
        pre_years, post_years, level = windows
        _rows, model_frame = conclusions.evaluate_report(
            dataset, unit_code, model, pre_years=pre_years, post_years=post_years, level=level
        )
        frame = pd.concat([rows, model_frame[model_frame["scope"] == "model"]], ignore_index=True)
    overview = conclusions.district_overview(dataset, frame, unit_code, model, lang)
    add_heading(doc, 1, section.next(), label("conc_answers_heading", lang))
    for answer in overview.answers:
        p = add_body(doc, "")
        p.paragraph_format.first_line_indent = None
        p.paragraph_format.keep_with_next = True
        # No verdict symbol here: Times New Roman (and its clone) has no ▲ △ ◇ glyphs, so a
        # signed document would fall back to another font; the words carry the verdict.
        head = p.add_run(f"{answer.label} – ")
        head.bold = True
        p.add_run(verdict_text(answer.verdict, lang)).bold = True
        for i, line in enumerate((answer.model_line, answer.own_line), start=1):
            add_body(doc, str(line), prefix=f"{i}. ")
        verdict = add_body(doc, "")
        lead = verdict.add_run(f"{label('conc_verdict_heading', lang)}: ")
        lead.bold = True
        verdict.add_run(str(answer.verdict_text))
        for caveat in answer.caveats:
            add_body(doc, str(caveat), prefix="- ")
    add_note(doc, lang, "* " + label("dist_note_assumption", lang))
    _assessment_blocks(doc, overview, lang, section)


def _conclusions_summary(doc, dataset, results, lang, counter: Numbering, section) -> None:
    """Per model: «Đánh giá chung», the article's claims with the answer the data give and
    their caveats, the analysts' comments (:func:`~kiemnhiem.report.conclusions.model_overview`)."""
    add_heading(doc, 1, section.next(), label("conc_assessment_heading", lang))
    for k, model in enumerate(dict.fromkeys(str(m) for m in results["model"]), start=1):
        overview = conclusions.model_overview(dataset, results, model, lang)
        add_heading(doc, 2, k, model_label(dataset.models, model, lang))
        for sentence in overview.assessment:
            add_body(doc, str(sentence), prefix="- ")
        claims = overview.claims
        if len(claims):
            rows = []
            for rec in claims.to_dict("records"):
                answer = str(rec.get("answer", "") or "")
                if rec.get("verdict"):
                    answer = f"{verdict_text(rec['verdict'], lang)}. {answer}"
                rows.append(
                    [
                        str(rec.get("claim", "") or ""),
                        f"“{rec.get('quote', '')}”" if rec.get("quote") else "–",
                        answer,
                        str(rec.get("caveats", "") or "") or "–",
                    ]
                )
            frame = pd.DataFrame(
                rows,
                columns=[
                    label("summary_col_claim", lang),
                    label("summary_col_quote", lang),
                    label("conc_col_answer", lang),
                    label("conc_col_caveats", lang),
                ],
            )
            add_caption(
                doc,
                label("doc_table_number", lang, n=counter.table()),
                label("summary_claims_heading", lang),
            )
            add_table(
                doc,
                frame,
                widths=[35, 40, 45, TEXT_MM - 120],
                font_pt=TABLE_PT,
                align_rest="left",
            )
        if overview.recommendations:
            p = add_body(doc, "")
            p.add_run(label("conc_recommendations_heading", lang)).bold = True
            for item in overview.recommendations:
                add_body(doc, str(item), prefix="- ")


def _assessment_blocks(doc, overview, lang, section) -> None:
    """«Đánh giá chung» as one paragraph and «Đề xuất, kiến nghị» as items (a sentence when
    there are none), as the HTML report shows them."""
    add_heading(doc, 1, section.next(), label("conc_assessment_heading", lang))
    add_body(doc, " ".join(str(s) for s in overview.assessment))
    add_heading(doc, 1, section.next(), label("conc_recommendations_heading", lang))
    items = [str(i) for i in overview.recommendations if i]
    if not items:
        add_body(doc, label("conc_recommendations_none", lang))
    for item in items:
        add_body(doc, item, prefix="- ")


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


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
        from ..data.units import UnitMatcher

        code = UnitMatcher(dataset.province_code).resolve(text).code
    rows = rows[rows["unit_code"].astype(str) == code]
    if rows.empty:
        vi, en = both("doc_err_no_results", unit=text, model=model)
        raise ParameterError(vi, en)
    return rows.reset_index(drop=True)


#: District verdicts read only where a comparison is left after the start, and those read only
#: where none is (DESIGN, "District evidence").
_WITH_COMPARISON = {"improved", "worsened", "changed", "in_line", "no_clear_change"}
_BEFORE_AFTER = {"in_line_before_after", "no_clear_change_before_after", "before_after_only"}
#: A district verdict that needs the model's own verdict to be conclusive that way.
_NEEDS_MODEL = {
    "improved": {"improved"},
    "worsened": {"worsened"},
    "changed": {"changed"},
    "in_line": {"improved", "worsened", "changed"},
}


def _possible(code: str, pilots: pd.DataFrame, pooled: pd.DataFrame) -> bool:
    """Whether a model's pilots could have the verdict ``code`` at all, given how they were
    compared and what the model's own test concluded (else its count is 0 by construction)."""
    comparison = (
        pilots["comparison"].astype(str) if "comparison" in pilots else pd.Series([], dtype=str)
    )
    before_after = comparison.eq("none")
    if code in _BEFORE_AFTER and not before_after.any():
        return False
    if code in _WITH_COMPARISON and len(comparison) and before_after.all():
        return False
    if code in _NEEDS_MODEL and len(pooled):
        model_verdicts = {verdict_code(v) for v in pooled["verdict"]}
        if not model_verdicts & _NEEDS_MODEL[code]:
            return False
    return True


def _counts_frame(
    pilots: pd.DataFrame,
    pooled: pd.DataFrame,
    models: list[str],
    catalog: pd.DataFrame,
    lang: str,
) -> tuple[pd.DataFrame, bool]:
    """Verdicts (rows) by model (columns): only verdicts that occur, and a dash where a model
    cannot have that verdict (never a count that cannot be non-zero). Returns the frame and
    whether any dash is shown."""
    present = {verdict_code(v) for v in pilots["verdict"]}
    shown = [code for code in VERDICTS if code in present] or ["not_assessed"]
    columns = [label("doc_counts_verdict_col", lang)]
    columns += [model_label(catalog, model, lang) for model in models]
    table = [
        [label("doc_counts_pilots_row", lang)]
        + [str(pilots.loc[pilots["model"] == m, "unit_code"].nunique()) for m in models]
    ]
    dashed = False
    for code in shown:
        row = [verdict_text(code, lang)]
        for model in models:
            mine = pilots[pilots["model"] == model]
            count = sum(verdict_code(v) == code for v in mine["verdict"])
            if count == 0 and not _possible(code, mine, pooled[pooled["model"] == model]):
                row.append("–")
                dashed = True
            else:
                row.append(str(count))
        table.append(row)
    return pd.DataFrame(table, columns=columns), dashed


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


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def _indicator_section(
    doc: Document,
    number: int,
    row: pd.Series,
    series: pd.DataFrame | None,
    catalog: pd.DataFrame,
    lang: str,
    counter: Numbering,
    dpi: int,
    given: list[tuple[str, bytes]] | None = None,
) -> None:
    """One indicator: verdict and reason, interval, p-values, caveats, definition, figures:
    ``given`` (the notebook's own, by kind "series" or "event-study"), else drawn here."""
    info = indicator_info(catalog, str(row["indicator"]), lang)
    add_heading(doc, 2, number, info.label)
    p = add_body(doc, "")
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
            add_body(doc, interval)
        p_better, p_worse = row.get("p_better"), row.get("p_worse")
        if not _missing(p_better) and not _missing(p_worse):
            add_body(
                doc,
                label(
                    "report_p_values",
                    lang,
                    p_better=format_number(float(p_better), lang, 3),
                    p_worse=format_number(float(p_worse), lang, 3),
                ),
            )
    for note in notes:
        add_body(doc, note, prefix="- ")
    if info.description:
        body = add_body(doc, "")
        lead = body.add_run(f"{label('report_description_label', lang)}: ")
        lead.italic = True
        lead.bold = True
        body.add_run(info.description).italic = True

    unit = str(row.get("unit_name", "") or "")
    if given:
        titles = {"series": "plot_series_title", "event-study": "doc_event_study_title"}
        for kind, png in given:
            add_figure(
                doc,
                png,
                150 if kind == "series" else 140,
                label("doc_figure_number", lang, n=counter.figure()),
                label(titles[kind], lang, indicator=info.label, unit=unit),
            )
        return
    # Flatter figures than the notebook's, so that an indicator's text and both figures fit
    # on one A4 page; printed at about 80 % of their size, the text stays near 8 pt.
    fig = plot_series(series, row, catalog, lang, figsize=(7.5, 4.0))
    add_figure(
        doc,
        figure_png(fig, dpi=dpi),
        150,
        label("doc_figure_number", lang, n=counter.figure()),
        label("plot_series_title", lang, indicator=info.label, unit=unit),
    )
    fig = plot_before_after(series, row, catalog, lang, figsize=(5.0, 3.0))
    add_figure(
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
    p = add_body(doc, chance_text(n, level, lang, expected), italic=True)
    lead = p.runs[0] if p.runs else None
    head = p.add_run(f"{label(key, lang)}: ")
    head.bold = True
    head.italic = True
    if lead is not None:
        lead._r.addprevious(head._r)
