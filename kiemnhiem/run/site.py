"""A run's site: the reports' outputs stored in the run's folder, the files it keeps from the
previous run (outdated pages marked with a banner), what changed since the previous run, the
manifest, and the index page.

Writes only inside the run's folder (``OUT/runs/<id>/``); making it public is
:mod:`.publish`'s job. jinja2 is imported only to render the index. This module must not
import papermill, nbconvert, jupyter_client or dask, nor the modules that execute or run
reports (:mod:`.cluster`, :mod:`.runner`); from :mod:`.execute` it takes only the figure-name
rule.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..labels import both, format_moment, label
from ..resources import templates_dir
from .execute import FIGURE_NAME
from .fingerprints import MANIFEST_SCHEMA
from .plan import Plan, ReportJob, ReportOutcome, RunInputs, entry_key
from .publish import INDEX, MANIFEST, link_or_copy, sha256_bytes, write_bytes_atomic

if TYPE_CHECKING:
    from ..data.dataset import Dataset

_OUTDATED_START = "<!--kn-outdated-->"
_OUTDATED_END = "<!--/kn-outdated-->"


# ---------------------------------------------------------------------------------------------
# The run's folder
# ---------------------------------------------------------------------------------------------


def store_outputs(run_dir: Path, job: ReportJob, res: Mapping) -> dict[str, str]:
    """Write a report's outputs into the run's site; returns ``{relative path: sha256}``."""
    files: dict[str, str] = {}

    def put(rel: str, data: bytes) -> None:
        path = run_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = sha256_bytes(data)

    for name, data in sorted((res.get("figures") or {}).items()):
        if FIGURE_NAME.match(name.removesuffix(job.figure_suffix)):
            put(f"{job.figures_dir}/{name}", data)
    for fmt, data in sorted((res.get("documents") or {}).items()):
        put(job.document_path(fmt), data)
    put(job.html_path, res["html"].encode("utf-8"))
    return files


def assemble(
    plan: Plan, outcomes: Mapping[str, ReportOutcome], run_dir: Path
) -> tuple[list[dict], list[ReportOutcome]]:
    """The run's manifest entries and the outcomes in the plan's order, its site completed
    with the files it keeps from the previous run."""
    folder = _RunFolder(plan, run_dir)
    made = [folder.made(job, params, outcomes[job.key]) for job, params, _fp in plan.to_run]
    unchanged = [folder.unchanged(*item) for item in plan.unchanged]
    ordered = [outcome for _entry, outcome in made + unchanged]
    entries = [entry for entry, _outcome in made + unchanged]
    entries += [folder.kept(old) for old in plan.kept]
    entries.sort(
        key=lambda e: (
            e.get("kind", "pilot") != "summary",
            str(e.get("model")),
            str(e.get("unit_code")),
            str(e.get("lang")),
        )
    )
    return entries, ordered


class _RunFolder:
    """The run's folder being completed: each report's manifest entry, with the files it
    keeps from the previous run linked in."""

    def __init__(self, plan: Plan, run_dir: Path):
        self.plan = plan
        self.run_dir = run_dir

    def link(self, files: Mapping[str, str]) -> dict[str, str]:
        """Link (or copy) the previous run's ``files`` that still exist; returns those."""
        kept = {}
        for rel, digest in files.items():
            source = self.plan.previous.source_of(rel)
            if source is not None:
                link_or_copy(source, self.run_dir / rel)
                kept[rel] = digest
        return kept

    def made(
        self, job: ReportJob, parameters: Mapping, outcome: ReportOutcome
    ) -> tuple[dict, ReportOutcome]:
        """A report made in this run; when it failed, its last good version, marked."""
        entry = outcome.to_dict()
        entry["parameters"] = {k: v for k, v in parameters.items() if k != "dataset"}
        entry["inputs"] = self.plan.inputs.get(job.key, {})
        entry["built"] = outcome.started if outcome.status == "ok" else None
        if outcome.status == "ok":
            entry["results"] = None if outcome.results is None else list(outcome.results)
            return entry, outcome
        old = self.plan.previous.entries.get(job.key) or {}
        files = self.link(old.get("files") or {})
        if job.html_path in files:
            built = old.get("built") or old.get("started") or "–"
            files[job.html_path] = _set_banner(
                self.run_dir / job.html_path,
                label(
                    "run_outdated_banner",
                    job.lang,
                    built=format_moment(built, job.lang) if built != "–" else built,
                    error=outcome.error or "",
                ),
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
        return entry, outcome

    def unchanged(
        self, job: ReportJob, parameters: Mapping, fp: str, old: dict
    ) -> tuple[dict, ReportOutcome]:
        """A report up to date: the previous run's entry and files, under this run."""
        entry = dict(old)
        files = self.link(old.get("files") or {})
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
            inputs=self.plan.inputs.get(job.key, {}),
            built=old.get("built") or old.get("started"),
        )
        return entry, ReportOutcome.unchanged(job, old, fp, files)

    def kept(self, old: dict) -> dict:
        """A report this run does not plan (another language, not in ``--only``), its page
        marked outdated or no longer as its entry says."""
        entry = dict(old)
        entry["files"] = files = self.link(old.get("files") or {})
        path = str(entry.get("path"))
        if path in files and entry.get("outdated_reason") != "failed":
            # Whoever opens the page itself sees that it is outdated, and when it no longer is.
            lang = str(entry.get("lang") or "vi")
            text = label(
                "run_outdated_inputs_banner", lang, built=format_moment(entry.get("built"), lang)
            )
            marked = _OUTDATED_START in (self.run_dir / path).read_text(encoding="utf-8")
            if bool(entry.get("outdated")) != marked:
                files[path] = _set_banner(
                    self.run_dir / path, text if entry.get("outdated") else None
                )
        return entry


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


def published_files(manifest: dict) -> set[str]:
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


def changes_since(previous_entries: Sequence[dict], entries: Sequence[dict]) -> list[dict]:
    """Verdicts that flipped and estimates that moved since the previous run."""
    before = {entry_key(e): e for e in previous_entries}
    changes = []
    for entry in entries:
        old = before.get(entry_key(entry))
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


@dataclass(frozen=True)
class RunRecord:
    """What the manifest says of the run itself."""

    run_id: str
    previous_run: str | None
    started: str
    duration: float
    exit_code: int


def build_manifest(
    inputs: RunInputs, record: RunRecord, entries: list[dict], changes: list[dict]
) -> dict:
    """``manifest.json``: versions, hashes, parameters, the run's outcome and every report."""
    from .. import __version__

    ds, prints, settings = inputs.ds, inputs.prints, inputs.settings
    counts = {
        "ok": sum(e.get("status") == "ok" for e in entries),
        "unchanged": sum(e.get("status") == "unchanged" for e in entries),
        "failed": sum(e.get("status") == "failed" for e in entries),
        "outdated": sum(bool(e.get("outdated")) for e in entries),
    }
    only = list(settings.only) if settings.only else None
    return {
        "schema": MANIFEST_SCHEMA,
        "run_id": record.run_id,
        "previous_run": record.previous_run,
        "kiemnhiem_version": __version__,
        "python": sys.version.split()[0],
        "versions": prints.versions,
        "started": record.started,
        "duration": round(record.duration, 3),
        "status": "failed" if counts["failed"] else "ok",
        "exit_code": record.exit_code,
        "counts": counts,
        "dataset": {
            "path": inputs.dataset_path,
            "name": ds.name,
            "content_hash": ds.content_hash,
            "synthetic": bool(ds.synthetic),
        },
        "notebooks": {
            kind: {"name": Path(path).name, "sha256": prints.notebook_hash.get(kind, "")}
            for kind, path in settings.notebooks.items()
            if path is not None
        },
        "code_sha256": prints.code_hash,
        "parameters": {**settings.as_dict(), "only": only, "force": settings.force},
        "changes": changes,
        "reports": entries,
    }


def write_manifest_and_index(run_dir: Path, manifest: dict, inputs: RunInputs) -> None:
    """The run's ``manifest.json`` and ``index.html``."""
    data = (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode()
    write_bytes_atomic(run_dir / MANIFEST, data)
    page = render_index(manifest, inputs.ds, classification=inputs.settings.classification)
    write_bytes_atomic(run_dir / INDEX, page.encode("utf-8"))


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
    # Names looked up in dictionaries made once: a DataFrame filter per name (356 of them on
    # the demo's index) cost 0.3 CPU-s of the runner's 1.6 for a whole demo site.
    models = _names(ds.models if ds is not None else None)
    indicators = _names(ds.indicators if ds is not None else None)
    reports = manifest.get("reports", [])
    rows = [_index_row(entry, models, indicators) for entry in reports]
    changes = [_change_row(c, indicators) for c in manifest.get("changes") or []]
    n_ok = sum(e.get("status") in ("ok", "unchanged") for e in reports)
    n_failed = sum(e.get("status") == "failed" for e in reports)
    dataset = manifest.get("dataset", {})
    synthetic = bool(dataset.get("synthetic")) if ds is None else bool(ds.synthetic)
    previous = manifest.get("previous_run")
    context = {
        "run_id": manifest.get("run_id") or "",
        "title": _pair("index_title"),
        "head": {
            key: _pair(f"index_{key}")
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
                "results",
            )
        },
        "counts": _pair("index_counts", ok=n_ok, failed=n_failed),
        "sort_hint": _pair("index_sort_hint"),
        "changes_title": _pair("index_changes_title", run=previous or "–"),
        "no_changes": _pair("index_no_changes" if previous else "index_first_run"),
        "changes": changes,
        "synthetic": synthetic,
        "synthetic_title": _pair("report_synthetic_title"),
        "synthetic_text": _pair("report_synthetic_text", name=dataset.get("name", "")),
        "classification": classification,
        "dataset_name": dataset.get("name", ""),
        "generated": {
            "vi": format_moment(manifest.get("started"), "vi"),
            "en": format_moment(manifest.get("started"), "en"),
        },
        "version": manifest.get("kiemnhiem_version", ""),
        "rows": rows,
    }
    template = (templates_dir() / "site" / "index.html.j2").read_text(encoding="utf-8")
    return env.from_string(template).render(**context)


def _pair(key: str, **fields: Any) -> dict[str, str]:
    vi, en = both(key, **fields)
    return {"vi": vi, "en": en}


def _moment_pair(key: str, built) -> str:
    """``key`` in both languages, each with the moment ``built`` in its own words."""
    return " / ".join(label(key, lang, built=format_moment(built, lang)) for lang in ("vi", "en"))


def _joined(key: str, **fields: Any) -> str:
    return " / ".join(_pair(key, **fields).values())


def _index_row(entry: Mapping, models, indicators=None) -> dict[str, Any]:
    """One report's row of the index page."""
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
        note = _moment_pair("index_outdated_failed", entry.get("built"))
    elif outdated:
        note = _moment_pair("index_outdated_inputs", entry.get("built"))
    if kind == "summary":
        unit = _joined("run_summary_title")
        model_vi, model_en = "–", "–"
    else:
        unit = f"{entry.get('unit_name')} ({entry.get('unit_code')})"
        model_vi, model_en = _model_name(models, model, "vi"), _model_name(models, model, "en")
    return {
        "unit": unit,
        "sort_unit": "" if kind == "summary" else str(entry.get("unit_code")),
        "sort_model": f"{model}/{entry.get('unit_code')}",
        "sort_status": _STATUS_RANK.get(shown, "9"),
        "model_vi": model_vi,
        "model_en": model_en,
        "lang_label": _joined(f"index_lang_{lang}") if lang in ("vi", "en") else lang,
        "status": shown,
        "status_label": _joined(f"index_status_{shown}"),
        "note": note,
        "error": entry.get("error") if status == "failed" else None,
        "links": links,
        "results": {
            lang_: _results_lines(entry, models, indicators, lang_) for lang_ in ("vi", "en")
        },
    }


#: Verdicts the results column names one by one (symbol, words, indicators); the others are
#: counted.
_NAMED_VERDICTS = (
    "improved",
    "worsened",
    "changed",
    "in_line",
    "in_line_before_after",
    "differs",
    "pretrend",
)


def _results_lines(entry: Mapping, models, indicators, lang: str) -> list[str]:
    """A report's main verdicts in words and symbols, for the index's results column: per
    verdict its symbol, its words and the indicators (counted for the verdicts that are not
    conclusions); the summary's per model."""
    from ..report.text import VERDICTS, verdict_symbol, verdict_text

    results = entry.get("results") or []
    if not results:
        return []
    groups: dict[str, list[dict]] = {}
    if entry.get("kind") == "summary":
        for r in results:
            groups.setdefault(str(r.get("model") or ""), []).append(r)
    else:
        groups[""] = list(results)
    lines = []
    for model, rows in groups.items():
        by: dict[str, list[str]] = {}
        for r in rows:
            code = str(r.get("verdict") or "not_assessed")
            by.setdefault(code, []).append(_indicator_name(indicators, str(r["indicator"]), lang))
        parts = []
        for code in [*VERDICTS, *sorted(set(by) - set(VERDICTS))]:
            if code not in by:
                continue
            words = verdict_text(code, lang)
            if code in _NAMED_VERDICTS:
                parts.append(f"{verdict_symbol(code)} {words}: {', '.join(by[code])}")
            else:
                n = label("index_n_indicators", lang, n=len(by[code]))
                parts.append(f"{verdict_symbol(code)} {words}: {n}")
        text = "; ".join(parts)
        if model:
            text = f"{_model_name(models, model, lang)} – {text}"
        lines.append(text)
    return lines


def _change_row(c: Mapping, indicators) -> dict[str, Any]:
    """One line of "what changed since the previous run"."""
    code = str(c.get("indicator"))
    return {
        "unit": (
            _joined("run_summary_title")
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


def _names(frame) -> dict[str, dict]:
    """``{lang: {code: label}}`` from a dataset's models or indicators (None: no names), the
    first row of each code, as the index names them."""
    table: dict[str, dict] = {"vi": {}, "en": {}}
    if frame is None or not len(frame):
        return table
    for lang, names in table.items():
        column = f"label_{lang}"
        if column in frame:
            for code, text in zip(frame["code"], frame[column], strict=True):
                names.setdefault(code, text)
    return table


def _model_name(models: dict[str, dict] | None, code: str, lang: str) -> str:
    """A model's name in ``lang`` from :func:`_names`' table, else its code."""
    text = models[lang].get(code) if models else None
    return text if isinstance(text, str) and text else code


_indicator_name = _model_name


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
