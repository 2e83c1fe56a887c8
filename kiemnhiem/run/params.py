"""What the report notebooks and a run accept: unit codes, ``--only`` values, run settings, and
the check of parameter sets against a notebook's parameters cell.

The notebooks import :func:`pad_unit_code` and :func:`resolve_report_unit` from here, in their
kernel: this module must stay light to import. It must not import pandas, papermill,
nbconvert, jupyter_client or dask at module level (only inside the functions that need them),
nor any other module of :mod:`kiemnhiem.run` (they import it, not the other way round).
"""

from __future__ import annotations

import ast
import json
import os
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.issuing import DocumentSettings, check_document_settings
from ..exceptions import ParameterError, UnitError
from ..labels import both, check_lang

if TYPE_CHECKING:
    from ..data.dataset import Dataset

#: Output formats; HTML is always made, documents (Word, PDF) beside it on request.
FORMATS: tuple[str, ...] = ("html", "docx", "pdf")
#: Seconds one report may take, kernel start excluded.
DEFAULT_TIMEOUT = 600.0
#: What the runner passes to each notebook (all of them, no more, no fewer).
PILOT_PARAMETERS: tuple[str, ...] = (
    "dataset",
    "unit",
    "model",
    "lang",
    "pre_years",
    "post_years",
    "level",
    "classification",
)
SUMMARY_PARAMETERS: tuple[str, ...] = ("dataset", "lang", "classification", "model")
#: Passed to the summary only when its parameters cell declares them.
SUMMARY_OPTIONAL: tuple[str, ...] = ("pre_years", "post_years", "level")


# ---------------------------------------------------------------------------------------------
# Units and --only
# ---------------------------------------------------------------------------------------------


def pad_unit_code(value: object) -> str:
    """A unit parameter as text, integer codes zero-padded to three characters.

    papermill's ``-p unit 094`` passes the integer 94; analysts type "94" or "094". Names are
    returned NFC-normalized and stripped.

    Examples
    --------
    >>> pad_unit_code(94)
    '094'
    >>> pad_unit_code("Phù Yên")
    'Phù Yên'
    """
    if isinstance(value, bool):
        raise ParameterError(
            f"Mã đơn vị không hợp lệ: {value!r}.", f"Invalid unit code: {value!r}."
        )
    if isinstance(value, int):
        if value < 0:
            raise ParameterError(
                f"Mã đơn vị không hợp lệ: {value!r}.", f"Invalid unit code: {value!r}."
            )
        return str(value).zfill(3)
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return str(int(value)).zfill(3)
    text = unicodedata.normalize("NFC", str(value)).strip()
    if text.isdigit() and len(text) <= 3:
        return text.zfill(3)
    return text


def resolve_report_unit(dataset: Dataset, unit: object) -> tuple[str, str]:
    """The ``(code, name)`` of a unit of ``dataset`` given by code or name.

    Names are matched within the dataset's province (see :class:`kiemnhiem.data.units.UnitMatcher`).

    Raises
    ------
    ParameterError
        When the unit cannot be resolved or is not in the dataset.
    """
    from ..data.units import UnitMatcher

    value = pad_unit_code(unit)
    codes = set(dataset.units["unit_code"].astype(str))
    if value in codes:
        code = value
    else:
        try:
            code = UnitMatcher(dataset.province_code).resolve(value).code
        except UnitError as exc:
            raise ParameterError(exc.message_vi, exc.message_en) from None
    if code not in codes:
        raise ParameterError(*both("run_unit_not_in_dataset", unit=value))
    return code, dataset.unit_name(code)


def check_model(dataset: Dataset, model: str) -> str:
    """``model`` stripped, if the dataset's pilots or models know it."""
    model = str(model).strip()
    known = sorted(set(dataset.pilots["model"]) | set(dataset.models["code"]))
    if model not in known:
        raise ParameterError(*both("run_unknown_model", model=model, choices=", ".join(known)))
    return model


def parse_only(values: Iterable[str] | str | None) -> list[tuple[str, str]]:
    """Split ``--only`` values ``UNIT:MODEL`` (unit by code or name) into pairs.

    Raises
    ------
    ParameterError
        For a value without exactly one unit and one model.
    """
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    pairs = []
    for raw in values:
        text = str(raw).strip()
        unit, sep, model = text.rpartition(":")
        if not sep or not unit.strip() or not model.strip():
            raise ParameterError(*both("run_only_format", value=text))
        pairs.append((unit.strip(), model.strip()))
    return pairs


# ---------------------------------------------------------------------------------------------
# A run's settings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSettings:
    """What shapes the reports of one run, checked and normalized when made.

    ``notebooks`` maps ``"pilot"`` and ``"summary"`` to the notebook each kind of report
    executes (the summary's None when there is none). Where the reports run (workers, an
    executor, a Dask scheduler) is not a setting: it does not change a report. ``formats``
    becomes a tuple with HTML first, ``only`` a tuple of ``UNIT:MODEL`` values. ``document``
    (issuer kind, bodies, number, place, date, signer, recipients: a
    :class:`~kiemnhiem.data.issuing.DocumentSettings` or its keyword values) overrides the
    dataset's own document settings field by field.

    Raises
    ------
    ParameterError
        An unknown language or format, or a timeout that is not a positive number.
    """

    lang: str = "vi"
    formats: Sequence[str] | str = ("html",)
    pre_years: int = 3
    post_years: int = 3
    level: float = 0.10
    classification: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    only: Iterable[str] | str | None = ()
    force: bool = False
    notebooks: Mapping[str, Path | None] = field(default_factory=dict)
    document: DocumentSettings | Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        # Checked and normalized once, here: every later step may trust them.
        timeout = self.timeout
        if isinstance(timeout, bool) or not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ParameterError(*both("run_bad_timeout", value=timeout))
        only = (self.only,) if isinstance(self.only, str) else tuple(self.only or ())
        values = {
            "lang": check_lang(self.lang),
            "formats": check_formats(self.formats),
            "pre_years": int(self.pre_years),
            "post_years": int(self.post_years),
            "level": float(self.level),
            "timeout": float(timeout),
            "only": only,
            "force": bool(self.force),
            "notebooks": dict(self.notebooks),
            "document": _document(self.document),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """The settings every report shares, as ``RunResult.parameters`` and the manifest
        record them."""
        return {
            "lang": self.lang,
            "pre_years": self.pre_years,
            "post_years": self.post_years,
            "level": self.level,
            "classification": self.classification,
            "formats": list(self.formats),
            "timeout": self.timeout,
            "document": self.document.as_dict(),
        }

    def job_parameters(self, job, dataset_path: str) -> dict[str, Any]:
        """The notebook parameters of ``job`` (a :class:`~kiemnhiem.run.plan.ReportJob`), the
        dataset as an absolute path."""
        if job.kind == "summary":
            params: dict[str, Any] = {
                "dataset": dataset_path,
                "lang": job.lang,
                "classification": self.classification,
                "model": None,
            }
            for name in self.summary_optional:
                params[name] = getattr(self, name)
            return params
        return {
            "dataset": dataset_path,
            "unit": job.unit_code,
            "model": job.model,
            "lang": job.lang,
            "pre_years": self.pre_years,
            "post_years": self.post_years,
            "level": self.level,
            "classification": self.classification,
        }

    @cached_property
    def summary_optional(self) -> tuple[str, ...]:
        """The optional parameters that the summary's notebook declares."""
        path = self.notebooks.get("summary")
        if path is None:
            return ()
        try:
            declared = set(notebook_parameter_names(path))
        except (OSError, ValueError):
            return ()
        return tuple(name for name in SUMMARY_OPTIONAL if name in declared)


def _document(value) -> DocumentSettings:
    if value is None:
        return DocumentSettings()
    if isinstance(value, DocumentSettings):
        return value
    return check_document_settings(**dict(value))


def check_formats(formats: Sequence[str] | str) -> tuple[str, ...]:
    """Formats among :data:`FORMATS` (``"html,docx"`` accepted), HTML first and always."""
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    chosen = tuple(dict.fromkeys(str(f).strip().lower() for f in formats))
    available = _available_formats()
    for value in chosen:
        if value not in available:
            raise ParameterError(*both("run_bad_format", value=value, choices=", ".join(available)))
    return tuple(dict.fromkeys(("html", *chosen)))


def _available_formats() -> tuple[str, ...]:
    from importlib.util import find_spec

    return FORMATS if find_spec("kiemnhiem.report.documents") is not None else ("html",)


# ---------------------------------------------------------------------------------------------
# A notebook's parameters cell
# ---------------------------------------------------------------------------------------------


def notebook_parameter_names(notebook: str | os.PathLike) -> list[str]:
    """Names assigned in a notebook's ``parameters`` cell, read without papermill (cheap).

    The authoritative check before running is :func:`check_parameters` (papermill's own
    ``inspect_notebook``); this one only decides which optional parameters to pass.
    """
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        tags = (cell.get("metadata") or {}).get("tags") or []
        if cell.get("cell_type") == "code" and "parameters" in tags:
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            try:
                tree = ast.parse(source)
            except SyntaxError:
                return []
            names = []
            for node in tree.body:
                targets = (
                    node.targets
                    if isinstance(node, ast.Assign)
                    else ([node.target] if isinstance(node, ast.AnnAssign) else [])
                )
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            return list(dict.fromkeys(names))
    return []


def declared_parameters(notebook: str | os.PathLike) -> list[str]:
    """The parameters a notebook's parameters cell declares, as papermill's
    ``inspect_notebook`` reads them."""
    from papermill import inspect_notebook

    return list(inspect_notebook(str(notebook)))


def check_parameters(
    notebook: str | os.PathLike,
    parameter_sets: Iterable[Mapping],
    *,
    declared: Iterable[str] | None = None,
) -> None:
    """Check parameter sets against a notebook's parameters cell, before anything runs.

    Uses papermill's ``inspect_notebook`` (or ``declared``, its answer obtained elsewhere). A
    parameter the cell does not declare (unknown) or one it declares that is not passed
    (missing) is an error, not papermill's warning.

    Raises
    ------
    ParameterError
        Listing every unknown and missing name, with the notebook's name.
    """
    names = set(declared_parameters(notebook) if declared is None else declared)
    unknown: set[str] = set()
    missing: set[str] = set()
    for parameters in parameter_sets:
        unknown |= set(parameters) - names
        missing |= names - set(parameters)
    if unknown or missing:
        raise ParameterError(
            *both(
                "run_param_mismatch",
                notebook=Path(notebook).name,
                unknown=", ".join(sorted(unknown)) or "–",
                missing=", ".join(sorted(missing)) or "–",
            )
        )
