"""The main job: one report per pilot (and a province summary), executed by papermill, and
the site published under ``out``.

:func:`run_reports` takes a run from its options to its :class:`RunResult`, each step done
by the module whose job it is::

    params        the options checked (RunSettings), the notebooks' parameters
    plan          the jobs, which are up to date, why the others are remade
    fingerprints  what each report depends on
    execute       the reports in a local process pool (or any concurrent.futures executor)
    cluster       ... or on a Dask cluster
    site          the run's folder: outputs, kept files, changes, manifest, index page
    progress      what the user sees meanwhile
    publish       the run made public through a journal; lock: one run at a time

The site under ``out``::

    out/index.html                          every report present, sortable, what changed
    out/manifest.json                       versions, hashes, parameters, outcomes, results
    out/summary.html                        the province summary (when its notebook exists)
    out/<model>/<code>-<slug>.html          (.en.html in English; .docx and .pdf beside)
    out/<model>/<code>-<slug>/<figure>.png  (<figure>.en.png in English)
    out/runs/<id>/                          the last 3 runs, each a complete site

Incremental: a report is remade when anything it depends on changed, and only then: its
notebook, its parameters, kiemnhiem's own files (code, templates, catalogs), the versions of
the libraries that shape it (:data:`~kiemnhiem.run.fingerprints.KEY_DEPENDENCIES`), and its
data. A pilot report depends on the dataset's metadata, pilots, units, catalogs, events and
comments, and on the panel rows of *every unit* for the indicators that concern its model
(comparison units and placebo assignments use them all), not on the panel rows of other
indicators; the summary depends on the whole dataset. Editing one value of an indicator
therefore remakes every report of the models that indicator concerns, plus the summary.

This module holds the run's sequence and nothing else; no other module of
:mod:`kiemnhiem.run` may import it. papermill, nbconvert, jupyter_client and dask are
imported only inside the functions that run reports.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import logging
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import ParameterError, RunError
from ..labels import both, label
from ..resources import data_dir, notebooks_dir, package_dir
from .cluster import execute_on_cluster
from .evaluations import EVALUATION_PARAMETER, models_with_pilots
from .execute import (
    Batch,
    declared_in,
    execute_local,
    now,
    prepare_evaluations,
    start_pool,
    stop_pool,
)
from .fingerprints import Fingerprints
from .lock import RunLock
from .params import (
    DEFAULT_TIMEOUT,
    RunSettings,
    check_parameters,
)
from .plan import (
    PreviousRun,
    ReportOutcome,
    RunInputs,
    plan_reports,
    plan_run,
    resolve_notebooks,
    summary_job,
)
from .progress import Progress, isatty, log
from .publish import (
    INDEX,
    MANIFEST,
    PUBLISHED_MARK,
    RUNS,
    SignalGuard,
    complete_pending,
    new_run_id,
    prune_runs,
    publish_run,
    sha256_bytes,
)
from .site import (
    RunRecord,
    assemble,
    build_manifest,
    changes_since,
    published_files,
    store_outputs,
    write_manifest_and_index,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..data.dataset import Dataset
    from ..data.issuing import DocumentSettings
    from .plan import Plan

logger = logging.getLogger("kiemnhiem")


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
    document: DocumentSettings | Mapping[str, Any] | None = None,
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
    document : DocumentSettings or mapping, optional
        Who issues the Word and PDF documents and how (``kind`` "party" or "state",
        ``superior_body``, ``issuing_body``, ``number``, ``place``, ``issued``,
        ``signer_authority``, ``signer_title``, ``signer_name``, ``recipients``), over the
        dataset's own settings (:class:`~kiemnhiem.data.issuing.DocumentSettings`). Part of
        every report's fingerprint.

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

    clock, started = time.perf_counter(), now()
    settings = RunSettings(
        lang=lang,
        formats=formats,
        pre_years=pre_years,
        post_years=post_years,
        level=level,
        classification=classification,
        timeout=timeout,
        only=only,
        force=force,
        notebooks=resolve_notebooks(notebooks),
        document=document,
    )
    where = _Where(workers, executor, scheduler)
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    if ds.path is None:
        raise RunError(*both("err_no_dataset", path="–"))
    jobs = plan_reports(ds, only=settings.only, lang=settings.lang)
    if settings.notebooks.get("summary") is not None and not settings.only:
        jobs.append(summary_job(settings.lang))
    out_dir = _prepare_out(Path(out))
    show_progress = (not quiet and isatty(sys.stderr)) if progress is None else bool(progress)

    with RunLock(out_dir), SignalGuard() as guard:
        recovered = complete_pending(out_dir, guard)
        if recovered:
            logger.warning(label("run_recovered", settings.lang, run=recovered))
        prune_runs(out_dir)
        inputs = RunInputs(
            ds,
            str(Path(ds.path).resolve()),
            settings,
            Fingerprints(ds, settings.notebooks, document=settings.document.as_dict()),
        )
        plan = plan_run(jobs, inputs, PreviousRun.read(out_dir))
        run = _Run(
            inputs=inputs,
            plan=plan,
            out_dir=out_dir,
            guard=guard,
            started=started,
            clock=clock,
            recovered=recovered,
            quiet=quiet,
            show_progress=show_progress,
        )
        if plan.nothing_to_do:
            text = label("run_nothing_changed", settings.lang, run=plan.previous.run_id or "–")
            log(quiet, text)
            return run.result(
                plan.unchanged_outcomes(), 0, run_id=plan.previous.run_id, **run.site_paths()
            )
        log(quiet, plan.describe(settings.lang))
        return run.execute_and_publish(where)


@dataclass(frozen=True)
class _Where:
    """Where the reports run: a local pool of ``workers`` processes (the default), the
    caller's ``executor``, or the Dask cluster at ``scheduler``."""

    workers: int | None = None
    executor: cf.Executor | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:
        workers = self.workers
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ParameterError(*both("run_bad_workers", value=workers))
        if self.executor is not None and self.scheduler is not None:
            raise ParameterError(*both("run_executor_and_scheduler"))


@dataclass(kw_only=True)
class _Run:
    """One run inside the lock: its inputs and plan, when it started (wall clock for the
    records, perf counter for its duration), the unfinished run it completed first, how it
    speaks (``quiet``: progress at DEBUG; ``show_progress``: a counter); then its id and
    folder once it runs."""

    inputs: RunInputs
    plan: Plan
    out_dir: Path
    guard: SignalGuard
    started: str
    clock: float
    recovered: str | None
    quiet: bool
    show_progress: bool
    run_id: str = ""
    run_dir: Path | None = None
    #: The kinds of report whose notebook reads the run's evaluation file (its parameters cell
    #: declares ``evaluation_file``), found when the parameters are checked.
    takes_evaluation: set[str] = field(default_factory=set)

    def result(self, reports: Iterable[ReportOutcome], exit_code: int, **fields) -> RunResult:
        """The :class:`RunResult`; ``fields``: its ``published``, ``manifest_path``,
        ``index_path``, ``run_id`` and ``changes`` (by default False, None and none)."""
        return RunResult(
            out=self.out_dir,
            reports=tuple(reports),
            exit_code=exit_code,
            duration=time.perf_counter() - self.clock,
            parameters=self.inputs.settings.as_dict(),
            recovered=self.recovered,
            **{"published": False, "manifest_path": None, "index_path": None, **fields},
        )

    def site_paths(self) -> dict[str, Path]:
        return {"manifest_path": self.out_dir / MANIFEST, "index_path": self.out_dir / INDEX}

    def execute_and_publish(self, where: _Where) -> RunResult:
        """Check the parameters, run the reports that are not up to date in a new run folder,
        and publish it (unless nothing succeeded). The folder is removed unless published."""
        plan = self.plan
        pool = None
        if plan.to_run and where.executor is None and where.scheduler is None:
            pool = start_pool(min(where.workers or os.cpu_count() or 1, len(plan.to_run)))
        self.run_id = new_run_id(self.out_dir)
        self.run_dir = self.out_dir / RUNS / self.run_id
        try:
            self._check_parameters(pool)
            self.run_dir.mkdir(parents=True)
            outcomes = self._execute(pool or where.executor, pool is not None, where.scheduler)
            return self._publish(outcomes)
        except BaseException:
            if pool is not None:
                stop_pool(pool)
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
            if not (self.run_dir / PUBLISHED_MARK).exists():
                shutil.rmtree(self.run_dir, ignore_errors=True)

    def _check_parameters(self, pool: cf.Executor | None) -> None:
        """Every parameter set against its notebook's parameters cell, before anything runs;
        in the pool, which has papermill imported already."""
        notebooks = self.inputs.settings.notebooks
        for kind in ("pilot", "summary"):
            sets = [p for j, p, _ in self.plan.to_run if j.kind == kind]
            if sets:
                declared = set(declared_in(notebooks[kind], pool))
                if EVALUATION_PARAMETER in declared:  # optional: passed when the run has it
                    self.takes_evaluation.add(kind)
                    declared.discard(EVALUATION_PARAMETER)
                check_parameters(notebooks[kind], sets, declared=declared)

    def _execute(
        self, executor: cf.Executor | None, own: bool, scheduler: str | None
    ) -> dict[str, ReportOutcome]:
        """Run the plan's reports; their outputs go into the run's folder as each finishes."""
        ds, settings, to_run = self.inputs.ds, self.inputs.settings, self.plan.to_run
        # Every report reads the run's own copy of the dataset: an analyst editing the dataset
        # during the run cannot give two reports of one run different data. The manifest and
        # the fingerprints keep the original path.
        batch = Batch(
            token=self.run_id,
            notebooks={
                k: Path(p).read_text(encoding="utf-8") for k, p in settings.notebooks.items() if p
            },
            dataset_path=str(_snapshot_dataset(ds, self.run_dir)),
            dataset_hash=ds.content_hash,
            code_hash=self.inputs.prints.code_hash,
            settings=settings,
            takes_evaluation=frozenset(self.takes_evaluation),
        )
        if executor is not None and scheduler is None:
            # Each model's evaluation once for the whole run, in the pool, read by its reports
            # (their kernels and their workers) instead of computed by each of them. Not on a
            # Dask cluster, whose workers may not share this folder: there each report
            # computes its own, as a notebook run alone does.
            made = prepare_evaluations(
                batch,
                [job for job, _p, _f in to_run],
                executor,
                self.run_dir / EVALUATIONS,
                models=models_with_pilots(ds),
            )
            batch = dataclasses.replace(batch, evaluations=made)
        specs = [batch.spec(job, params) for job, params, _fp in to_run]
        outcomes: dict[str, ReportOutcome] = {}
        progress = Progress(len(specs), enabled=self.show_progress)
        # The PDFs are made after the reports, all in one LibreOffice process (starting it
        # costs more than converting): the workers hand back the Word documents.
        to_convert: dict[str, bytes] = {}

        def on_done(i: int, res: dict) -> None:
            job, _params, fp = to_run[i]
            if res.get("status") == "ok":
                documents = dict(res.get("documents") or {})
                if "pdf" in settings.formats and "docx" in documents and "pdf" not in documents:
                    to_convert[job.key] = documents["docx"]
                if "docx" not in settings.formats:
                    documents.pop("docx", None)
                res = {**res, "documents": documents}
            files = store_outputs(self.run_dir, job, res) if res.get("status") == "ok" else {}
            outcomes[job.key] = ReportOutcome.from_result(job, res, fp, files)
            progress.report(outcomes[job.key], self.quiet)

        progress.draw()
        try:
            if specs and scheduler is not None:
                execute_on_cluster(specs, batch, scheduler, on_done)
            elif specs:
                execute_local(specs, executor, on_done, own=own, token=self.run_id)
        finally:
            progress.finish()
        shutil.rmtree(self.run_dir / EVALUATIONS, ignore_errors=True)  # read; not published
        if to_convert:
            self._add_pdfs(to_convert, outcomes)
        return outcomes

    def _add_pdfs(self, documents: Mapping[str, bytes], outcomes: dict[str, ReportOutcome]):
        """Convert the run's Word documents in one LibreOffice process and store each PDF
        beside its report; a report whose PDF could not be made fails with that error (its
        new files are dropped, so its last good version stays published, marked)."""
        from .execute import convert_run_documents

        lang = self.inputs.settings.lang
        converted = convert_run_documents(documents)
        for key, outcome in list(outcomes.items()):
            if key not in documents:
                continue
            pdf = converted.get(key)
            job = outcome.job
            if isinstance(pdf, bytes):
                files = dict(outcome.files)
                rel = job.document_path("pdf")
                path = self.run_dir / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(pdf)
                files[rel] = sha256_bytes(pdf)
                outcomes[key] = dataclasses.replace(outcome, files=files)
                continue
            error = pdf if pdf is not None else RunError(*both("run_pdf_missing"))
            message = getattr(error, "message_en" if lang == "en" else "message_vi", str(error))
            for rel in outcome.files:
                (self.run_dir / rel).unlink(missing_ok=True)
            outcomes[key] = dataclasses.replace(
                outcome,
                status="failed",
                error=message,
                ename=type(error).__name__,
                evalue=getattr(error, "message_en", str(error)),
                figures=(),
                files={},
                results=None,
            )
            logger.warning(
                label(
                    "run_report_failed",
                    job.lang,
                    unit=job.name,
                    model=job.model or "–",
                    error=message,
                )
            )

    def _publish(self, outcomes: Mapping[str, ReportOutcome]) -> RunResult:
        """The run's manifest and index, then its site made public (unless nothing
        succeeded: then nothing is published)."""
        plan, lang = self.plan, self.inputs.settings.lang
        built = [outcomes[job.key] for job, _p, _f in plan.to_run]
        if built and not any(o.status == "ok" for o in built):
            logger.warning(label("run_nothing_succeeded", lang))
            return self.result(built + plan.unchanged_outcomes(), 1)
        entries, ordered = assemble(plan, outcomes, self.run_dir)
        exit_code = 1 if any(o.status == "failed" for o in ordered) else 0
        previous = plan.previous
        changes = changes_since(previous.manifest.get("reports", []), entries)
        duration = time.perf_counter() - self.clock
        record = RunRecord(self.run_id, previous.run_id, self.started, duration, exit_code)
        manifest = build_manifest(self.inputs, record, entries, changes)
        write_manifest_and_index(self.run_dir, manifest, self.inputs)
        remove = published_files(previous.manifest) - published_files(manifest)
        publish_run(self.out_dir, self.run_id, remove, self.guard)
        prune_runs(self.out_dir)
        counts = {
            "ok": sum(o.status in ("ok", "unchanged") for o in ordered),
            "failed": sum(o.status == "failed" for o in ordered),
            "unchanged": sum(o.status == "unchanged" for o in ordered),
        }
        log(
            self.quiet,
            label("run_summary", lang, total=len(ordered), out=self.out_dir, **counts),
        )
        return self.result(
            ordered,
            exit_code,
            published=True,
            run_id=self.run_id,
            changes=tuple(changes),
            **self.site_paths(),
        )


SNAPSHOT = ".dataset"  # hidden: part of a run's folder, never of the published site
EVALUATIONS = ".evaluations"  # likewise: the run's evaluations, read by its reports


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


def _prepare_out(out: Path) -> Path:
    """``out`` resolved and created, if writable and outside the package's own files."""
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
