"""Planning a run: the reports to make (:class:`ReportJob`), which of them are up to date, why
the others are remade, and what became of each (:class:`ReportOutcome`).

Reads the previous run's manifest and the fingerprints; runs nothing and writes nothing. It
must not import papermill, nbconvert, jupyter_client or dask, nor the modules that execute
reports, build the site or run them (:mod:`.execute`, :mod:`.cluster`, :mod:`.site`,
:mod:`.runner`): they import it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..data.units import fold
from ..exceptions import ParameterError
from ..labels import both, check_lang, label
from ..resources import notebook_path
from .fingerprints import file_hash
from .params import check_model, parse_only, resolve_report_unit
from .publish import MANIFEST, RUNS

if TYPE_CHECKING:
    from ..data.dataset import Dataset
    from .fingerprints import Fingerprints
    from .params import RunSettings

#: The notebook each pilot report executes.
REPORT_NOTEBOOK = "pilot_report"
#: The province summary's notebook; planned only when it exists.
SUMMARY_NOTEBOOK = "province_summary"
Status = Literal["ok", "failed", "unchanged"]
Kind = Literal["pilot", "summary"]


# ---------------------------------------------------------------------------------------------
# Jobs
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

    @property
    def name(self) -> str:
        """The unit's name, or the summary's title, in the report's language."""
        return label("run_summary_title", self.lang) if self.kind == "summary" else self.unit_name

    @classmethod
    def from_entry(cls, entry: Mapping) -> ReportJob:
        """The job a manifest entry records."""
        return cls(
            str(entry.get("unit_code") or ""),
            str(entry.get("unit_name") or ""),
            str(entry.get("unit_short") or ""),
            str(entry.get("model") or ""),
            str(entry.get("lang") or "vi"),
            kind=str(entry.get("kind") or "pilot"),
        )


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens: ``"Thành phố Sơn La"`` gives
    ``"thanh-pho-son-la"``."""
    words = re.findall(r"[a-z0-9]+", fold(text))
    return "-".join(words) or "unit"


def summary_notebook() -> Path | None:
    """The province summary notebook, or None while it does not exist."""
    path = notebook_path(SUMMARY_NOTEBOOK)
    return path if path.is_file() else None


def summary_job(lang: str) -> ReportJob:
    """The province summary, in ``lang``."""
    return ReportJob("", "", "", "", lang, kind="summary")


def resolve_notebooks(overrides: Mapping | None) -> dict[str, Path | None]:
    """The notebook of each kind of report: the bundled ones, or ``overrides``.

    Raises
    ------
    ParameterError
        An unknown kind, or a pilot notebook that does not exist.
    """
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
            model = check_model(dataset, model)
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
        jobs.append(summary_job(lang))
    return jobs


# ---------------------------------------------------------------------------------------------
# Outcomes
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

    @classmethod
    def from_result(
        cls, job: ReportJob, res: Mapping, fingerprint: str, files: Mapping[str, str]
    ) -> ReportOutcome:
        """The outcome of ``job`` from what its worker returned, its ``files`` stored."""
        figures = tuple(f"{job.figures_dir}/{name}" for name in sorted(res.get("figures") or ()))
        return cls(
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

    @classmethod
    def unchanged(
        cls, job: ReportJob, old: Mapping, fingerprint: str, files: Mapping[str, str]
    ) -> ReportOutcome:
        """``job`` kept as the previous run made it (its manifest entry ``old``)."""
        return cls(
            job,
            "unchanged",
            started=old.get("started"),
            duration=float(old.get("duration") or 0.0),
            figures=tuple(old.get("figures") or ()),
            fingerprint=fingerprint,
            files=dict(files),
        )

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


# ---------------------------------------------------------------------------------------------
# The previous run
# ---------------------------------------------------------------------------------------------


def entry_key(entry: Mapping) -> str:
    """A manifest entry's :attr:`ReportJob.key`."""
    if entry.get("kind") == "summary":
        return f"summary/{entry.get('lang')}"
    return f"{entry.get('model')}/{entry.get('unit_code')}/{entry.get('lang')}"


@dataclass(frozen=True)
class PreviousRun:
    """The published site in ``out``: its manifest, its entries by key (with their files) and
    the folder of the run that made it (where unchanged files are linked from)."""

    out: Path
    manifest: dict
    entries: dict[str, dict]
    root: Path

    @classmethod
    def read(cls, out: Path) -> PreviousRun:
        try:
            manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
        if not isinstance(manifest, dict):
            manifest = {}
        entries = {entry_key(e): _normalize_entry(e, out) for e in manifest.get("reports", [])}
        root = out
        run_id = manifest.get("run_id")
        if run_id and (out / RUNS / str(run_id)).is_dir():
            root = out / RUNS / str(run_id)
        return cls(out, manifest, entries, root)

    @property
    def run_id(self) -> str | None:
        return self.manifest.get("run_id")

    def source_of(self, rel: str) -> Path | None:
        """Where the previous run's file ``rel`` is: in its run folder, else published."""
        for root in (self.root, self.out):
            path = root / rel
            if path.is_file():
                return path
        return None


def _normalize_entry(entry: dict, out_dir: Path) -> dict:
    """Entries of the first runner's manifests list no files: find them (page and figures)."""
    if not isinstance(entry, dict) or isinstance(entry.get("files"), dict):
        return entry
    entry = dict(entry)
    files = {}
    if entry.get("status") in ("ok", "unchanged") or entry.get("published"):
        for rel in [entry.get("path"), *(entry.get("figures") or [])]:
            if rel and (out_dir / str(rel)).is_file():
                files[str(rel)] = file_hash(out_dir / str(rel))
    entry["files"] = files
    return entry


# ---------------------------------------------------------------------------------------------
# Plan: what to remake, what to keep
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInputs:
    """What every report of a run reads: the loaded dataset and its absolute path (what the
    notebooks are given), the run's settings, and the fingerprints made of them."""

    ds: Dataset
    dataset_path: str
    settings: RunSettings
    prints: Fingerprints

    def parameters(self, job: ReportJob) -> dict[str, Any]:
        return self.settings.job_parameters(job, self.dataset_path)


@dataclass
class Plan:
    to_run: list[tuple[ReportJob, dict, str]]  # job, parameters, fingerprint
    unchanged: list[tuple[ReportJob, dict, str, dict]]  # ... and the previous entry
    kept: list[dict]  # entries of earlier runs that this run does not plan, as they will be
    dropped: list[dict]
    kept_changed: bool
    previous: PreviousRun
    inputs: dict[str, dict] = field(default_factory=dict)  # job key -> Fingerprints.inputs
    reasons: dict[str, str] = field(default_factory=dict)  # job key -> why it is remade

    @property
    def nothing_to_do(self) -> bool:
        return not self.to_run and not self.dropped and not self.kept_changed

    def unchanged_outcomes(self) -> list[ReportOutcome]:
        return [
            ReportOutcome.unchanged(job, old, fp, old.get("files") or {})
            for job, _p, fp, old in self.unchanged
        ]

    def describe(self, lang: str) -> str:
        """How many reports are remade and why, how many are unchanged."""
        counts: dict[str, int] = {}
        for reason in self.reasons.values():
            counts[reason] = counts.get(reason, 0) + 1
        text = "; ".join(
            f"{label(f'run_reason_{name}', lang)} ({n})" for name, n in sorted(counts.items())
        )
        return label(
            "run_remaking", lang, n=len(self.to_run), reasons=text, unchanged=len(self.unchanged)
        )


def plan_run(jobs: list[ReportJob], inputs: RunInputs, previous: PreviousRun) -> Plan:
    """Which of ``jobs`` are remade, which are kept unchanged, and what becomes of the
    previous run's other reports (kept, marked outdated, or dropped)."""
    settings, prints = inputs.settings, inputs.prints
    to_run, unchanged, digests, reasons = [], [], {}, {}
    for job in jobs:
        parameters = inputs.parameters(job)
        digests[job.key] = prints.inputs(job, parameters)
        fp = prints.of(job, parameters)
        old = previous.entries.get(job.key)
        if not settings.force and _reusable(old, fp, job, settings.formats, previous):
            unchanged.append((job, parameters, fp, old))
        else:
            to_run.append((job, parameters, fp))
            reasons[job.key] = _reason(old, fp, digests[job.key], settings.force)
    planned = {job.key for job in jobs}
    pilots = inputs.ds.pilots
    alive = set(zip(pilots["unit_code"].astype(str), pilots["model"].astype(str), strict=True))
    if settings.notebooks.get("summary") is not None:
        alive.add(("summary", "summary"))
    kept, dropped, kept_changed = [], [], False
    for key, entry in previous.entries.items():
        if key in planned:
            continue
        if _pair(entry) not in alive or entry.get("lang") not in ("vi", "en"):
            dropped.append(entry)
            continue
        entry = dict(entry)
        stale = _entry_is_stale(entry, prints)
        was = entry.get("outdated_reason")
        if stale and not entry.get("outdated"):
            entry.update(outdated=True, outdated_reason="inputs_changed")
        elif not stale and was == "inputs_changed":
            entry.update(outdated=False, outdated_reason=None)
        kept_changed |= entry.get("outdated_reason") != was
        kept.append(entry)
    return Plan(to_run, unchanged, kept, dropped, kept_changed, previous, digests, reasons)


def _pair(entry: Mapping) -> tuple[str, str]:
    """An earlier report's pilot (unit, model), or ("summary", "summary")."""
    if entry.get("kind", "pilot") == "summary":
        return ("summary", "summary")
    return (str(entry.get("unit_code")), str(entry.get("model")))


def _reason(old: dict | None, fp: str, inputs: dict, force: bool) -> str:
    """Why a report is remade: the first input that changed, or new, forced, failed, files."""
    if force:
        return "force"
    if not old:
        return "new"
    if old.get("fingerprint") == fp:
        return "failed" if old.get("status") == "failed" or old.get("outdated") else "files"
    before = old.get("inputs") or {}
    for name in ("data", "code", "notebook", "parameters", "document", "versions", "report"):
        if before.get(name) != inputs.get(name):
            return name
    return "report"


def _entry_is_stale(entry: dict, prints: Fingerprints) -> bool:
    parameters = entry.get("parameters")
    if not isinstance(parameters, dict):
        return True
    return prints.of(ReportJob.from_entry(entry), parameters) != entry.get("fingerprint")


def _reusable(old, fp, job: ReportJob, formats, previous: PreviousRun) -> bool:
    if not old or old.get("fingerprint") != fp or old.get("outdated"):
        return False
    if old.get("status") not in ("ok", "unchanged"):
        return False
    files = old.get("files") or {}
    wanted = [job.html_path] + [job.document_path(f) for f in formats if f != "html"]
    if any(rel not in files for rel in wanted):
        return False
    return all(previous.source_of(rel) is not None for rel in files)
