"""The main job: one report per pilot, executed by papermill, exported to offline HTML.

``plan_reports`` lists the jobs (one per pilot, or those chosen with ``--only UNIT:MODEL``);
``run_reports`` executes ``notebooks/pilot_report.ipynb`` once per job through papermill's
Python API (a fresh kernel per report) on any :mod:`concurrent.futures` executor, exports HTML
in the worker, and publishes under ``out``::

    out/index.html                                  every report present, bilingual
    out/manifest.json                               version, dataset hash, parameters, outcomes
    out/<model>/<code>-<slug>.html                  (.en.html in English)
    out/<model>/<code>-<slug>/<figure>.png          (<figure>.en.png in English)

Each job works in its own folder under ``out/.staging-*``; files are moved into place with
``os.replace`` only when the job is done, so a reader never sees a half-written file, and
``index.html`` is written last. A failing report does not stop the others; it keeps the last
good version of its page and makes the exit code 1.

Also the notebook's own helpers for its parameters: :func:`pad_unit_code` (papermill's ``-p``
turns "094" into 94) and :func:`resolve_report_unit`. This module imports papermill and
nbconvert only inside the functions that run reports, so the notebook's kernel stays light.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import hashlib
import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import site
import sys
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .exceptions import ParameterError, RunError, UnitError
from .labels import both, check_lang, label
from .resources import data_dir, notebook_path, notebooks_dir, templates_dir
from .units import fold

if TYPE_CHECKING:
    from .dataset import Dataset

logger = logging.getLogger("kiemnhiem")

#: Output formats ``run_reports`` can write (documents come in a later issue).
FORMATS: tuple[str, ...] = ("html",)
#: The notebook each report executes.
REPORT_NOTEBOOK = "pilot_report"
#: Seconds one report may take, kernel start excluded.
DEFAULT_TIMEOUT = 600.0
#: Seconds to wait for a kernel to start.
KERNEL_START_TIMEOUT = 120
KERNEL_NAME = "python3"
Status = Literal["ok", "failed", "unchanged"]

_MANIFEST = "manifest.json"
_INDEX = "index.html"
_FIGURE_KEY = "kiemnhiem_figure"
_FIGURE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,80}$")


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

    Names are matched within the dataset's province (see :class:`kiemnhiem.units.UnitMatcher`).

    Raises
    ------
    ParameterError
        When the unit cannot be resolved or is not in the dataset.
    """
    from .units import UnitMatcher

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
    """One report to make: a pilot (unit x model) in one language."""

    unit_code: str
    unit_name: str
    unit_short: str
    model: str
    lang: str

    @property
    def slug(self) -> str:
        """ASCII fold of the unit's short name: ``phu-yen``."""
        return slugify(self.unit_short or self.unit_name)

    @property
    def stem(self) -> str:
        return f"{self.unit_code}-{self.slug}"

    @property
    def html_path(self) -> str:
        """Path under ``out``, with ``/``: ``tuyengiao_ttct/122-phu-yen.html``."""
        suffix = ".en.html" if self.lang == "en" else ".html"
        return f"{self.model}/{self.stem}{suffix}"

    @property
    def figures_dir(self) -> str:
        return f"{self.model}/{self.stem}"

    @property
    def figure_suffix(self) -> str:
        return ".en.png" if self.lang == "en" else ".png"

    @property
    def key(self) -> str:
        return f"{self.model}/{self.unit_code}/{self.lang}"


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens: ``"Thành phố Sơn La"`` gives
    ``"thanh-pho-son-la"``."""
    words = re.findall(r"[a-z0-9]+", fold(text))
    return "-".join(words) or "unit"


def plan_reports(
    dataset: Dataset, only: Iterable[str] | str | None = None, lang: str = "vi"
) -> list[ReportJob]:
    """The reports a run makes: one per pilot, or those chosen with ``only``.

    Parameters
    ----------
    dataset : Dataset
        A loaded dataset.
    only : iterable of str, optional
        ``UNIT:MODEL`` values (``122:tuyengiao_ttct``, ``"Phù Yên:tuyengiao_ttct"``).
    lang : {"vi", "en"}

    Returns
    -------
    list of ReportJob
        Sorted by model, then unit code; no duplicates.

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
    return jobs


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportOutcome:
    """What became of one report."""

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

    def to_dict(self) -> dict[str, Any]:
        """The manifest's record of this report."""
        return {
            "unit_code": self.job.unit_code,
            "unit_name": self.job.unit_name,
            "unit_short": self.job.unit_short,
            "model": self.job.model,
            "lang": self.job.lang,
            "path": self.job.html_path,
            "figures": list(self.figures),
            "status": self.status,
            "error": self.error,
            "cell_index": self.cell_index,
            "ename": self.ename,
            "evalue": self.evalue,
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
    formats: Sequence[str] = ("html",),
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
    classification: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> RunResult:
    """Make every pilot's report and publish them with an index and a manifest.

    Parameters
    ----------
    dataset : path, Dataset or None
        A dataset folder or workbook, a loaded :class:`~kiemnhiem.dataset.Dataset` (read from
        disk: its path is passed to the notebook), or None for the bundled demo.
    out : path
        The site folder (created if missing); nothing is written elsewhere.
    lang : {"vi", "en"}
    workers : int, optional
        Processes (each runs one kernel at a time); default ``os.cpu_count()``. Ignored when
        ``executor`` is given.
    only : iterable of str, optional
        ``UNIT:MODEL`` values; the other reports already published stay listed.
    force : bool
        Remake reports even when their data, parameters, notebook, kiemnhiem's code and
        catalogs are unchanged since the last run (otherwise those are kept as they are).
    quiet : bool
        Log progress at DEBUG instead of INFO (failures are always logged as warnings).
    executor : concurrent.futures.Executor, optional
        Where to run the jobs (for example a Dask client's executor); not shut down here. By
        default a ``ProcessPoolExecutor`` with ``workers`` processes (spawned).
    formats : sequence of str
        Only ``("html",)`` so far.
    pre_years, post_years, level, classification
        Passed to every report (see ``notebooks/pilot_report.ipynb``).
    timeout : float
        Seconds one report may run once its kernel has started.

    Returns
    -------
    RunResult
        ``exit_code`` 1 if any report failed, else 0.

    Raises
    ------
    DatasetError
        The dataset is invalid.
    ParameterError
        Bad ``lang``, ``only``, ``workers``, ``formats`` or ``timeout``.
    RunError
        ``out`` cannot be written, or lies inside the package's own files.
    """
    from . import __version__
    from .dataset import Dataset, load_dataset

    started_clock = time.perf_counter()
    started = _now()
    lang = check_lang(lang)
    formats = _check_formats(formats)
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ParameterError(*both("run_bad_workers", value=workers))
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ParameterError(*both("run_bad_timeout", value=timeout))

    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    if ds.path is None:
        raise RunError(*both("err_no_dataset", path="–"))
    dataset_path = str(Path(ds.path).resolve())
    jobs = plan_reports(ds, only=only, lang=lang)
    out_dir = _prepare_out(Path(out))

    notebook = notebook_path(REPORT_NOTEBOOK)
    settings = {
        "lang": lang,
        "pre_years": int(pre_years),
        "post_years": int(post_years),
        "level": float(level),
        "classification": classification,
        "formats": list(formats),
        "timeout": float(timeout),
    }
    base_print = {
        "version": __version__,
        "dataset_hash": ds.content_hash,
        "notebook_hash": _file_hash(notebook),
        "code_hash": _code_hash(),
        "settings": {k: v for k, v in settings.items() if k != "timeout"},
    }
    previous = _read_manifest(out_dir)
    previous_reports = {_entry_key(e): e for e in previous.get("reports", [])}

    outcomes: dict[str, ReportOutcome] = {}
    to_run: list[tuple[ReportJob, dict[str, Any], str]] = []
    for job in jobs:
        fingerprint = _fingerprint(base_print, job)
        old = previous_reports.get(job.key)
        if (
            not force
            and old is not None
            and old.get("fingerprint") == fingerprint
            and old.get("status") in ("ok", "unchanged")
            and (out_dir / job.html_path).is_file()
        ):
            outcomes[job.key] = ReportOutcome(
                job,
                "unchanged",
                started=old.get("started"),
                duration=float(old.get("duration") or 0.0),
                figures=tuple(old.get("figures") or ()),
                fingerprint=fingerprint,
            )
            _log(quiet, label("run_report_unchanged", lang, unit=job.unit_name, model=job.model))
            continue
        to_run.append((job, _report_parameters(job, dataset_path, settings), fingerprint))

    staging = out_dir / f".staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
        if to_run:
            specs = []
            for i, (job, parameters, _fp) in enumerate(to_run):
                specs.append(
                    {
                        "notebook": str(notebook),
                        "parameters": parameters,
                        "workdir": str(staging / f"{i:04d}"),
                        "timeout": float(timeout),
                        "lang": job.lang,
                        "title": label("report_title", job.lang, unit=job.unit_name),
                        "figure_suffix": job.figure_suffix,
                        "kernel_name": KERNEL_NAME,
                    }
                )
            n_workers = min(workers or os.cpu_count() or 1, len(specs))
            results = _execute_all(specs, executor, n_workers)
            for (job, _params, fingerprint), spec, res in zip(to_run, specs, results, strict=True):
                outcome = _outcome(job, res, fingerprint)
                outcomes[job.key] = outcome
                if outcome.status == "ok":
                    _log(
                        quiet,
                        label(
                            "run_report_done",
                            lang,
                            unit=job.unit_name,
                            model=job.model,
                            seconds=f"{outcome.duration:.0f}",
                        ),
                    )
                else:
                    logger.warning(
                        label(
                            "run_report_failed",
                            lang,
                            unit=job.unit_name,
                            model=job.model,
                            error=outcome.error,
                        )
                    )
                res["_workdir"] = spec["workdir"]
        else:
            results = []

        ordered = [outcomes[job.key] for job in jobs]
        n_ok = sum(o.status in ("ok", "unchanged") for o in ordered)
        exit_code = 1 if any(o.status == "failed" for o in ordered) else 0
        if n_ok == 0:
            logger.warning(label("run_nothing_succeeded", lang))
            return RunResult(
                out_dir,
                tuple(ordered),
                1,
                False,
                None,
                None,
                time.perf_counter() - started_clock,
                settings,
            )

        # Publish: reports and figures first, then the manifest, index.html last.
        for (job, _p, _f), res in zip(to_run, results, strict=True):
            if outcomes[job.key].status == "ok":
                _publish_report(job, Path(res["_workdir"]), out_dir, outcomes[job.key].figures)
        manifest = _manifest(
            version=__version__,
            ds=ds,
            dataset_path=dataset_path,
            notebook=notebook,
            settings=settings,
            only=only,
            force=force,
            started=started,
            duration=time.perf_counter() - started_clock,
            exit_code=exit_code,
            outcomes=ordered,
            previous=previous_reports,
            out_dir=out_dir,
            code_hash=base_print["code_hash"],
        )
        manifest_path = out_dir / _MANIFEST
        _write_atomic(manifest_path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        index_path = out_dir / _INDEX
        _write_atomic(index_path, render_index(manifest, ds, classification=classification))
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    duration = time.perf_counter() - started_clock
    n_failed = sum(o.status == "failed" for o in ordered)
    n_unchanged = sum(o.status == "unchanged" for o in ordered)
    _log(
        quiet,
        label(
            "run_summary",
            lang,
            ok=n_ok,
            total=len(ordered),
            failed=n_failed,
            unchanged=n_unchanged,
            out=out_dir,
        ),
    )
    return RunResult(
        out_dir, tuple(ordered), exit_code, True, manifest_path, index_path, duration, settings
    )


def _report_parameters(job: ReportJob, dataset_path: str, settings: dict) -> dict[str, Any]:
    """The notebook's parameters for ``job`` (the dataset as an absolute path)."""
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


def _execute_all(specs: list[dict], executor: cf.Executor | None, workers: int) -> list[dict]:
    own = executor is None
    if own:
        executor = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
    results: list[dict | None] = [None] * len(specs)
    try:
        futures = {executor.submit(execute_report, spec): i for i, spec in enumerate(specs)}
        for future in cf.as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except Exception as exc:  # the worker itself died (BrokenProcessPool, ...)
                results[i] = _failure(
                    specs[i],
                    f"{type(exc).__name__}: {exc}",
                    ename=type(exc).__name__,
                    evalue=str(exc),
                )
    except BaseException:
        if own:
            executor.shutdown(wait=False, cancel_futures=True)
        raise
    if own:
        executor.shutdown(wait=True)
    return [r for r in results if r is not None]


def _outcome(job: ReportJob, res: dict, fingerprint: str) -> ReportOutcome:
    return ReportOutcome(
        job=job,
        status="ok" if res.get("status") == "ok" else "failed",
        error=res.get("error"),
        cell_index=res.get("cell_index"),
        ename=res.get("ename"),
        evalue=res.get("evalue"),
        started=res.get("started"),
        duration=float(res.get("duration") or 0.0),
        figures=tuple(f"{job.figures_dir}/{name}" for name in res.get("figures", ())),
        fingerprint=fingerprint,
    )


# ---------------------------------------------------------------------------------------------
# One report, in a worker
# ---------------------------------------------------------------------------------------------

_LOCAL = threading.local()


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


def execute_report(spec: dict) -> dict:
    """Execute one report in ``spec["workdir"]`` and export it; never raises.

    Runs in a worker (picklable in, picklable out). Writes ``report.ipynb`` (executed),
    ``report.html`` and ``figures/*.png`` into the work folder and returns a dict: ``status``
    ("ok" or "failed"), ``error``, ``cell_index``, ``ename``, ``evalue``, ``started``,
    ``duration``, ``figures`` (file names).
    """
    clock = time.perf_counter()
    started = _now()
    workdir = Path(spec["workdir"])
    result: dict[str, Any] = {"started": started, "figures": []}
    try:
        import papermill as pm
        from papermill.exceptions import PapermillExecutionError

        workdir.mkdir(parents=True, exist_ok=True)
        _kernel_can_import_package()
        deadline = _Deadline(spec["timeout"])
        try:
            nb = pm.execute_notebook(
                spec["notebook"],
                str(workdir / "report.ipynb"),
                parameters=spec["parameters"],
                kernel_name=spec["kernel_name"],
                progress_bar=False,
                request_save_on_cell_execute=False,
                start_timeout=KERNEL_START_TIMEOUT,
                cwd=str(workdir),
                timeout_func=deadline,
                # The kernel's own log (TCP warning, shutdown noise) is not the report's:
                # cell errors reach us through the notebook anyway.
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        except PapermillExecutionError as exc:
            vi_en = both("run_cell_failed", cell=exc.cell_index, ename=exc.ename, evalue=exc.evalue)
            result.update(
                status="failed",
                error=vi_en[1 if spec["lang"] == "en" else 0],
                cell_index=exc.cell_index,
                ename=exc.ename,
                evalue=exc.evalue,
            )
            return result
        except TimeoutError as exc:
            text = label("run_timeout", spec["lang"], seconds=f"{spec['timeout']:.0f}")
            result.update(status="failed", error=text, ename=type(exc).__name__, evalue=str(exc))
            return result
        result["figures"] = _extract_figures(nb, workdir / "figures", spec["figure_suffix"])
        _strip_stderr(nb)
        body = _export_html(nb, spec["title"], spec["lang"])
        (workdir / "report.html").write_text(body, encoding="utf-8")
        result["status"] = "ok"
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


def _failure(spec: dict, error: str, **fields: Any) -> dict:
    return {
        "status": "failed",
        "error": error,
        "started": _now(),
        "duration": 0.0,
        "figures": [],
        **fields,
    }


def _kernel_can_import_package() -> None:
    """Let kernels started from here import this very kiemnhiem.

    In a checkout that is not installed, the kernel (started in the job's work folder) would
    not find the package: put the checkout first on ``PYTHONPATH``. Installed packages need
    nothing. The kernel inherits this process's environment.
    """
    parent = str(Path(__file__).resolve().parent.parent)
    site_dirs = {str(Path(p).resolve()) for p in site.getsitepackages()}
    if hasattr(site, "getusersitepackages"):
        site_dirs.add(str(Path(site.getusersitepackages()).resolve()))
    if parent in site_dirs:
        return
    current = os.environ.get("PYTHONPATH", "")
    parts = [p for p in current.split(os.pathsep) if p]
    if parent not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([parent, *parts])


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


def _extract_figures(nb, folder: Path, suffix: str) -> list[str]:
    """Write the PNG outputs that the notebook named (``kiemnhiem_figure`` metadata)."""
    names = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            name = (output.get("metadata") or {}).get(_FIGURE_KEY)
            data = (output.get("data") or {}).get("image/png")
            if not name or not data or not _FIGURE_NAME.match(str(name)):
                continue
            folder.mkdir(parents=True, exist_ok=True)
            filename = f"{name}{suffix}"
            (folder / filename).write_bytes(base64.b64decode(data))
            names.append(filename)
    return names


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
# Publishing
# ---------------------------------------------------------------------------------------------


def _prepare_out(out: Path) -> Path:
    out = out.expanduser().resolve()
    protected = [Path(__file__).resolve().parent, data_dir().resolve(), notebooks_dir().resolve()]
    for folder in protected:
        if out == folder or folder in out.parents:
            raise RunError(*both("run_out_in_source", path=str(out)))
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunError(*both("run_out_unwritable", path=str(out), error=str(exc))) from exc
    return out


def _publish_report(job: ReportJob, workdir: Path, out: Path, figures: Sequence[str]) -> None:
    target = out / job.html_path
    target.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = out / job.figures_dir
    if figures:
        fig_dir.mkdir(parents=True, exist_ok=True)
        for rel in figures:
            name = rel.rsplit("/", 1)[-1]
            os.replace(workdir / "figures" / name, fig_dir / name)
    # Figures of this language that the new report no longer makes.
    if fig_dir.is_dir():
        keep = {rel.rsplit("/", 1)[-1] for rel in figures}
        for old in fig_dir.iterdir():
            if (
                old.name.endswith(job.figure_suffix)
                and old.name not in keep
                and (job.lang == "en" or not old.name.endswith(".en.png"))
            ):
                old.unlink()
    os.replace(workdir / "report.html", target)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _read_manifest(out: Path) -> dict:
    path = out / _MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _entry_key(entry: dict) -> str:
    return f"{entry.get('model')}/{entry.get('unit_code')}/{entry.get('lang')}"


def _manifest(
    *,
    version,
    ds,
    dataset_path,
    notebook,
    settings,
    only,
    force,
    started,
    duration,
    exit_code,
    outcomes,
    previous,
    out_dir,
    code_hash,
) -> dict:
    current = {o.job.key: o.to_dict() for o in outcomes}
    for o in outcomes:
        if o.status == "failed":
            old = previous.get(o.job.key)
            still_there = (out_dir / o.job.html_path).is_file()
            current[o.job.key]["published"] = still_there
            if old is not None and still_there:
                current[o.job.key]["last_good"] = old.get("started")
    # Reports from earlier runs that this run did not touch (--only, another language).
    for key, entry in previous.items():
        if key not in current and (out_dir / str(entry.get("path", ""))).is_file():
            current[key] = entry
    reports = sorted(
        current.values(),
        key=lambda e: (str(e.get("model")), str(e.get("unit_code")), str(e.get("lang"))),
    )
    return {
        "kiemnhiem_version": version,
        "python": sys.version.split()[0],
        "started": started,
        "duration": round(duration, 3),
        "exit_code": exit_code,
        "dataset": {
            "path": dataset_path,
            "name": ds.name,
            "content_hash": ds.content_hash,
            "synthetic": bool(ds.synthetic),
        },
        "notebook": {"name": REPORT_NOTEBOOK, "sha256": _file_hash(notebook)},
        "code_sha256": code_hash,
        "parameters": {**settings, "only": list(only) if only else None, "force": bool(force)},
        "reports": reports,
    }


def render_index(
    manifest: dict, ds: Dataset | None = None, *, classification: str | None = None
) -> str:
    """The site's ``index.html`` from a manifest (jinja2, autoescaped).

    Parameters
    ----------
    manifest : dict
        As written to ``manifest.json``.
    ds : Dataset, optional
        For the models' names (codes are shown without it).
    classification : str, optional
        A line such as "Tài liệu nội bộ", shown atop the page.
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(templates_dir() / "site")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
    )

    def pair(key: str, **fields: Any) -> dict[str, str]:
        vi, en = both(key, **fields)
        return {"vi": vi, "en": en}

    models = ds.models if ds is not None else None
    rows = []
    for entry in manifest.get("reports", []):
        status = str(entry.get("status"))
        path = str(entry.get("path", ""))
        published = status in ("ok", "unchanged") or entry.get("published")
        model = str(entry.get("model"))
        lang = str(entry.get("lang"))
        rows.append(
            {
                "unit_code": entry.get("unit_code"),
                "unit_name": entry.get("unit_name"),
                "model_vi": _model_name(models, model, "vi"),
                "model_en": _model_name(models, model, "en"),
                "lang_label": " / ".join(pair(f"index_lang_{lang}").values())
                if lang in ("vi", "en")
                else lang,
                "status": status if status in ("ok", "failed", "unchanged") else "failed",
                "status_label": " / ".join(pair(f"index_status_{status}").values())
                if status in ("ok", "failed", "unchanged")
                else status,
                "error": entry.get("error") if status == "failed" else None,
                "href": path if published else None,
            }
        )
    n_ok = sum(e.get("status") in ("ok", "unchanged") for e in manifest.get("reports", []))
    n_failed = sum(e.get("status") == "failed" for e in manifest.get("reports", []))
    dataset = manifest.get("dataset", {})
    synthetic = bool(dataset.get("synthetic")) if ds is None else bool(ds.synthetic)
    context = {
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
            )
        },
        "counts": pair("index_counts", ok=n_ok, failed=n_failed),
        "open_label": " / ".join(pair("index_open").values()),
        "synthetic": synthetic,
        "synthetic_title": pair("report_synthetic_title"),
        "synthetic_text": pair("report_synthetic_text", name=dataset.get("name", "")),
        "classification": classification,
        "dataset_name": dataset.get("name", ""),
        "generated": manifest.get("started", ""),
        "version": manifest.get("kiemnhiem_version", ""),
        "rows": rows,
    }
    return env.get_template("index.html.j2").render(**context)


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def _model_name(models, code: str, lang: str) -> str:
    if models is not None and len(models) and code in set(models["code"]):
        text = models.loc[models["code"] == code, f"label_{lang}"].iloc[0]
        if isinstance(text, str) and text:
            return text
    return code


def _check_formats(formats: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    chosen = tuple(dict.fromkeys(str(f).strip().lower() for f in formats))
    for value in chosen:
        if value not in FORMATS:
            raise ParameterError(*both("run_bad_format", value=value, choices=", ".join(FORMATS)))
    return chosen or ("html",)


def _fingerprint(base: dict, job: ReportJob) -> str:
    payload = json.dumps(
        {**base, "unit": job.unit_code, "model": job.model, "lang": job.lang},
        sort_keys=True,
        ensure_ascii=True,
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def _code_hash() -> str:
    """sha256 over what shapes a report besides its data: the package's code, templates and
    built-in catalogs (labels included), so that a changed release is never "unchanged"."""
    package = Path(__file__).resolve().parent
    files = sorted(
        [
            *package.rglob("*.py"),
            *(package / "templates").rglob("*.j2"),
            *(package / "templates").rglob("*.json"),
            *data_dir().joinpath("catalog").glob("*.csv"),
        ]
    )
    digest = hashlib.sha256()
    for path in files:
        if "__pycache__" in path.parts:
            continue
        digest.update(path.name.encode("utf-8"))
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def _log(quiet: bool, message: str) -> None:
    logger.log(logging.DEBUG if quiet else logging.INFO, message)
