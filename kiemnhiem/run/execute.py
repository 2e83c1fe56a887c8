"""Executing reports: one notebook per report through papermill's Python API in a fresh
kernel (shut down at once; one retry when a kernel dies), HTML export with the offline
template, the notebook's figures, Word and PDF documents, and the key results; the local
process pool that runs them and stops them on SIGINT or SIGTERM.

:func:`execute_report` runs in a worker: picklable in, picklable out, never raises but for
the signals. papermill, nbconvert, nbclient and jupyter_client are imported only inside the
functions that use them. This module must not import the modules that plan a run, build or
publish its site (:mod:`.plan`, :mod:`.site`, :mod:`.publish`, :mod:`.runner`), nor dask
(:mod:`.cluster` imports it).
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import contextlib
import copy
import gc
import io
import logging
import math
import multiprocessing
import os
import re
import shutil
import signal
import site
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import KiemNhiemError
from ..labels import both, label
from ..resources import package_dir, templates_dir
from .evaluations import (
    EVALUATION_PARAMETER,
    evaluation_for,
    evaluation_request,
    request_name,
)
from .params import declared_parameters

if TYPE_CHECKING:
    from .params import RunSettings
    from .plan import ReportJob

logger = logging.getLogger("kiemnhiem")

#: Seconds to wait for a kernel to start.
KERNEL_START_TIMEOUT = 120
KERNEL_NAME = "python3"
#: What a report's kernel is started with. Its own log (TCP warning, shutdown noise) is not
#: the report's: cell errors reach us through the notebook anyway. No IPython history
#: database: a kernel opens ``history.sqlite`` in the user's IPython folder, writes a session
#: row and starts a thread that commits every cell's source to it, for ``%history`` and
#: ``%rerun`` in later sessions, which a report never has (the In/Out of its own session stay
#: in memory). 0.01 CPU-s a forked kernel of a trivial notebook (0.100 against 0.109, best of
#: 20, alternating), plus a disk write per cell, and no two workers' kernels on one database.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL", "--HistoryManager.enabled=False"]
#: The output metadata key under which a notebook names a figure, and the names allowed.
FIGURE_KEY = "kiemnhiem_figure"
FIGURE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,80}$")


def now() -> str:
    """The local time, ISO 8601 to the second, as reports and manifests record it."""
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# A run's reports on their way to the workers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """What the reports of one run share in the workers: the run's id (``token``, to cancel
    its kernels), the notebooks' text by kind of report, the run's copy of the dataset, its
    content hash, kiemnhiem's code hash (Dask workers must match it) and the settings."""

    token: str
    notebooks: Mapping[str, str]
    dataset_path: str
    dataset_hash: str
    code_hash: str
    settings: RunSettings
    #: The run's evaluation files by :func:`~.evaluations.request_name` (none: each report
    #: computes its own), and the kinds of report whose notebook declares the parameter.
    evaluations: Mapping[str, str] = field(default_factory=dict)
    takes_evaluation: frozenset[str] = frozenset()

    def evaluation_request(self, job: ReportJob) -> dict[str, Any]:
        """What ``job``'s evaluation is computed from (:mod:`.evaluations`)."""
        s = self.settings
        return evaluation_request(job.kind, job.model, s.pre_years, s.post_years, s.level)

    def spec(self, job: ReportJob, parameters: Mapping[str, Any]) -> dict:
        """What :func:`execute_report` needs for ``job`` (picklable), its notebook reading the
        run's copy of the dataset, and the run's evaluation file when there is one."""
        settings = self.settings
        if "dataset" in parameters:
            parameters = {**parameters, "dataset": self.dataset_path}
        evaluation_file = self.evaluations.get(request_name(self.evaluation_request(job)))
        if evaluation_file and job.kind in self.takes_evaluation:
            parameters = {**parameters, EVALUATION_PARAMETER: evaluation_file}
        windows = {
            "pre_years": settings.pre_years,
            "post_years": settings.post_years,
            "level": settings.level,
        }
        document = None
        if any(f != "html" for f in settings.formats):
            document = {
                "dataset_hash": self.dataset_hash,
                "kind": job.kind,
                "unit": job.unit_code,
                "model": job.model,
                "lang": job.lang,
                **windows,
                "classification": settings.classification,
                "settings": settings.document.as_dict(),
            }
        evaluate = {
            "dataset_hash": self.dataset_hash,
            "kind": job.kind,
            "unit": job.unit_code,
            "model": job.model,
            **windows,
        }
        return {
            "key": job.key,
            "notebook": self.notebooks[job.kind],
            "evaluate": evaluate,
            "evaluation_file": evaluation_file,
            "parameters": dict(parameters),
            "timeout": settings.timeout,
            "lang": job.lang,
            "title": job.title,
            "figure_suffix": job.figure_suffix,
            "kernel_name": KERNEL_NAME,
            # Workers make the Word document for either format; the run's PDFs are made from
            # them afterwards, in one LibreOffice process.
            "formats": ["docx"] if document else [],
            "document": document,
            "token": self.token,
        }


# ---------------------------------------------------------------------------------------------
# The local pool (any concurrent.futures executor)
# ---------------------------------------------------------------------------------------------


def execute_local(
    specs: list[dict],
    executor: cf.Executor,
    on_done: Callable[[int, dict], None],
    *,
    own: bool,
    token: str,
) -> None:
    """Run every spec on ``executor``; ``on_done(i, result)`` in this thread as each finishes.

    On an exception or a signal, pending reports are cancelled and running kernels killed:
    by stopping the pool when it is ours (``own``), else by the run's ``token``.
    """
    futures: dict[cf.Future, int] = {}
    try:
        for i, spec in enumerate(specs):
            futures[executor.submit(execute_report, spec)] = i
        for future in cf.as_completed(futures):
            i = futures[future]
            try:
                res = future.result()
            except Exception as exc:  # the worker itself died (BrokenProcessPool, ...)
                res = failure(
                    f"{type(exc).__name__}: {exc}", ename=type(exc).__name__, evalue=str(exc)
                )
            on_done(i, res)
    except BaseException:
        for future in futures:
            future.cancel()
        if own:
            stop_pool(executor)
        else:  # threads of this process cannot be stopped, their kernels can
            cancel_kernels(token)
        raise
    if own:
        executor.shutdown(wait=True)


def prepare_evaluations(
    batch: Batch,
    jobs: Iterable[ReportJob],
    executor: cf.Executor,
    folder: Path,
    models: Iterable[str] | None = None,
) -> dict[str, str]:
    """Compute each distinct evaluation that ``jobs`` need once, on ``executor`` (one task per
    model: they run side by side), into ``folder``; ``{request name: file}`` for those that
    succeeded (a report whose evaluation failed computes it itself and shows why).

    ``models``: the models the summary's evaluation covers (the dataset's models with pilots,
    :func:`~.evaluations.models_with_pilots`). When given, the summary's evaluation is put
    together from each model's (:func:`~.evaluations.combine_evaluations`) rather than
    computed again; if a model's cannot be had, the summary's is computed whole as before.

    The reports wait for these: every report of a model needs its model's evaluation.
    """
    from .evaluations import model_part

    models = list(models or ())
    requests: dict[str, dict] = {}
    combined: dict[str, dict] = {}  # the summary's: put together from its models' parts
    units: dict[str, list[str]] = {}  # the pilots whose reports run, by their model's request
    for job in jobs:
        request = batch.evaluation_request(job)
        name = request_name(request)
        if job.kind != "summary" and job.unit_code is not None:
            units.setdefault(name, []).append(str(job.unit_code))
        if request["models"] is None and models:
            combined[name] = request
            for model in models:
                part = model_part(request, model)
                requests.setdefault(request_name(part), part)
        else:
            requests[name] = request
    made = _compute_evaluations(batch, requests, executor, folder, units)
    for name, request in combined.items():
        parts = {m: made.get(request_name(model_part(request, m))) for m in models}
        path = None
        if all(parts.values()):
            path = _combine_run_evaluation(batch, request, parts, folder / name)
        if path is None:  # a model's failed: the summary's computed whole, as before
            path = _compute_evaluations(batch, {name: request}, executor, folder).get(name)
        if path:
            made[name] = path
    return made


def _compute_evaluations(
    batch: Batch,
    requests: Mapping[str, dict],
    executor: cf.Executor,
    folder: Path,
    units: Mapping[str, list[str]] | None = None,
) -> dict[str, str]:
    """``units``: by request name, the pilots whose profiles the file carries (those whose
    reports run; none for a model only the summary needs)."""
    futures: dict[cf.Future, str] = {}
    made: dict[str, str] = {}
    try:
        for name, request in requests.items():
            profiled = (units or {}).get(name, [])
            args = (batch.dataset_path, batch.dataset_hash, request, str(folder / name), profiled)
            futures[executor.submit(write_run_evaluation, *args)] = name
        for future in cf.as_completed(futures):
            try:
                path = future.result()
            except Exception as exc:  # the worker died: the reports will say so
                logger.debug("evaluation %s failed: %s", futures[future], exc)
                continue
            if path:
                made[futures[future]] = path
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return made


def _combine_run_evaluation(
    batch: Batch, request: Mapping[str, Any], parts: Mapping[str, str], path: Path
) -> str | None:
    """The summary's evaluation written to ``path`` from its models' files (``{model: file}``,
    in the summary's order), here in the run's process: it takes milliseconds. None if a part
    cannot be read."""
    from .evaluations import (
        combine_evaluations,
        held_dataset,
        model_part,
        read_evaluation,
        write_frame,
    )

    frames = []
    for model, part in parts.items():
        frame = read_evaluation(part, batch.dataset_hash, model_part(request, model))
        if frame is None:
            return None
        frames.append(frame)
    # The dataset a worker validated, for the summary's kernel too (report_dataset).
    held = next(
        (h for h in (held_dataset(p, batch.dataset_hash) for p in parts.values()) if h), None
    )
    try:
        return write_frame(
            combine_evaluations(frames), batch.dataset_hash, request, path, held_dataset=held
        )
    except Exception as exc:
        logger.debug("evaluation %s failed: %s", path, exc)
        return None


def write_run_evaluation(
    dataset_path: str,
    dataset_hash: str,
    request: Mapping[str, Any],
    path: str,
    units: Iterable[str] | None = None,
) -> str | None:
    """In a worker: one of the run's evaluations written to ``path``; None when it cannot be
    computed (the reports then compute it, and show the error)."""
    from .evaluations import write_evaluation

    try:
        ds = _worker_dataset(dataset_path, dataset_hash)
        if ds.content_hash != dataset_hash:
            return None
        return write_evaluation(ds, request, path, units=units)
    except Exception as exc:
        logger.debug("evaluation %s failed: %s", path, exc)
        return None


def declared_in(notebook: Path, pool: cf.Executor | None) -> list[str]:
    """:func:`~kiemnhiem.run.params.declared_parameters`, in the pool when there is one
    (papermill is imported there already), else here."""
    if pool is not None:
        try:
            return pool.submit(declared_parameters, str(notebook)).result()
        except (OSError, RuntimeError):  # BrokenProcessPool is a RuntimeError
            pass  # the pool's own failure shows when the reports run
    return declared_parameters(notebook)


def start_pool(n: int) -> cf.ProcessPoolExecutor:
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
        # .warm: pandas, the evaluation's modules and the exporter's compiled templates, once
        # for every worker (see its docstring); first, so that jsonschema is imported
        # without the grammar it does not need here.
        ctx.set_forkserver_preload(
            [
                "kiemnhiem.run.warm",
                "kiemnhiem.run.execute",
                "papermill",
                "nbconvert",
                "nbclient",
                "jupyter_client",
            ]
        )
        return ctx
    return multiprocessing.get_context("spawn")


def stop_pool(executor: cf.ProcessPoolExecutor) -> None:
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
    # The worker's kernels are forked from a server that imported everything once (it warms
    # up while the run checks and evaluates): about 2.5 CPU-seconds saved per report.
    from .kernels import start_kernel_server

    start_kernel_server(_kernel_env(), tempfile.gettempdir())
    # What this worker inherited from the fork server (papermill, nbconvert, pandas, the
    # exporter: about 100,000 objects) lives as long as it does: out of the cyclic
    # collector's sight, the full collections that each report's allocations trigger no longer
    # walk it. Measured in a warm worker, collections took 0.043 CPU-s a report, 0.005 after.
    gc.freeze()


def _worker_terminate(signum, frame) -> None:
    _kill_kernels(None)
    for folder in list(_WORKDIRS):
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(128 + signum)


def _kernel_manager_class(token: str):
    """An ``AsyncKernelManager`` that records its kernel, so that it can be killed at once."""
    from jupyter_client.manager import AsyncKernelManager

    from .kernels import fork_provisioner_class, kernel_server

    class _TrackedKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            if self.provisioner is None and kernel_server() is not None:
                self.provisioner = fork_provisioner_class()(
                    kernel_id=self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4()),
                    kernel_spec=self.kernel_spec,
                    parent=self,
                )
                self.kernel_id = self.provisioner.kernel_id
            return await super()._async_pre_start_kernel(**kw)

        async def start_kernel(self, **kw):
            kw["env"] = _kernel_env(kw.get("env"))
            await super().start_kernel(**kw)
            with _KERNELS_LOCK:
                _KERNELS[self] = token

    return _TrackedKernelManager


def cancel_kernels(token: str) -> None:
    """Kill the kernels of the run ``token`` in this process; none of them is retried."""
    _CANCELLED.add(token)
    _kill_kernels(token)


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
    result: dict[str, Any] = {"started": now(), "figures": {}, "documents": {}, "attempts": 0}
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
        # The key results and the documents share one evaluation (it is the costly part).
        frame = _evaluate(spec) if spec.get("evaluate") else None
        if spec.get("document") and spec.get("formats"):
            result["documents"] = _build_documents(spec, frame, result["figures"])
        if spec.get("evaluate"):
            result["results"] = report_results(spec, frame)
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
            extra_arguments=KERNEL_ARGUMENTS,
        )
    finally:
        _forget_kernels()
        _WORKDIRS.discard(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def _evaluate(spec: dict):
    """The report's evaluation in the worker: read from the run's evaluation file (the one
    the notebook read) when there is one, else computed from the same dataset and parameters
    as the notebook (whose kernel cannot easily hand it back): for a pilot its rows and its model's
    rows (:func:`~kiemnhiem.report.conclusions.evaluate_report`: the model's estimates lead
    the document's first page, so one evaluation serves the manifest and the document),
    ``evaluate_all`` for the summary. None when it cannot be computed (the report shows
    why)."""
    import pandas as pd

    ev = spec["evaluate"]
    try:
        request = evaluation_request(
            ev["kind"], ev.get("model"), ev["pre_years"], ev["post_years"], ev["level"]
        )
        dataset_hash = ev.get("dataset_hash", "")
        unit = None if ev["kind"] == "summary" else ev["unit"]
        rows, frame = evaluation_for(
            request,
            unit,
            spec.get("evaluation_file"),
            dataset_hash,
            lambda: _worker_dataset(spec["parameters"]["dataset"], dataset_hash),
        )
        if rows is None:  # the summary
            return frame
        return pd.concat([rows, frame[frame["scope"] == "model"]], ignore_index=True)
    except Exception as exc:  # the report shows its results; the index does without them
        logger.warning(label("run_results_failed", spec.get("lang", "vi"), error=exc))
        return None


def report_results(spec: dict, frame=None) -> list[dict] | None:
    """A report's key results for the manifest and the index's "what changed": verdict and
    ``did`` per indicator (per model and indicator for the summary), or None if they cannot
    be computed. ``frame`` is :func:`_evaluate`'s, computed here when not given."""
    ev = spec["evaluate"]
    if frame is None:
        frame = _evaluate(spec)
    if frame is None:
        return None
    frame = frame[frame["scope"] == ("model" if ev["kind"] == "summary" else "pilot")]
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


def _build_documents(spec: dict, frame=None, figures=None) -> dict[str, bytes]:
    """The Word document from the same results and the notebook's own figures, in this worker.

    Returns ``{"docx": bytes}`` whenever Word or PDF is asked for: the PDFs of a whole run are
    made afterwards in one LibreOffice process (:func:`convert_run_documents`), from these.
    """
    from ..report.documents import build_pilot_docx, build_summary_docx

    doc = spec["document"]
    ds = _worker_dataset(spec["parameters"]["dataset"], doc.get("dataset_hash", ""))
    common = {
        "pre_years": doc["pre_years"],
        "post_years": doc["post_years"],
        "level": doc["level"],
        "classification": doc["classification"],
        "settings": doc.get("settings") or None,
        "results": frame,
    }
    if doc["kind"] == "summary":
        document = build_summary_docx(ds, lang=doc["lang"], **common)
    else:
        document = build_pilot_docx(
            ds, doc["unit"], doc["model"], lang=doc["lang"], figures=figures or None, **common
        )
    buffer = io.BytesIO()
    document.save(buffer)
    return {"docx": buffer.getvalue()}


def convert_run_documents(
    documents: Mapping[str, bytes], timeout: float | None = None
) -> dict[str, bytes | KiemNhiemError]:
    """PDFs of a run's Word documents (``{report key: .docx bytes}``) in one LibreOffice
    process; each key's PDF bytes or the error that says why there is none (a missing
    LibreOffice is every document's error)."""
    from ..report.documents import convert_documents

    try:
        return dict(convert_documents(documents, timeout=timeout))
    except KiemNhiemError as exc:
        return {key: exc for key in documents}


def _worker_dataset(path: str, content_hash: str):
    """The dataset a worker's documents are built from, loaded once per worker."""
    from ..data.dataset import load_dataset

    key = (path, content_hash)
    with _DATASETS_LOCK:
        if key not in _DATASETS:
            _DATASETS.clear()
            _DATASETS[key] = load_dataset(path)
        return _DATASETS[key]


def failure(error: str, **fields: Any) -> dict:
    return {
        "status": "failed",
        "error": error,
        "started": now(),
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


#: The inline PNG of the ``<img>`` that ``report.plots.figure_output`` writes as ``text/html``.
_INLINE_PNG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _extract_figures(nb, suffix: str) -> dict[str, bytes]:
    """The PNG outputs that the notebook named (``kiemnhiem_figure`` metadata): an
    ``image/png``, else the inline PNG of the output's ``<img>`` (``text/html``, as
    ``figure_output`` sends a figure, once)."""
    figures: dict[str, bytes] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            name = (output.get("metadata") or {}).get(FIGURE_KEY)
            bundle = output.get("data") or {}
            data = bundle.get("image/png")
            if not data:
                html = bundle.get("text/html")
                found = _INLINE_PNG.match("".join(html) if isinstance(html, list) else html or "")
                data = found.group(1) if found else None
            if not name or not data or not FIGURE_NAME.match(str(name)):
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
