"""The main job: one report per pilot (and a province summary), executed by papermill.

``plan_reports`` lists the jobs; ``run_reports`` checks every job's parameters against its
notebook's parameters cell, executes the jobs that are not up to date through papermill's
Python API (a fresh kernel per report, shut down at once; one retry when a kernel dies) on a
process pool, any :mod:`concurrent.futures` executor or a Dask cluster, exports HTML (and Word
and PDF documents) in the workers, and publishes the site under ``out`` (see
:mod:`kiemnhiem.run.publish`)::

    out/index.html                          every report present, sortable, what changed
    out/manifest.json                       versions, hashes, parameters, outcomes, results
    out/summary.html                        the province summary (when its notebook exists)
    out/<model>/<code>-<slug>.html          (.en.html in English; .docx and .pdf beside)
    out/<model>/<code>-<slug>/<figure>.png  (<figure>.en.png in English)
    out/runs/<id>/                          the last 3 runs, each a complete site

Incremental: a report is remade when anything it depends on changed, and only then: its
notebook, its parameters, kiemnhiem's own files (code, templates, catalogs), the versions of
the libraries that shape it (:data:`KEY_DEPENDENCIES`), and its data. A pilot report depends on
the dataset's metadata, pilots, units, catalogs, events and comments, and on the panel rows of
*every unit* for the indicators that concern its model (comparison units and placebo
assignments use them all), not on the panel rows of other indicators; the summary depends on
the whole dataset. Editing one value of an indicator therefore remakes every report of the
models that indicator concerns, plus the summary.

Also the notebook's own helpers for its parameters: :func:`pad_unit_code` (papermill's ``-p``
turns "094" into 94) and :func:`resolve_report_unit`. This module imports papermill, nbconvert,
jupyter_client and dask only inside the functions that run reports, so the notebook's kernel
stays light.
"""

from __future__ import annotations

import ast
import base64
import concurrent.futures as cf
import contextlib
import copy
import dataclasses
import hashlib
import html as html_lib
import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import signal
import site
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..data.units import fold
from ..exceptions import KiemNhiemError, ParameterError, RunError, UnitError
from ..labels import both, check_lang, label
from ..resources import data_dir, notebook_path, notebooks_dir, package_dir, templates_dir
from .lock import RunLock
from .publish import (
    INDEX,
    MANIFEST,
    PUBLISHED_MARK,
    RUNS,
    SignalGuard,
    complete_pending,
    link_or_copy,
    new_run_id,
    prune_runs,
    publish_run,
    sha256_bytes,
    write_bytes_atomic,
)

if TYPE_CHECKING:
    from ..data.dataset import Dataset

logger = logging.getLogger("kiemnhiem")

#: Output formats; HTML is always made, documents (Word, PDF) beside it on request.
FORMATS: tuple[str, ...] = ("html", "docx", "pdf")
#: The notebook each pilot report executes.
REPORT_NOTEBOOK = "pilot_report"
#: The province summary's notebook; planned only when it exists.
SUMMARY_NOTEBOOK = "province_summary"
#: Seconds one report may take, kernel start excluded.
DEFAULT_TIMEOUT = 600.0
#: Seconds to wait for a kernel to start.
KERNEL_START_TIMEOUT = 120
KERNEL_NAME = "python3"
#: Libraries whose version is part of every report's fingerprint.
KEY_DEPENDENCIES: tuple[str, ...] = (
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "papermill",
    "nbconvert",
    "babel",
    "python-docx",
)
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
Status = Literal["ok", "failed", "unchanged"]
Kind = Literal["pilot", "summary"]

_FIGURE_KEY = "kiemnhiem_figure"
_FIGURE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,80}$")
_MANIFEST_SCHEMA = 2
_OUTDATED_START = "<!--kn-outdated-->"
_OUTDATED_END = "<!--/kn-outdated-->"


# ---------------------------------------------------------------------------------------------
# Parameters: what the notebook and --only accept
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


def _check_model(dataset: Dataset, model: str) -> str:
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
# Plan
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportJob:
    """One report to make: a pilot (unit x model), or the province summary, in one language."""

    unit_code: str
    unit_name: str
    unit_short: str
    model: str
    lang: str
    kind: str = "pilot"

    @property
    def slug(self) -> str:
        """ASCII fold of the unit's short name: ``phu-yen``."""
        return slugify(self.unit_short or self.unit_name)

    @property
    def stem(self) -> str:
        if self.kind == "summary":
            return "summary"
        return f"{self.unit_code}-{self.slug}"

    @property
    def _base(self) -> str:
        lang = ".en" if self.lang == "en" else ""
        if self.kind == "summary":
            return f"summary{lang}"
        return f"{self.model}/{self.stem}{lang}"

    @property
    def html_path(self) -> str:
        """Path under ``out``, with ``/``: ``tuyengiao_ttct/122-phu-yen.html``."""
        return f"{self._base}.html"

    def document_path(self, fmt: str) -> str:
        """``tuyengiao_ttct/122-phu-yen.docx`` (``.en.pdf`` ...), beside the HTML."""
        return f"{self._base}.{fmt}"

    @property
    def figures_dir(self) -> str:
        if self.kind == "summary":
            return "summary"
        return f"{self.model}/{self.stem}"

    @property
    def figure_suffix(self) -> str:
        return ".en.png" if self.lang == "en" else ".png"

    @property
    def key(self) -> str:
        if self.kind == "summary":
            return f"summary/{self.lang}"
        return f"{self.model}/{self.unit_code}/{self.lang}"

    @property
    def title(self) -> str:
        if self.kind == "summary":
            return label("run_summary_title", self.lang)
        return label("report_title", self.lang, unit=self.unit_name)


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens: ``"Thành phố Sơn La"`` gives
    ``"thanh-pho-son-la"``."""
    words = re.findall(r"[a-z0-9]+", fold(text))
    return "-".join(words) or "unit"


def summary_notebook() -> Path | None:
    """The province summary notebook, or None while it does not exist."""
    path = notebook_path(SUMMARY_NOTEBOOK)
    return path if path.is_file() else None


def plan_reports(
    dataset: Dataset,
    only: Iterable[str] | str | None = None,
    lang: str = "vi",
    *,
    summary: bool = False,
) -> list[ReportJob]:
    """The reports a run makes: one per pilot, or those chosen with ``only``.

    Parameters
    ----------
    dataset : Dataset
        A loaded dataset.
    only : iterable of str, optional
        ``UNIT:MODEL`` values (``122:tuyengiao_ttct``, ``"Phù Yên:tuyengiao_ttct"``).
    lang : {"vi", "en"}
    summary : bool
        Also plan the province summary (last), when its notebook exists and ``only`` is not
        given.

    Returns
    -------
    list of ReportJob
        Sorted by model, then unit code; no duplicates; the summary last.

    Raises
    ------
    ParameterError
        For a malformed ``only`` value, an unknown unit or model, or a pair that is not a
        pilot; or when the dataset has no pilot.
    """
    lang = check_lang(lang)
    pilots = dataset.pilots[["unit_code", "model"]].astype(str).drop_duplicates()
    if pilots.empty:
        raise ParameterError(*both("run_no_pilots"))
    pairs = set(zip(pilots["unit_code"], pilots["model"], strict=True))
    chosen: set[tuple[str, str]]
    if only:
        chosen = set()
        for unit, model in parse_only(only):
            model = _check_model(dataset, model)
            code, name = resolve_report_unit(dataset, unit)
            if (code, model) not in pairs:
                choices = sorted(f"{c}" for c, m in pairs if m == model)
                raise ParameterError(
                    *both(
                        "run_not_pilot",
                        unit=f"{name} ({code})",
                        model=model,
                        choices=", ".join(choices) or "–",
                    )
                )
            chosen.add((code, model))
    else:
        chosen = pairs
    units = dataset.units.set_index("unit_code")
    jobs = []
    for code, model in sorted(chosen, key=lambda cm: (cm[1], cm[0])):
        name = dataset.unit_name(code)
        short = str(units.loc[code, "unit_short"]) if code in units.index else name
        jobs.append(ReportJob(code, name, short, model, lang))
    if summary and not only and summary_notebook() is not None:
        jobs.append(_summary_job(lang))
    return jobs


def _summary_job(lang: str) -> ReportJob:
    return ReportJob("", "", "", "", lang, kind="summary")


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


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportOutcome:
    """What became of one report in this run.

    ``status`` is "ok" (made now), "unchanged" (up to date, kept) or "failed" (then
    ``outdated`` says whether its last good version is still published, marked as such).
    """

    job: ReportJob
    status: Status
    error: str | None = None
    cell_index: int | None = None
    ename: str | None = None
    evalue: str | None = None
    started: str | None = None
    duration: float = 0.0
    figures: tuple[str, ...] = ()
    fingerprint: str = ""
    attempts: int = 0
    outdated: bool = False
    files: Mapping[str, str] = field(default_factory=dict)
    results: tuple[dict, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The manifest's record of this report (without its results)."""
        return {
            "kind": self.job.kind,
            "unit_code": self.job.unit_code,
            "unit_name": self.job.unit_name,
            "unit_short": self.job.unit_short,
            "model": self.job.model,
            "lang": self.job.lang,
            "path": self.job.html_path,
            "figures": list(self.figures),
            "files": dict(self.files),
            "status": self.status,
            "outdated": self.outdated,
            "error": self.error,
            "cell_index": self.cell_index,
            "ename": self.ename,
            "evalue": self.evalue,
            "attempts": self.attempts,
            "started": self.started,
            "duration": round(self.duration, 3),
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`run_reports`; ``exit_code`` is what the CLI returns."""

    out: Path
    reports: tuple[ReportOutcome, ...]
    exit_code: int
    published: bool
    manifest_path: Path | None
    index_path: Path | None
    duration: float
    parameters: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    changes: tuple[dict, ...] = ()
    recovered: str | None = None

    @property
    def ok(self) -> tuple[ReportOutcome, ...]:
        return tuple(r for r in self.reports if r.status == "ok")

    @property
    def failed(self) -> tuple[ReportOutcome, ...]:
        return tuple(r for r in self.reports if r.status == "failed")

    @property
    def unchanged(self) -> tuple[ReportOutcome, ...]:
        return tuple(r for r in self.reports if r.status == "unchanged")


# ---------------------------------------------------------------------------------------------
# Fingerprints: what a report depends on
# ---------------------------------------------------------------------------------------------


def dataset_digests(ds: Dataset) -> tuple[str, dict[str, str]]:
    """``(common, {indicator: digest})``: sha256 of everything in ``ds`` but the panel, and of
    each indicator's panel rows (all units).

    Computed from the loaded dataset (what the notebooks see), so that a change of encoding or
    of the file layout that reads the same does not remake reports, and any new field of
    :class:`~kiemnhiem.data.dataset.Dataset` is covered by default.
    """
    import pandas as pd

    common = hashlib.sha256()
    for f in dataclasses.fields(ds):
        if f.name in ("panel", "path", "content_hash"):
            continue
        value = getattr(ds, f.name)
        common.update(f.name.encode("utf-8") + b"\0")
        if isinstance(value, pd.DataFrame):
            common.update(str(list(value.dtypes.astype(str).items())).encode("utf-8"))
            common.update(value.to_csv(index=False).encode("utf-8"))
        else:
            common.update(json.dumps(value, sort_keys=True, default=str).encode("utf-8"))
        common.update(b"\0")
    panel = ds.panel
    per_indicator: dict[str, str] = {}
    if len(panel):
        rows = pd.util.hash_pandas_object(panel, index=False).to_numpy()
        head = str(list(panel.dtypes.astype(str).items())).encode("utf-8")
        for indicator, idx in panel.groupby("indicator", sort=True).indices.items():
            digest = hashlib.sha256(head)
            digest.update(rows[idx].tobytes())
            per_indicator[str(indicator)] = digest.hexdigest()
    return common.hexdigest(), per_indicator


def _versions() -> dict[str, str]:
    """Versions of Python, kiemnhiem and :data:`KEY_DEPENDENCIES` (without importing them)."""
    from importlib import metadata

    from .. import __version__

    out = {"python": sys.version.split()[0], "kiemnhiem": __version__}
    for name in KEY_DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = ""
    return out


def _code_hash() -> str:
    """sha256 over what shapes a report besides its data: the package's code, templates and
    built-in catalogs (labels included), so that a changed release is never "unchanged"."""
    package = package_dir()
    named = [
        *((p.relative_to(package).as_posix(), p) for p in package.rglob("*.py")),
        *(
            (p.relative_to(package).as_posix(), p)
            for pattern in ("*.j2", "*.json", "*.css")
            for p in (package / "templates").rglob(pattern)
        ),
        *((f"catalog/{p.name}", p) for p in data_dir().joinpath("catalog").glob("*.csv")),
    ]
    digest = hashlib.sha256()
    # Names relative to the package (catalogs by name), so that a checkout and an installed
    # wheel of the same code agree (Dask workers compare theirs with the client's).
    for name, path in sorted(named):
        if "__pycache__" in name or name.startswith("_bundled/"):
            continue
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class _Fingerprints:
    """Every report's fingerprint for one run (dataset digests computed once)."""

    def __init__(self, ds: Dataset, notebooks: Mapping[str, Path | None], code_hash: str):
        self.ds = ds
        self.common, self.indicators = dataset_digests(ds)
        self.code_hash = code_hash
        self.versions = _versions()
        self.notebook_hash = {k: _file_hash(p) for k, p in notebooks.items() if p is not None}
        self._model_indicators: dict[str, list[str]] = {}

    def data_digest(self, kind: str, model: str) -> str:
        digest = hashlib.sha256(self.common.encode("ascii"))
        if kind == "summary":
            names = sorted(self.indicators)
        else:
            names = self._indicators_of(model)
        for name in names:
            digest.update(f"{name}={self.indicators.get(name, '')};".encode())
        return digest.hexdigest()

    def _indicators_of(self, model: str) -> list[str]:
        if model not in self._model_indicators:
            from ..data.catalog import indicators_for_model

            codes = indicators_for_model(self.ds.indicators, model)["code"]
            self._model_indicators[model] = sorted(str(c) for c in codes)
        return self._model_indicators[model]

    def inputs(self, job: ReportJob, parameters: Mapping[str, Any]) -> dict[str, str]:
        """What ``job`` run with ``parameters`` depends on, one digest per kind of input (the
        dataset path left out: its content counts, not where it lies)."""

        def digest(value: Any) -> str:
            text = json.dumps(value, sort_keys=True, ensure_ascii=True, default=str)
            return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]

        return {
            "report": digest([_MANIFEST_SCHEMA, job.kind, job.unit_code, job.model, job.lang]),
            "notebook": self.notebook_hash.get(job.kind, "")[:16],
            "parameters": digest({k: v for k, v in parameters.items() if k != "dataset"}),
            "data": self.data_digest(job.kind, job.model)[:16],
            "code": self.code_hash[:16],
            "versions": digest(self.versions),
        }

    def of(self, job: ReportJob, parameters: Mapping[str, Any]) -> str:
        """The fingerprint of ``job`` run with ``parameters``."""
        text = json.dumps(self.inputs(job, parameters), sort_keys=True)
        return hashlib.sha256(text.encode("ascii")).hexdigest()


def _fingerprint(base: dict, job: ReportJob) -> str:
    """A plain fingerprint of ``base`` and the job's identity (kept for callers and tests)."""
    payload = json.dumps(
        {**base, "kind": job.kind, "unit": job.unit_code, "model": job.model, "lang": job.lang},
        sort_keys=True,
        ensure_ascii=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------


def run_reports(
    dataset: str | os.PathLike | Dataset | None = None,
    out: str | os.PathLike = "reports",
    lang: str = "vi",
    workers: int | None = None,
    only: Iterable[str] | str | None = None,
    force: bool = False,
    quiet: bool = False,
    executor: cf.Executor | None = None,
    *,
    formats: Sequence[str] | str = ("html",),
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
    classification: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    scheduler: str | None = None,
    progress: bool | None = None,
    notebooks: Mapping[str, str | os.PathLike | None] | None = None,
) -> RunResult:
    """Make every report that is not up to date and publish the site.

    Parameters
    ----------
    dataset : path, Dataset or None
        A dataset folder or workbook, a loaded :class:`~kiemnhiem.data.dataset.Dataset` (read from
        disk: its path is passed to the notebooks), or None for the bundled demo.
    out : path
        The site folder (created if missing); nothing is written elsewhere.
    lang : {"vi", "en"}
    workers : int, optional
        Reports made at once by the local process pool; default ``os.cpu_count()``.
    only : iterable of str, optional
        ``UNIT:MODEL`` values; the other reports already published stay listed (marked
        outdated if their inputs changed since).
    force : bool
        Remake the planned reports even when they are up to date.
    quiet : bool
        Log progress at DEBUG instead of INFO (failures are always logged as warnings).
    executor : concurrent.futures.Executor, optional
        Where to run the reports (sharing this machine's file system); not shut down here.
    formats : sequence of str or str
        Among :data:`FORMATS` (``"html,docx,pdf"`` also accepted); HTML is always made.
    pre_years, post_years, level, classification
        Passed to every report (see ``notebooks/pilot_report.ipynb``).
    timeout : float
        Seconds one report may run once its kernel has started.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``): the reports run on its
        workers, which need the same kiemnhiem; the dataset is sent to them once.
    progress : bool, optional
        A one-line progress counter on stderr; default: when stderr is a terminal and not
        ``quiet``.
    notebooks : mapping, optional
        Other notebooks for ``"pilot"`` and ``"summary"`` (None: no summary); they must
        declare the same parameters.

    Returns
    -------
    RunResult
        ``exit_code`` 1 if any report failed, else 0. ``published`` is False when nothing
        changed (the site is already up to date) or nothing succeeded.

    Raises
    ------
    DatasetError
        The dataset is invalid.
    ParameterError
        Bad options, or parameters that the notebooks do not declare exactly.
    RunError
        ``out`` cannot be written or lies inside the package's files; a Dask cluster cannot
        be reached or runs other kiemnhiem code.
    LockHeldError
        Another run is writing into ``out``.
    RunInterrupted
        SIGINT or SIGTERM: kernels were shut down, futures cancelled, nothing published
        (a signal that comes while publishing is acted on once the site is consistent).
    """
    from ..data.dataset import Dataset, load_dataset

    clock = time.perf_counter()
    started = _now()
    lang = check_lang(lang)
    formats = _check_formats(formats)
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ParameterError(*both("run_bad_workers", value=workers))
    if isinstance(timeout, bool) or not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ParameterError(*both("run_bad_timeout", value=timeout))
    if executor is not None and scheduler is not None:
        raise ParameterError(*both("run_executor_and_scheduler"))
    nb_paths = _notebooks(notebooks)

    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    if ds.path is None:
        raise RunError(*both("err_no_dataset", path="–"))
    dataset_path = str(Path(ds.path).resolve())
    jobs = plan_reports(ds, only=only, lang=lang)
    if nb_paths.get("summary") is not None and not only:
        jobs.append(_summary_job(lang))
    out_dir = _prepare_out(Path(out))
    settings = {
        "lang": lang,
        "pre_years": int(pre_years),
        "post_years": int(post_years),
        "level": float(level),
        "classification": classification,
        "formats": list(formats),
        "timeout": float(timeout),
    }
    show_progress = (not quiet and _isatty(sys.stderr)) if progress is None else bool(progress)

    with RunLock(out_dir), SignalGuard() as guard:
        recovered = complete_pending(out_dir, guard)
        if recovered:
            logger.warning(label("run_recovered", lang, run=recovered))
        prune_runs(out_dir)
        previous = _read_manifest(out_dir)
        prints = _Fingerprints(ds, nb_paths, _code_hash())
        summary_optional = _summary_optional(nb_paths.get("summary"))
        plan = _plan_run(
            jobs,
            previous,
            prints,
            ds,
            dataset_path,
            settings,
            formats,
            force,
            out_dir,
            nb_paths,
            summary_optional,
        )
        if plan.nothing_to_do:
            _log(quiet, label("run_nothing_changed", lang, run=previous.get("run_id", "–")))
            outcomes = tuple(plan.unchanged_outcomes())
            return RunResult(
                out_dir,
                outcomes,
                0,
                False,
                out_dir / MANIFEST,
                out_dir / INDEX,
                time.perf_counter() - clock,
                settings,
                previous.get("run_id"),
                (),
                recovered,
            )
        _log_reasons(plan, lang, quiet)
        pool = None
        if plan.to_run and executor is None and scheduler is None:
            pool = _start_pool(min(workers or os.cpu_count() or 1, len(plan.to_run)))
        run_id = new_run_id(out_dir)
        run_dir = out_dir / RUNS / run_id
        try:
            # Every parameter set against its notebook's parameters cell, before anything
            # runs; in the pool, which has papermill imported already.
            for kind in ("pilot", "summary"):
                sets = [p for j, p, _ in plan.to_run if j.kind == kind]
                if sets:
                    check_parameters(nb_paths[kind], sets, declared=_declared(nb_paths[kind], pool))
            run_dir.mkdir(parents=True)
            return _run_and_publish(
                plan=plan,
                ds=ds,
                dataset_path=dataset_path,
                settings=settings,
                formats=formats,
                only=only,
                force=force,
                quiet=quiet,
                started=started,
                clock=clock,
                out_dir=out_dir,
                run_id=run_id,
                run_dir=run_dir,
                previous=previous,
                prints=prints,
                nb_paths=nb_paths,
                executor=pool or executor,
                own_pool=pool is not None,
                scheduler=scheduler,
                workers=workers,
                show_progress=show_progress,
                guard=guard,
                recovered=recovered,
            )
        except BaseException:
            if pool is not None:
                _stop_pool(pool)
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
            if not (run_dir / PUBLISHED_MARK).exists():
                shutil.rmtree(run_dir, ignore_errors=True)


def _declared(notebook: Path, pool: cf.Executor | None) -> list[str]:
    """:func:`declared_parameters`, in the pool when there is one (papermill is imported
    there already), else here."""
    if pool is not None:
        try:
            return pool.submit(declared_parameters, str(notebook)).result()
        except (OSError, RuntimeError):  # BrokenProcessPool is a RuntimeError
            pass  # the pool's own failure shows when the reports run
    return declared_parameters(notebook)


@dataclass
class _Plan:
    to_run: list[tuple[ReportJob, dict, str]]  # job, parameters, fingerprint
    unchanged: list[tuple[ReportJob, dict, str, dict]]  # ... and the previous entry
    kept: list[dict]  # entries of earlier runs that this run does not plan, as they will be
    dropped: list[dict]
    kept_changed: bool
    prev_root: Path
    previous: dict[str, dict]  # the previous run's entries by key
    inputs: dict[str, dict] = field(default_factory=dict)  # job key -> Fingerprints.inputs
    reasons: dict[str, str] = field(default_factory=dict)  # job key -> why it is remade

    @property
    def nothing_to_do(self) -> bool:
        return not self.to_run and not self.dropped and not self.kept_changed

    def unchanged_outcomes(self) -> list[ReportOutcome]:
        return [
            ReportOutcome(
                job,
                "unchanged",
                started=old.get("started"),
                duration=float(old.get("duration") or 0.0),
                figures=tuple(old.get("figures") or ()),
                fingerprint=fp,
                files=dict(old.get("files") or {}),
            )
            for job, _p, fp, old in self.unchanged
        ]


def _plan_run(
    jobs,
    previous,
    prints,
    ds,
    dataset_path,
    settings,
    formats,
    force,
    out_dir,
    nb_paths,
    summary_optional,
) -> _Plan:
    entries = {_entry_key(e): _normalize_entry(e, out_dir) for e in previous.get("reports", [])}
    prev_root = _previous_root(out_dir, previous)
    to_run, unchanged, inputs, reasons = [], [], {}, {}
    for job in jobs:
        parameters = _job_parameters(job, dataset_path, settings, summary_optional)
        inputs[job.key] = prints.inputs(job, parameters)
        fp = prints.of(job, parameters)
        old = entries.get(job.key)
        if not force and _reusable(old, fp, job, formats, prev_root, out_dir):
            unchanged.append((job, parameters, fp, old))
        else:
            to_run.append((job, parameters, fp))
            reasons[job.key] = _reason(old, fp, inputs[job.key], force)
    planned = {job.key for job in jobs}
    pilots = set(
        zip(ds.pilots["unit_code"].astype(str), ds.pilots["model"].astype(str), strict=True)
    )
    kept, dropped, kept_changed = [], [], False
    for key, entry in entries.items():
        if key in planned:
            continue
        kind = entry.get("kind", "pilot")
        alive = (
            nb_paths.get("summary") is not None
            if kind == "summary"
            else (str(entry.get("unit_code")), str(entry.get("model"))) in pilots
        )
        if not alive or entry.get("lang") not in ("vi", "en"):
            dropped.append(entry)
            continue
        entry = dict(entry)
        stale = _entry_is_stale(entry, prints, summary_optional)
        was = entry.get("outdated_reason")
        if stale and not entry.get("outdated"):
            entry.update(outdated=True, outdated_reason="inputs_changed")
        elif not stale and was == "inputs_changed":
            entry.update(outdated=False, outdated_reason=None)
        kept_changed |= entry.get("outdated_reason") != was
        kept.append(entry)
    return _Plan(
        to_run, unchanged, kept, dropped, kept_changed, prev_root, entries, inputs, reasons
    )


def _reason(old: dict | None, fp: str, inputs: dict, force: bool) -> str:
    """Why a report is remade: the first input that changed, or new, forced, failed, files."""
    if force:
        return "force"
    if not old:
        return "new"
    if old.get("fingerprint") == fp:
        return "failed" if old.get("status") == "failed" or old.get("outdated") else "files"
    before = old.get("inputs") or {}
    for name in ("data", "code", "notebook", "parameters", "versions", "report"):
        if before.get(name) != inputs.get(name):
            return name
    return "report"


def _log_reasons(plan: _Plan, lang: str, quiet: bool) -> None:
    counts: dict[str, int] = {}
    for reason in plan.reasons.values():
        counts[reason] = counts.get(reason, 0) + 1
    text = "; ".join(
        f"{label(f'run_reason_{name}', lang)} ({n})" for name, n in sorted(counts.items())
    )
    _log(
        quiet,
        label(
            "run_remaking", lang, n=len(plan.to_run), reasons=text, unchanged=len(plan.unchanged)
        ),
    )


def _normalize_entry(entry: dict, out_dir: Path) -> dict:
    """Entries of the first runner's manifests list no files: find them (page and figures)."""
    if not isinstance(entry, dict) or isinstance(entry.get("files"), dict):
        return entry
    entry = dict(entry)
    files = {}
    if entry.get("status") in ("ok", "unchanged") or entry.get("published"):
        for rel in [entry.get("path"), *(entry.get("figures") or [])]:
            if rel and (out_dir / str(rel)).is_file():
                files[str(rel)] = _file_hash(out_dir / str(rel))
    entry["files"] = files
    return entry


def _entry_is_stale(entry: dict, prints: _Fingerprints, summary_optional) -> bool:
    parameters = entry.get("parameters")
    if not isinstance(parameters, dict):
        return True
    job = _job_from_entry(entry)
    return prints.of(job, parameters) != entry.get("fingerprint")


def _job_from_entry(entry: dict) -> ReportJob:
    return ReportJob(
        str(entry.get("unit_code") or ""),
        str(entry.get("unit_name") or ""),
        str(entry.get("unit_short") or ""),
        str(entry.get("model") or ""),
        str(entry.get("lang") or "vi"),
        kind=str(entry.get("kind") or "pilot"),
    )


def _reusable(old, fp, job, formats, prev_root, out_dir) -> bool:
    if not old or old.get("fingerprint") != fp or old.get("outdated"):
        return False
    if old.get("status") not in ("ok", "unchanged"):
        return False
    files = old.get("files") or {}
    wanted = [job.html_path] + [job.document_path(f) for f in formats if f != "html"]
    if any(rel not in files for rel in wanted):
        return False
    return all(_source_of(rel, prev_root, out_dir) is not None for rel in files)


def _previous_root(out_dir: Path, previous: dict) -> Path:
    run_id = previous.get("run_id")
    if run_id:
        folder = out_dir / RUNS / str(run_id)
        if folder.is_dir():
            return folder
    return out_dir


def _source_of(rel: str, prev_root: Path, out_dir: Path) -> Path | None:
    for root in (prev_root, out_dir):
        path = root / rel
        if path.is_file():
            return path
    return None


def _job_parameters(
    job: ReportJob, dataset_path: str, settings: dict, summary_optional: Sequence[str] = ()
) -> dict[str, Any]:
    if job.kind == "summary":
        params: dict[str, Any] = {
            "dataset": dataset_path,
            "lang": job.lang,
            "classification": settings["classification"],
            "model": None,
        }
        for name in summary_optional:
            params[name] = settings[name]
        return params
    return _report_parameters(job, dataset_path, settings)


def _report_parameters(job: ReportJob, dataset_path: str, settings: dict) -> dict[str, Any]:
    """The pilot notebook's parameters for ``job`` (the dataset as an absolute path)."""
    return {
        "dataset": dataset_path,
        "unit": job.unit_code,
        "model": job.model,
        "lang": job.lang,
        "pre_years": settings["pre_years"],
        "post_years": settings["post_years"],
        "level": settings["level"],
        "classification": settings["classification"],
    }


def _summary_optional(path: Path | None) -> tuple[str, ...]:
    if path is None:
        return ()
    try:
        declared = set(notebook_parameter_names(path))
    except (OSError, ValueError):
        return ()
    return tuple(name for name in SUMMARY_OPTIONAL if name in declared)


def _notebooks(overrides) -> dict[str, Path | None]:
    paths: dict[str, Path | None] = {
        "pilot": notebook_path(REPORT_NOTEBOOK),
        "summary": summary_notebook(),
    }
    for kind, value in (overrides or {}).items():
        if kind not in paths:
            raise ParameterError(*both("run_bad_notebook_kind", kind=kind))
        paths[kind] = Path(value).resolve() if value is not None else None
    if paths["pilot"] is None or not paths["pilot"].is_file():
        raise ParameterError(*both("run_notebook_missing", path=str(paths["pilot"])))
    return paths


def _run_and_publish(
    *,
    plan,
    ds,
    dataset_path,
    settings,
    formats,
    only,
    force,
    quiet,
    started,
    clock,
    out_dir,
    run_id,
    run_dir,
    previous,
    prints,
    nb_paths,
    executor,
    own_pool,
    scheduler,
    workers,
    show_progress,
    guard,
    recovered,
) -> RunResult:
    lang = settings["lang"]
    notebook_text = {k: Path(p).read_text(encoding="utf-8") for k, p in nb_paths.items() if p}
    # Every report reads the run's own copy of the dataset: an analyst editing the dataset
    # during the run cannot give two reports of one run different data. The manifest and the
    # fingerprints keep the original path.
    snapshot = str(_snapshot_dataset(ds, run_dir))
    specs = [
        _spec(
            job,
            {**params, "dataset": snapshot} if "dataset" in params else params,
            notebook_text[job.kind],
            settings,
            formats,
            run_id,
            ds.content_hash,
        )
        for job, params, _fp in plan.to_run
    ]
    outcomes: dict[str, ReportOutcome] = {}
    progress = _Progress(len(specs), enabled=show_progress)

    def on_done(i: int, res: dict) -> None:
        job, _params, fp = plan.to_run[i]
        files = _store_outputs(run_dir, job, res) if res.get("status") == "ok" else {}
        outcome = _outcome(job, res, fp, files)
        outcomes[job.key] = outcome
        progress.advance(job, outcome.status)
        if outcome.status == "ok":
            _log(
                quiet or show_progress,
                label(
                    "run_report_done",
                    lang,
                    unit=_job_name(job),
                    model=job.model or "–",
                    seconds=f"{outcome.duration:.0f}",
                ),
            )
        else:
            progress.clear()
            logger.warning(
                label(
                    "run_report_failed",
                    lang,
                    unit=_job_name(job),
                    model=job.model or "–",
                    error=outcome.error,
                )
            )
            progress.draw()

    progress.draw()
    try:
        _execute(
            specs,
            executor=executor,
            own=own_pool,
            scheduler=scheduler,
            workers=workers,
            on_done=on_done,
            token=run_id,
            dataset_path=snapshot,
            dataset_hash=ds.content_hash,
        )
    finally:
        progress.finish()

    built = [outcomes[job.key] for job, _p, _f in plan.to_run]
    if specs and not any(o.status == "ok" for o in built):
        logger.warning(label("run_nothing_succeeded", lang))
        ordered = built + plan.unchanged_outcomes()
        return RunResult(
            out_dir,
            tuple(ordered),
            1,
            False,
            None,
            None,
            time.perf_counter() - clock,
            settings,
            None,
            (),
            recovered,
        )

    entries, ordered = _assemble(plan, outcomes, run_dir, out_dir)
    exit_code = 1 if any(o.status == "failed" for o in ordered) else 0
    changes = _changes(previous.get("reports", []), entries)
    manifest = _manifest(
        ds=ds,
        dataset_path=dataset_path,
        nb_paths=nb_paths,
        prints=prints,
        settings=settings,
        only=only,
        force=force,
        started=started,
        duration=time.perf_counter() - clock,
        exit_code=exit_code,
        entries=entries,
        run_id=run_id,
        previous=previous,
        changes=changes,
    )
    write_bytes_atomic(
        run_dir / MANIFEST, (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode()
    )
    page = render_index(manifest, ds, classification=settings["classification"])
    write_bytes_atomic(run_dir / INDEX, page.encode("utf-8"))

    remove = _published_files(previous) - _published_files(manifest)
    publish_run(out_dir, run_id, remove, guard)
    prune_runs(out_dir)
    n_ok = sum(o.status in ("ok", "unchanged") for o in ordered)
    _log(
        quiet,
        label(
            "run_summary",
            lang,
            ok=n_ok,
            total=len(ordered),
            failed=sum(o.status == "failed" for o in ordered),
            unchanged=sum(o.status == "unchanged" for o in ordered),
            out=out_dir,
        ),
    )
    return RunResult(
        out_dir,
        tuple(ordered),
        exit_code,
        True,
        out_dir / MANIFEST,
        out_dir / INDEX,
        time.perf_counter() - clock,
        settings,
        run_id,
        tuple(changes),
        recovered,
    )


def _job_name(job: ReportJob) -> str:
    return label("run_summary_title", job.lang) if job.kind == "summary" else job.unit_name


SNAPSHOT = ".dataset"  # hidden: part of a run's folder, never of the published site


def _snapshot_dataset(ds: Dataset, run_dir: Path) -> Path:
    """Copy the dataset's files into the run's folder and check they are the data loaded.

    The copy is checked against the content hash taken when the dataset was loaded, so a
    dataset edited between loading and copying is a clear error (run again), never a mix.
    """
    from ..data.dataset import content_hash

    source = Path(ds.path)
    dest = run_dir / SNAPSHOT
    dest.mkdir(parents=True, exist_ok=True)
    if source.is_file():
        target = dest / source.name
        shutil.copy2(source, target)
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
    else:
        for path in source.iterdir():
            if path.is_file():
                shutil.copy2(path, dest / path.name)
        target = dest
        digest = content_hash(dest)
    if digest != ds.content_hash:
        raise RunError(*both("run_dataset_changed", path=str(source)))
    return target


def _spec(job, parameters, notebook_text, settings, formats, token, dataset_hash) -> dict:
    document = None
    if any(f != "html" for f in formats):
        document = {
            "dataset_hash": dataset_hash,
            "kind": job.kind,
            "unit": job.unit_code,
            "model": job.model,
            "lang": job.lang,
            "pre_years": settings["pre_years"],
            "post_years": settings["post_years"],
            "level": settings["level"],
            "classification": settings["classification"],
        }
    evaluate = {
        "dataset_hash": dataset_hash,
        "kind": job.kind,
        "unit": job.unit_code,
        "model": job.model,
        "pre_years": settings["pre_years"],
        "post_years": settings["post_years"],
        "level": settings["level"],
    }
    return {
        "key": job.key,
        "notebook": notebook_text,
        "evaluate": evaluate,
        "parameters": parameters,
        "timeout": settings["timeout"],
        "lang": job.lang,
        "title": job.title,
        "figure_suffix": job.figure_suffix,
        "kernel_name": KERNEL_NAME,
        "formats": [f for f in formats if f != "html"],
        "document": document,
        "token": token,
    }


def _outcome(job: ReportJob, res: dict, fingerprint: str, files: Mapping[str, str]):
    figures = tuple(f"{job.figures_dir}/{name}" for name in sorted(res.get("figures") or ()))
    return ReportOutcome(
        job=job,
        status="ok" if res.get("status") == "ok" else "failed",
        error=res.get("error"),
        cell_index=res.get("cell_index"),
        ename=res.get("ename"),
        evalue=res.get("evalue"),
        started=res.get("started"),
        duration=float(res.get("duration") or 0.0),
        figures=figures if res.get("status") == "ok" else (),
        fingerprint=fingerprint,
        attempts=int(res.get("attempts") or 0),
        files=dict(files),
        results=None if res.get("results") is None else tuple(res["results"]),
    )


def _store_outputs(run_dir: Path, job: ReportJob, res: dict) -> dict[str, str]:
    """Write a report's outputs into the run's site; returns ``{relative path: sha256}``."""
    files: dict[str, str] = {}

    def put(rel: str, data: bytes) -> None:
        path = run_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = sha256_bytes(data)

    for name, data in sorted((res.get("figures") or {}).items()):
        if _FIGURE_NAME.match(name.removesuffix(job.figure_suffix)):
            put(f"{job.figures_dir}/{name}", data)
    for fmt, data in sorted((res.get("documents") or {}).items()):
        put(job.document_path(fmt), data)
    put(job.html_path, res["html"].encode("utf-8"))
    return files


def _assemble(plan: _Plan, outcomes, run_dir: Path, out_dir: Path):
    """The run's manifest entries, its site completed with the files it keeps."""
    prev_entries = plan.previous
    entries: list[dict] = []
    ordered: list[ReportOutcome] = []

    def link_files(files: Mapping[str, str]) -> dict[str, str]:
        kept = {}
        for rel, digest in files.items():
            source = _source_of(rel, plan.prev_root, out_dir)
            if source is not None:
                link_or_copy(source, run_dir / rel)
                kept[rel] = digest
        return kept

    for job, parameters, _fp in plan.to_run:
        outcome = outcomes[job.key]
        entry = outcome.to_dict()
        entry["parameters"] = {k: v for k, v in parameters.items() if k != "dataset"}
        entry["inputs"] = plan.inputs.get(job.key, {})
        entry["built"] = outcome.started if outcome.status == "ok" else None
        if outcome.status == "ok":
            entry["results"] = None if outcome.results is None else list(outcome.results)
        else:
            old = prev_entries.get(job.key) or {}
            files = link_files(old.get("files") or {})
            if job.html_path in files:
                built = old.get("built") or old.get("started") or "–"
                files[job.html_path] = _set_banner(
                    run_dir / job.html_path,
                    label("run_outdated_banner", job.lang, built=built, error=outcome.error or ""),
                )
                entry.update(
                    outdated=True,
                    outdated_reason="failed",
                    figures=[f for f in old.get("figures") or [] if f in files],
                    built=old.get("built") or old.get("started"),
                    results=old.get("results"),
                )
                outcome = dataclasses.replace(outcome, outdated=True, files=files)
            entry["files"] = files
        entries.append(entry)
        ordered.append(outcome)
    for job, parameters, fp, old in plan.unchanged:
        entry = dict(old)
        files = link_files(old.get("files") or {})
        entry.update(
            kind=job.kind,
            status="unchanged",
            fingerprint=fp,
            files=files,
            outdated=False,
            outdated_reason=None,
            error=None,
            ename=None,
            evalue=None,
            cell_index=None,
            parameters={k: v for k, v in parameters.items() if k != "dataset"},
            inputs=plan.inputs.get(job.key, {}),
            built=old.get("built") or old.get("started"),
        )
        entries.append(entry)
        ordered.append(
            ReportOutcome(
                job,
                "unchanged",
                started=old.get("started"),
                duration=float(old.get("duration") or 0.0),
                figures=tuple(old.get("figures") or ()),
                fingerprint=fp,
                files=files,
            )
        )
    for old in plan.kept:
        entry = dict(old)
        entry["files"] = files = link_files(old.get("files") or {})
        path = str(entry.get("path"))
        if path in files and entry.get("outdated_reason") != "failed":
            # Whoever opens the page itself sees that it is outdated, and when it no longer is.
            lang = str(entry.get("lang") or "vi")
            text = label("run_outdated_inputs_banner", lang, built=entry.get("built") or "–")
            marked = _OUTDATED_START in (run_dir / path).read_text(encoding="utf-8")
            if bool(entry.get("outdated")) != marked:
                files[path] = _set_banner(run_dir / path, text if entry.get("outdated") else None)
        entries.append(entry)
    entries.sort(
        key=lambda e: (
            e.get("kind", "pilot") != "summary",
            str(e.get("model")),
            str(e.get("unit_code")),
            str(e.get("lang")),
        )
    )
    return entries, ordered


def _set_banner(path: Path, message: str | None) -> str:
    """Put ``message`` in a banner atop a page (None: take the banner away); returns the
    page's new sha256. For the last good version of a report that is outdated."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(
        re.escape(_OUTDATED_START) + r".*?" + re.escape(_OUTDATED_END), "", text, flags=re.S
    )
    if message is not None:
        banner = (
            f'{_OUTDATED_START}<div class="kn-outdated" role="alert" style="border:2px solid '
            f"#b3261e;background:#fff4e5;color:#410e0b;padding:0.6em 1em;margin:1em;"
            f'border-radius:4px;">{html_lib.escape(message)}</div>{_OUTDATED_END}'
        )
        match = re.search(r"<body[^>]*>", text)
        text = text[: match.end()] + banner + text[match.end() :] if match else banner + text
    data = text.encode("utf-8")
    path.unlink()  # a hard link to the previous run's page: write a new file, not into it
    path.write_bytes(data)
    return sha256_bytes(data)


def _published_files(manifest: dict) -> set[str]:
    files: set[str] = set()
    for entry in manifest.get("reports", []):
        if isinstance(entry.get("files"), dict):
            files |= set(entry["files"])
        else:  # manifests of the first runner: the page and its figures
            if entry.get("path"):
                files.add(str(entry["path"]))
            files |= {str(f) for f in entry.get("figures") or []}
    return files


# ---------------------------------------------------------------------------------------------
# Key results and what changed
# ---------------------------------------------------------------------------------------------


def _changes(previous_entries: Sequence[dict], entries: Sequence[dict]) -> list[dict]:
    """Verdicts that flipped and estimates that moved since the previous run."""
    before = {_entry_key(e): e for e in previous_entries}
    changes = []
    for entry in entries:
        old = before.get(_entry_key(entry))
        if not old or entry.get("lang") != "vi" and _has_vi(entries, entry):
            continue  # one line per pilot: the Vietnamese report's, when there is one
        new_rows = {_result_key(r): r for r in entry.get("results") or []}
        old_rows = {_result_key(r): r for r in old.get("results") or []}
        for key in sorted(set(new_rows) & set(old_rows)):
            a, b = old_rows[key], new_rows[key]
            flipped = a.get("verdict") != b.get("verdict")
            moved = _moved(a.get("did"), b.get("did"))
            if flipped or moved:
                changes.append(
                    {
                        "kind": entry.get("kind", "pilot"),
                        "unit_code": entry.get("unit_code"),
                        "unit_name": entry.get("unit_name"),
                        "model": b.get("model") or entry.get("model"),
                        "indicator": b.get("indicator"),
                        "verdict_before": a.get("verdict"),
                        "verdict_after": b.get("verdict"),
                        "did_before": a.get("did"),
                        "did_after": b.get("did"),
                        "change": "verdict" if flipped else "estimate",
                    }
                )
    return changes


def _has_vi(entries, entry) -> bool:
    return any(
        e.get("lang") == "vi"
        and e.get("kind") == entry.get("kind")
        and e.get("unit_code") == entry.get("unit_code")
        and e.get("model") == entry.get("model")
        for e in entries
    )


def _result_key(row: dict) -> tuple[str, str]:
    return (str(row.get("model") or ""), str(row.get("indicator")))


def _moved(a, b) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(float(a) - float(b)) > 1e-9 * max(1.0, abs(float(a)))


# ---------------------------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------------------------


def _read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _entry_key(entry: dict) -> str:
    if entry.get("kind") == "summary":
        return f"summary/{entry.get('lang')}"
    return f"{entry.get('model')}/{entry.get('unit_code')}/{entry.get('lang')}"


def _manifest(
    *,
    ds,
    dataset_path,
    nb_paths,
    prints,
    settings,
    only,
    force,
    started,
    duration,
    exit_code,
    entries,
    run_id,
    previous,
    changes,
) -> dict:
    from .. import __version__

    counts = {
        "ok": sum(e.get("status") == "ok" for e in entries),
        "unchanged": sum(e.get("status") == "unchanged" for e in entries),
        "failed": sum(e.get("status") == "failed" for e in entries),
        "outdated": sum(bool(e.get("outdated")) for e in entries),
    }
    return {
        "schema": _MANIFEST_SCHEMA,
        "run_id": run_id,
        "previous_run": previous.get("run_id"),
        "kiemnhiem_version": __version__,
        "python": sys.version.split()[0],
        "versions": prints.versions,
        "started": started,
        "duration": round(duration, 3),
        "status": "failed" if counts["failed"] else "ok",
        "exit_code": exit_code,
        "counts": counts,
        "dataset": {
            "path": dataset_path,
            "name": ds.name,
            "content_hash": ds.content_hash,
            "synthetic": bool(ds.synthetic),
        },
        "notebooks": {
            kind: {"name": Path(path).name, "sha256": prints.notebook_hash.get(kind, "")}
            for kind, path in nb_paths.items()
            if path is not None
        },
        "code_sha256": prints.code_hash,
        "parameters": {**settings, "only": list(only) if only else None, "force": bool(force)},
        "changes": changes,
        "reports": entries,
    }


# ---------------------------------------------------------------------------------------------
# Index page
# ---------------------------------------------------------------------------------------------

# The index page: every report present, bilingual, sortable in the browser by a few lines of
# inline script (no external request), and what changed since the previous run. Autoescaped.

_STATUS_RANK = {"failed": "0", "outdated": "1", "ok": "2", "unchanged": "3"}


def render_index(
    manifest: dict, ds: Dataset | None = None, *, classification: str | None = None
) -> str:
    """The site's ``index.html`` from a manifest (jinja2, autoescaped).

    Parameters
    ----------
    manifest : dict
        As written to ``manifest.json``.
    ds : Dataset, optional
        For the models' and indicators' names (codes are shown without it).
    classification : str, optional
        A line such as "Tài liệu nội bộ", shown atop the page.
    """
    from jinja2 import Environment, select_autoescape

    env = Environment(
        autoescape=select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
    )

    def pair(key: str, **fields: Any) -> dict[str, str]:
        vi, en = both(key, **fields)
        return {"vi": vi, "en": en}

    def joined(key: str, **fields: Any) -> str:
        return " / ".join(pair(key, **fields).values())

    models = ds.models if ds is not None else None
    indicators = ds.indicators if ds is not None else None
    rows = []
    reports = manifest.get("reports", [])
    for entry in reports:
        status = str(entry.get("status"))
        status = status if status in ("ok", "failed", "unchanged") else "failed"
        outdated = bool(entry.get("outdated"))
        shown = "outdated" if outdated and status != "failed" else status
        kind = entry.get("kind", "pilot")
        lang = str(entry.get("lang"))
        model = str(entry.get("model") or "")
        links = []
        files = entry.get("files")
        path = str(entry.get("path", ""))
        if isinstance(files, dict):
            if path in files:
                links.append({"href": path, "label": "HTML"})
            for fmt in ("docx", "pdf"):
                doc = re.sub(r"\.html$", f".{fmt}", path)
                if doc in files:
                    links.append({"href": doc, "label": fmt.upper()})
        elif path and (status in ("ok", "unchanged") or entry.get("published")):
            links.append({"href": path, "label": "HTML"})
        note = None
        if outdated and entry.get("outdated_reason") == "failed":
            note = joined("index_outdated_failed", built=entry.get("built") or "–")
        elif outdated:
            note = joined("index_outdated_inputs", built=entry.get("built") or "–")
        if kind == "summary":
            unit = joined("run_summary_title")
            model_vi, model_en = "–", "–"
        else:
            unit = f"{entry.get('unit_name')} ({entry.get('unit_code')})"
            model_vi, model_en = _model_name(models, model, "vi"), _model_name(models, model, "en")
        rows.append(
            {
                "unit": unit,
                "sort_unit": "" if kind == "summary" else str(entry.get("unit_code")),
                "sort_model": f"{model}/{entry.get('unit_code')}",
                "sort_status": _STATUS_RANK.get(shown, "9"),
                "model_vi": model_vi,
                "model_en": model_en,
                "lang_label": joined(f"index_lang_{lang}") if lang in ("vi", "en") else lang,
                "status": shown,
                "status_label": joined(f"index_status_{shown}"),
                "note": note,
                "error": entry.get("error") if status == "failed" else None,
                "links": links,
            }
        )
    changes = []
    for c in manifest.get("changes") or []:
        code = str(c.get("indicator"))
        changes.append(
            {
                "unit": (
                    joined("run_summary_title")
                    if c.get("kind") == "summary"
                    else f"{c.get('unit_name')} ({c.get('unit_code')})"
                ),
                "model": c.get("model"),
                "indicator_vi": _indicator_name(indicators, code, "vi"),
                "indicator_en": _indicator_name(indicators, code, "en"),
                "verdict_before": _verdict_name(c.get("verdict_before")),
                "verdict_after": _verdict_name(c.get("verdict_after")),
                "flipped": c.get("change") == "verdict",
                "did_before": _number(c.get("did_before")),
                "did_after": _number(c.get("did_after")),
            }
        )
    n_ok = sum(e.get("status") in ("ok", "unchanged") for e in reports)
    n_failed = sum(e.get("status") == "failed" for e in reports)
    dataset = manifest.get("dataset", {})
    synthetic = bool(dataset.get("synthetic")) if ds is None else bool(ds.synthetic)
    previous = manifest.get("previous_run")
    context = {
        "run_id": manifest.get("run_id") or "",
        "title": pair("index_title"),
        "head": {
            key: pair(f"index_{key}")
            for key in (
                "dataset",
                "generated",
                "version",
                "unit",
                "model",
                "lang",
                "status",
                "report",
                "manifest",
                "indicator",
                "verdict",
                "estimate",
            )
        },
        "counts": pair("index_counts", ok=n_ok, failed=n_failed),
        "sort_hint": pair("index_sort_hint"),
        "changes_title": pair("index_changes_title", run=previous or "–"),
        "no_changes": pair("index_no_changes" if previous else "index_first_run"),
        "changes": changes,
        "synthetic": synthetic,
        "synthetic_title": pair("report_synthetic_title"),
        "synthetic_text": pair("report_synthetic_text", name=dataset.get("name", "")),
        "classification": classification,
        "dataset_name": dataset.get("name", ""),
        "generated": manifest.get("started", ""),
        "version": manifest.get("kiemnhiem_version", ""),
        "rows": rows,
    }
    template = (templates_dir() / "site" / "index.html.j2").read_text(encoding="utf-8")
    return env.from_string(template).render(**context)


def _model_name(models, code: str, lang: str) -> str:
    if models is not None and len(models) and code in set(models["code"]):
        text = models.loc[models["code"] == code, f"label_{lang}"].iloc[0]
        if isinstance(text, str) and text:
            return text
    return code


def _indicator_name(indicators, code: str, lang: str) -> str:
    if indicators is not None and len(indicators) and code in set(indicators["code"]):
        text = indicators.loc[indicators["code"] == code, f"label_{lang}"].iloc[0]
        if isinstance(text, str) and text:
            return text
    return code


def _verdict_name(code) -> str:
    key = f"eval_verdict_{code}"
    try:
        return " / ".join(both(key))
    except KeyError:
        return str(code) if code else "–"


def _number(value) -> str:
    if value is None:
        return "–"
    return f"{float(value):+.4g}".replace("-", "−")


# ---------------------------------------------------------------------------------------------
# Execution: where the reports run
# ---------------------------------------------------------------------------------------------


def _execute(
    specs: list[dict],
    *,
    executor: cf.Executor | None,
    own: bool,
    scheduler: str | None,
    workers: int | None,
    on_done: Callable[[int, dict], None],
    token: str,
    dataset_path: str,
    dataset_hash: str,
) -> None:
    """Run every spec; ``on_done(i, result)`` in this thread as each finishes."""
    if not specs:
        return
    if scheduler is not None:
        _execute_dask(specs, scheduler, on_done, token, dataset_path, dataset_hash)
        return
    if executor is None:  # pragma: no cover - run_reports starts the pool itself
        executor, own = _start_pool(min(workers or os.cpu_count() or 1, len(specs))), True
    futures: dict[cf.Future, int] = {}
    try:
        for i, spec in enumerate(specs):
            futures[executor.submit(execute_report, spec)] = i
        for future in cf.as_completed(futures):
            i = futures[future]
            try:
                res = future.result()
            except Exception as exc:  # the worker itself died (BrokenProcessPool, ...)
                res = _failure(
                    f"{type(exc).__name__}: {exc}", ename=type(exc).__name__, evalue=str(exc)
                )
            on_done(i, res)
    except BaseException:
        for future in futures:
            future.cancel()
        if own:
            _stop_pool(executor)
        else:  # threads of this process cannot be stopped, their kernels can
            _CANCELLED.add(token)
            _kill_kernels(token)
        raise
    if own:
        executor.shutdown(wait=True)


def _start_pool(n: int) -> cf.ProcessPoolExecutor:
    """A pool of ``n`` processes, started now (they warm up while the parent checks)."""
    pool = cf.ProcessPoolExecutor(
        max_workers=n,
        mp_context=_mp_context(),
        initializer=_worker_init,
        initargs=(dict(os.environ),),
    )
    # Starting a process waits for the fork server to have imported papermill and nbconvert:
    # a thread waits for it, while the parent goes on checking.
    threading.Thread(
        target=lambda: [pool.submit(int) for _ in range(n)], name="kiemnhiem-pool", daemon=True
    ).start()
    return pool


def _mp_context():
    """Workers forked from a server that has already imported papermill and nbconvert (warm
    and cheap); spawned where there is no fork server (Windows)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(
            ["kiemnhiem.run.runner", "papermill", "nbconvert", "nbclient", "jupyter_client"]
        )
        return ctx
    return multiprocessing.get_context("spawn")


def _stop_pool(executor: cf.ProcessPoolExecutor) -> None:
    """Stop a pool now: each worker kills its kernel and exits; whatever is left is killed."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    kernels = _descendants([p.pid for p in processes])
    for proc in processes:
        with contextlib.suppress(OSError):
            os.kill(proc.pid, getattr(signal, "SIGTERM", signal.SIGINT))
    executor.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + 10
    for proc in processes:
        proc.join(max(0.1, deadline - time.monotonic()))
    for pid in kernels:
        _kill_tree(pid)
    for proc in processes:
        if proc.is_alive():
            proc.kill()
            proc.join(2)


def _descendants(pids: Iterable[int]) -> list[int]:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        return []
    out = []
    for pid in pids:
        try:
            out += [c.pid for c in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            pass
    return out


def _kill_tree(pid: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGKILL)
        else:  # pragma: no cover
            os.kill(pid, signal.SIGTERM)
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))


# --- Dask ------------------------------------------------------------------------------------


def _execute_dask(specs, address, on_done, token, dataset_path, dataset_hash):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RunError(*both("run_dask_missing")) from None
    try:
        client = Client(address, timeout=30, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise RunError(*both("run_scheduler_unreachable", address=address, error=exc)) from None
    futures: list = []
    try:
        expected = _code_hash()
        hashes = client.run(_worker_code_hash)
        if not hashes:
            raise RunError(*both("run_scheduler_no_workers", address=address))
        bad = {w: h for w, h in hashes.items() if h != expected}
        if bad:
            worker, theirs = sorted(bad.items())[0]
            raise RunError(
                *both(
                    "run_source_mismatch",
                    worker=worker,
                    theirs=theirs[:12],
                    ours=expected[:12],
                    count=len(bad),
                )
            )
        # The dataset travels once to every worker; notebooks read a local copy of it.
        [payload] = client.scatter(
            [_dataset_payload(dataset_path, dataset_hash)], broadcast=True, hash=False
        )
        index = {}
        for i, spec in enumerate(specs):
            future = client.submit(
                _dask_execute, spec, payload, expected, key=f"kiemnhiem-{token}-{i}", pure=False
            )
            futures.append(future)
            index[future.key] = i
        for future in as_completed(futures, loop=client.loop):
            i = index[future.key]
            try:
                res = future.result()
            except Exception as exc:
                res = _failure(
                    f"{type(exc).__name__}: {exc}", ename=type(exc).__name__, evalue=str(exc)
                )
            on_done(i, res)
    except BaseException:
        if futures:
            with contextlib.suppress(Exception):
                client.cancel(futures, force=True)
            with contextlib.suppress(Exception):
                client.run(_cancel_on_worker, token)
        raise
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=10)


def _dataset_payload(path: str, content_hash: str) -> dict:
    source = Path(path)
    if source.is_dir():
        files = {
            p.name: p.read_bytes()
            for p in sorted(source.iterdir())
            if p.is_file() and not p.name.startswith(".")
        }
        return {"kind": "folder", "name": source.name, "hash": content_hash, "files": files}
    return {
        "kind": "file",
        "name": source.name,
        "hash": content_hash or _file_hash(source),
        "files": {source.name: source.read_bytes()},
    }


def _materialize(payload: dict) -> str:
    """A local copy of a scattered dataset (made once per worker machine); returns its path."""
    digest = hashlib.sha256((payload["hash"] + payload["name"]).encode("utf-8")).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / "kiemnhiem-datasets" / digest
    folder = root / payload["name"] if payload["kind"] == "folder" else root
    target = folder if payload["kind"] == "folder" else root / payload["name"]
    if not (root / ".complete").exists():
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_ensure(root.parent)))
        inner = tmp / payload["name"] if payload["kind"] == "folder" else tmp
        inner.mkdir(parents=True, exist_ok=True)
        for name, data in payload["files"].items():
            (inner / Path(name).name).write_bytes(data)
        (tmp / ".complete").write_bytes(b"")
        try:
            os.replace(tmp, root)
        except OSError:  # another task got there first
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _worker_code_hash() -> str:
    return _code_hash()


def _dask_execute(spec: dict, payload: dict, expected_hash: str) -> dict:
    """A report on a Dask worker: same kiemnhiem, local dataset copy, outputs returned."""
    theirs = _code_hash()
    if theirs != expected_hash:
        vi, en = both(
            "run_source_mismatch",
            worker=_hostname(),
            theirs=theirs[:12],
            ours=expected_hash[:12],
            count=1,
        )
        return _failure(en if spec["lang"] == "en" else vi, ename="RunError", evalue=en)
    spec = dict(spec)
    spec["parameters"] = {**spec["parameters"], "dataset": _materialize(payload)}
    return execute_report(spec)


def _hostname() -> str:
    import socket

    return socket.gethostname()


def _cancel_on_worker(token: str) -> None:
    _CANCELLED.add(token)
    _kill_kernels(token)


# ---------------------------------------------------------------------------------------------
# One report, in a worker
# ---------------------------------------------------------------------------------------------

_LOCAL = threading.local()
_KERNELS: dict[Any, str] = {}  # running kernel managers -> the run's token
_KERNELS_LOCK = threading.Lock()
_CANCELLED: set[str] = set()
_WORKDIRS: set[str] = set()
_DATASETS: dict[tuple[str, str], Any] = {}
_DATASETS_LOCK = threading.Lock()


class _Deadline:
    """nbclient ``timeout_func``: each cell may use what is left of the report's time.

    The clock starts with the first cell, so a slow kernel start does not count (it has its
    own ``start_timeout``).
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end: float | None = None

    def __call__(self, cell=None) -> int:
        now = time.monotonic()
        if self.end is None:
            self.end = now + self.seconds
        return max(1, math.ceil(self.end - now))


def _worker_init(environ: Mapping[str, str] | None = None) -> None:
    """Pool workers: the parent decides about SIGINT; SIGTERM kills this worker's kernel.

    ``environ`` is the parent's environment when it made the pool (a fork server started
    earlier in the same process would otherwise hand its own, older one to the kernels).
    """
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, _worker_terminate)


def _worker_terminate(signum, frame) -> None:
    _kill_kernels(None)
    for folder in list(_WORKDIRS):
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(128 + signum)


def _kernel_manager_class(token: str):
    """An ``AsyncKernelManager`` that records its kernel, so that it can be killed at once."""
    from jupyter_client.manager import AsyncKernelManager

    class _TrackedKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw["env"] = _kernel_env(kw.get("env"))
            await super().start_kernel(**kw)
            with _KERNELS_LOCK:
                _KERNELS[self] = token

    return _TrackedKernelManager


def _kill_kernels(token: str | None) -> None:
    with _KERNELS_LOCK:
        chosen = [km for km, t in _KERNELS.items() if token is None or t == token]
    for km in chosen:
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is None or process.poll() is not None:
            continue
        _kill_tree(process.pid)
        with contextlib.suppress(Exception):
            process.wait(timeout=2)


def _forget_kernels() -> None:
    with _KERNELS_LOCK:
        for km in list(_KERNELS):
            process = getattr(getattr(km, "provisioner", None), "process", None)
            if process is None or process.poll() is not None:
                del _KERNELS[km]


def execute_report(spec: dict) -> dict:
    """Execute one report and export it; never raises (but for SIGINT/SIGTERM).

    Runs in a worker (picklable in, picklable out). ``spec`` holds ``notebook`` (its JSON
    text, or ``notebook_path``), ``parameters``, ``timeout``, ``lang``, ``title``,
    ``figure_suffix``, ``kernel_name`` and optionally ``formats`` and ``document`` (Word and
    PDF to build) and ``token`` (the run's id).

    A kernel that dies is replaced once (one retry); a notebook that raises is not retried.

    Returns
    -------
    dict
        ``status`` ("ok" or "failed"), ``error``, ``cell_index``, ``ename``, ``evalue``,
        ``started``, ``duration``, ``attempts``; when ok, ``html`` (text), ``figures``
        (``{file name: PNG bytes}``) and ``documents`` (``{"docx"|"pdf": bytes}``).
    """
    clock = time.perf_counter()
    result: dict[str, Any] = {"started": _now(), "figures": {}, "documents": {}, "attempts": 0}
    lang = spec.get("lang", "vi")
    token = spec.get("token") or ""
    try:
        import nbformat
        from nbclient.exceptions import CellTimeoutError, DeadKernelError
        from papermill.exceptions import PapermillExecutionError

        if "notebook" in spec:
            source = nbformat.reads(spec["notebook"], as_version=4)
        else:
            source = nbformat.read(spec["notebook_path"], as_version=4)
        nb = None
        for attempt in (1, 2):
            result["attempts"] = attempt
            try:
                nb = _run_notebook(copy.deepcopy(source), spec, token)
                break
            except PapermillExecutionError as exc:
                vi_en = both(
                    "run_cell_failed", cell=exc.cell_index, ename=exc.ename, evalue=exc.evalue
                )
                result.update(
                    status="failed",
                    error=vi_en[1 if lang == "en" else 0],
                    cell_index=exc.cell_index,
                    ename=exc.ename,
                    evalue=exc.evalue,
                )
                return result
            except CellTimeoutError as exc:
                text = label("run_timeout", lang, seconds=f"{spec['timeout']:.0f}")
                result.update(
                    status="failed", error=text, ename=type(exc).__name__, evalue=str(exc)
                )
                return result
            except (DeadKernelError, RuntimeError) as exc:
                died = isinstance(exc, DeadKernelError) or "kernel died" in str(exc).lower()
                if not died:
                    raise
                if attempt == 1 and token not in _CANCELLED:
                    logger.warning(label("run_kernel_retry", lang, key=spec.get("key", "")))
                    continue
                result.update(
                    status="failed",
                    error=label("run_kernel_died", lang, attempts=attempt),
                    ename=type(exc).__name__,
                    evalue=str(exc),
                )
                return result
        result["figures"] = _extract_figures(nb, spec["figure_suffix"])
        _strip_stderr(nb)
        result["html"] = _export_html(nb, spec["title"], lang)
        if spec.get("document") and spec.get("formats"):
            result["documents"] = _build_documents(spec)
        if spec.get("evaluate"):
            result["results"] = report_results(spec)
        result["status"] = "ok"
        return result
    except KeyboardInterrupt:
        raise
    except KiemNhiemError as exc:
        message = exc.message_en if lang == "en" else exc.message_vi
        result.update(
            status="failed", error=message, ename=type(exc).__name__, evalue=exc.message_en
        )
        return result
    except Exception as exc:  # the report failed; the run goes on
        result.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            ename=type(exc).__name__,
            evalue=str(exc),
        )
        return result
    finally:
        result["duration"] = time.perf_counter() - clock
        if result.get("status") != "ok":
            result.pop("html", None)
            result["figures"], result["documents"] = {}, {}


def _run_notebook(nb, spec: dict, token: str):
    import papermill as pm

    workdir = tempfile.mkdtemp(prefix="kiemnhiem-report-")
    _WORKDIRS.add(workdir)
    try:
        return pm.execute_notebook(
            nb,
            None,
            parameters=spec["parameters"],
            kernel_name=spec["kernel_name"],
            progress_bar=False,
            request_save_on_cell_execute=False,
            start_timeout=KERNEL_START_TIMEOUT,
            # The kernel starts in the work folder without changing this process's folder
            # (papermill's cwd= would chdir, which threads share).
            resources={"metadata": {"path": workdir}},
            timeout_func=_Deadline(spec["timeout"]),
            shutdown_kernel="immediate",
            kernel_manager_class=_kernel_manager_class(token),
            # The kernel's own log (TCP warning, shutdown noise) is not the report's:
            # cell errors reach us through the notebook anyway.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    finally:
        _forget_kernels()
        _WORKDIRS.discard(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def report_results(spec: dict) -> list[dict] | None:
    """A report's key results for the manifest and the index's "what changed": verdict and
    ``did`` per indicator (per model and indicator for the summary), or None if they cannot
    be computed.

    Computed in the worker, from the same dataset and parameters as the notebook (whose
    kernel cannot easily hand them back): per pilot with ``evaluate_pilot``, so that the cost
    grows with the reports made, not with the dataset's size (``evaluate_all``'s model-level
    tests are the summary's own).
    """
    from ..stats.evaluation import evaluate_all, evaluate_pilot

    ev = spec["evaluate"]
    try:
        ds = _worker_dataset(spec["parameters"]["dataset"], ev.get("dataset_hash", ""))
        windows = {
            "pre_years": ev["pre_years"],
            "post_years": ev["post_years"],
            "level": ev["level"],
        }
        if ev["kind"] == "summary":
            frame = evaluate_all(ds, **windows)
            frame = frame[frame["scope"] == "model"]
        else:
            frame = evaluate_pilot(ds, ev["unit"], ev["model"], **windows)
    except Exception as exc:  # the report shows its results; the index does without them
        logger.warning(label("run_results_failed", spec.get("lang", "vi"), error=exc))
        return None
    out = []
    for rec in frame.itertuples(index=False):
        did = getattr(rec, "did", None)
        item = {
            "indicator": str(rec.indicator),
            "verdict": str(rec.verdict),
            "did": None if did is None or not math.isfinite(float(did)) else float(did),
        }
        if ev["kind"] == "summary":
            item["model"] = str(rec.model)
        out.append(item)
    return out


def _build_documents(spec: dict) -> dict[str, bytes]:
    """Word (and PDF through LibreOffice) from the same results, in this worker."""
    from ..report.documents import build_pilot_docx, build_summary_docx, convert_to_pdf, write_docx

    doc = spec["document"]
    ds = _worker_dataset(spec["parameters"]["dataset"], doc.get("dataset_hash", ""))
    common = {
        "pre_years": doc["pre_years"],
        "post_years": doc["post_years"],
        "level": doc["level"],
        "classification": doc["classification"],
    }
    if doc["kind"] == "summary":
        document = build_summary_docx(ds, lang=doc["lang"], **common)
    else:
        document = build_pilot_docx(ds, doc["unit"], doc["model"], lang=doc["lang"], **common)
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="kiemnhiem-doc-") as tmp:
        docx = write_docx(document, Path(tmp) / "report.docx")
        if "docx" in spec["formats"]:
            out["docx"] = docx.read_bytes()
        if "pdf" in spec["formats"]:
            out["pdf"] = convert_to_pdf(docx, Path(tmp) / "report.pdf").read_bytes()
    return out


def _worker_dataset(path: str, content_hash: str):
    """The dataset a worker's documents are built from, loaded once per worker."""
    from ..data.dataset import load_dataset

    key = (path, content_hash)
    with _DATASETS_LOCK:
        if key not in _DATASETS:
            _DATASETS.clear()
            _DATASETS[key] = load_dataset(path)
        return _DATASETS[key]


def _failure(error: str, **fields: Any) -> dict:
    return {
        "status": "failed",
        "error": error,
        "started": _now(),
        "duration": 0.0,
        "attempts": 0,
        "figures": {},
        "documents": {},
        **fields,
    }


def _kernel_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a report's kernel starts with: ``base`` (this process's environment
    by default) with the checkout first on ``PYTHONPATH`` when the package is not installed.

    In a checkout that is not installed, a kernel started in the job's work folder would not
    find this very kiemnhiem. Only the kernel's environment changes, never this process's
    (threads and later subprocesses would inherit it).
    """
    env = dict(os.environ if base is None else base)
    parent = str(package_dir().parent)
    site_dirs = {str(Path(p).resolve()) for p in site.getsitepackages()}
    if hasattr(site, "getusersitepackages"):
        site_dirs.add(str(Path(site.getusersitepackages()).resolve()))
    if parent in site_dirs:
        return env
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if parent not in parts:
        env["PYTHONPATH"] = os.pathsep.join([parent, *parts])
    return env


def _exporter(lang: str):
    """One HTMLExporter per worker (per thread, so that thread executors are safe too)."""
    exporter = getattr(_LOCAL, "exporter", None)
    if exporter is None:
        from nbconvert import HTMLExporter

        ours, theirs = _template_dirs()
        exporter = HTMLExporter(
            template_name="offline",
            extra_template_basedirs=[ours, *theirs],
            extra_template_paths=theirs,
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            embed_images=True,
        )
        _LOCAL.exporter = exporter
    exporter.language_code = lang
    return exporter


def _template_dirs() -> tuple[str, list[str]]:
    """Our template folder, and nbconvert's own template folders to add to its search.

    nbconvert looks for ``lab`` and ``base`` under the Jupyter data paths of ``sys.prefix``; a
    virtual environment that borrows its packages from another (system site packages, a
    ``.pth`` line) has none there, so the folder installed beside nbconvert is added, both as
    a base folder (for ``conf.json``) and as a search path (for ``extends 'lab/...'``).
    """
    import nbconvert

    theirs: list[str] = []
    package = Path(nbconvert.__file__).resolve()
    # <prefix>/lib/pythonX.Y/site-packages/nbconvert (POSIX), <prefix>/Lib/site-packages/...
    for prefix in (package.parents[4], package.parents[3]):
        candidate = prefix / "share" / "jupyter" / "nbconvert" / "templates"
        if (candidate / "lab").is_dir() and str(candidate) not in theirs:
            theirs.append(str(candidate))
    return str(templates_dir()), theirs


def _export_html(nb, title: str, lang: str) -> str:
    resources = {"metadata": {"name": title}}
    body, _resources = _exporter(lang).from_notebook_node(nb, resources=resources)
    return body


def _extract_figures(nb, suffix: str) -> dict[str, bytes]:
    """The PNG outputs that the notebook named (``kiemnhiem_figure`` metadata)."""
    figures: dict[str, bytes] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            name = (output.get("metadata") or {}).get(_FIGURE_KEY)
            data = (output.get("data") or {}).get("image/png")
            if not name or not data or not _FIGURE_NAME.match(str(name)):
                continue
            figures[f"{name}{suffix}"] = base64.b64decode(data)
    return figures


def _strip_stderr(nb) -> None:
    """Warnings printed by libraries are not part of a report."""
    for cell in nb.cells:
        if "outputs" in cell:
            cell["outputs"] = [
                o
                for o in cell["outputs"]
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]


# ---------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------


class _Progress:
    """A one-line counter on a terminal: ``[ 5/17] ✓4 ✗1  Huyện Phù Yên – tuyengiao_ttct``."""

    def __init__(self, total: int, enabled: bool, stream=None):
        self.total = total
        self.enabled = enabled and total > 0
        self.stream = stream if stream is not None else sys.stderr
        self.done = self.ok = self.failed = 0
        self.last = ""

    def advance(self, job: ReportJob, status: str) -> None:
        self.done += 1
        self.ok += status == "ok"
        self.failed += status == "failed"
        self.last = f"{_job_name(job)} – {job.model}" if job.model else _job_name(job)
        self.draw()

    def draw(self) -> None:
        if not self.enabled:
            return
        width = len(str(self.total))
        text = f"[{self.done:>{width}}/{self.total}] ✓{self.ok} ✗{self.failed}  {self.last}"
        self.stream.write("\r\x1b[K" + text[:200])
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def _prepare_out(out: Path) -> Path:
    out = out.expanduser().resolve()
    protected = [package_dir(), data_dir().resolve(), notebooks_dir().resolve()]
    for folder in protected:
        if out == folder or folder in out.parents:
            raise RunError(*both("run_out_in_source", path=str(out)))
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".probe-{os.getpid()}-{os.urandom(4).hex()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunError(*both("run_out_unwritable", path=str(out), error=str(exc))) from exc
    return out


def _check_formats(formats: Sequence[str] | str) -> tuple[str, ...]:
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


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def _log(quiet: bool, message: str) -> None:
    logger.log(logging.DEBUG if quiet else logging.INFO, message)
