"""Publishing a run: a complete site per run, made public file by file through a journal.

Layout of an output folder ``OUT``::

    OUT/.lock                 the run lock (kiemnhiem.run.lock)
    OUT/.publish.json         the journal, present only while a run is being published
    OUT/runs/<id>/...         each run's complete site, in the published layout
    OUT/index.html, OUT/manifest.json, OUT/summary.html, OUT/<model>/...   the published site

A run builds ``OUT/runs/<id>/`` completely (hard links to unchanged files of the previous run,
new files for the rest). :func:`publish_run` then writes the journal, and for every file of the
run, index.html last, puts a same-folder copy (a hard link, or a copy where links are not
possible) next to the published file and ``os.replace``-s it; then it removes published files
the run no longer has, marks the run published and deletes the journal. SIGINT and SIGTERM wait
meanwhile (:meth:`SignalGuard.defer`). A run killed half-way leaves the journal: the next run
first calls :func:`complete_pending`, which does the same steps again (each is idempotent), so a
reader sees every file either in its old or its new version and never a half-written one.

Only published runs are kept under ``runs/``, the last :data:`KEEP_RUNS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import threading
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

JOURNAL = ".publish.json"
RUNS = "runs"
MANIFEST = "manifest.json"
INDEX = "index.html"
#: Published runs kept under ``OUT/runs/``.
KEEP_RUNS = 3
#: Marks a run folder whose publication finished.
PUBLISHED_MARK = ".published"
_RUN_ID = re.compile(r"^\d{8}T\d{6}-\d{6}$")
#: Test hook: kill this process with SIGKILL after publishing step k (0 = journal written).
KILL_AT_ENV = "KIEMNHIEM_PUBLISH_KILL_AT"


# ---------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by SIGINT or SIGTERM; ``exit_code`` is 128 + the signal number.

    A ``KeyboardInterrupt``, so that ``except Exception`` around one report never swallows it.
    """

    def __init__(self, signum: int):
        self.signum = int(signum)
        self.exit_code = 128 + self.signum
        super().__init__(f"signal {self.signum}")


class SignalGuard:
    """Turn SIGINT and SIGTERM into :class:`RunInterrupted` for the length of a ``with``.

    Inside :meth:`defer` a signal is remembered instead and raised when the deferred block
    ends, so that publishing is never cut in the middle. Once one signal has stopped the run,
    further ones are ignored, so that a second Ctrl-C cannot cut the clean-up (kernels shut
    down, futures cancelled). Outside the main thread (where Python cannot install handlers)
    it does nothing.
    """

    _SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s)

    def __init__(self) -> None:
        self._old: dict[int, object] = {}
        self._deferring = 0
        self._pending: int | None = None
        self._raised = False

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for sig in self._SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _handle(self, signum, frame) -> None:
        if self._raised:
            return
        if self._deferring:
            self._pending = signum
            return
        self._raised = True
        raise RunInterrupted(signum)

    @contextlib.contextmanager
    def defer(self) -> Iterator[None]:
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if not self._deferring and self._pending is not None:
            signum, self._pending = self._pending, None
            self._raised = True
            raise RunInterrupted(signum)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def new_run_id(out: Path | None = None, now: datetime | None = None) -> str:
    """``20250301T021500-123456`` (to the microsecond): runs sort by their ids, later than
    every run already under ``OUT/runs/`` even if the clock went back."""
    now = now or datetime.now()
    if out is not None:
        folder = Path(out) / RUNS
        existing = []
        if folder.is_dir():
            existing = sorted(p.name for p in folder.iterdir() if _RUN_ID.match(p.name))
        if existing:
            last = datetime.strptime(existing[-1], "%Y%m%dT%H%M%S-%f")
            now = max(now, last + timedelta(microseconds=1))
    return f"{now:%Y%m%dT%H%M%S}-{now.microsecond:06d}"


def link_or_copy(source: Path, target: Path) -> None:
    """Make ``target`` a hard link to ``source`` (a copy where links are impossible)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def site_files(folder: Path) -> list[str]:
    """Every file of a run's site, ``/``-separated, in publishing order.

    Hidden files and folders (work folders, markers) are not part of the site. Reports,
    figures and documents first, then the summary, the manifest, and ``index.html`` last.
    """
    files = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            files.append(rel.as_posix())

    def order(rel: str) -> tuple[int, str]:
        if rel == INDEX:
            return (3, rel)
        if rel == MANIFEST:
            return (2, rel)
        if rel.startswith("summary"):
            return (1, rel)
        return (0, rel)

    return sorted(files, key=order)


# ---------------------------------------------------------------------------------------------
# The journal
# ---------------------------------------------------------------------------------------------


def publish_run(
    out: Path,
    run_id: str,
    remove: Iterable[str] = (),
    guard: SignalGuard | None = None,
) -> list[str]:
    """Publish ``OUT/runs/<run_id>/`` as the site; returns the files published.

    ``remove`` lists published files (``/``-separated) that the run no longer has; they are
    deleted after every file of the run is in place.
    """
    out = Path(out)
    source = out / RUNS / run_id
    files = site_files(source)
    keep = set(files)
    journal = {
        "run": run_id,
        "files": files,
        "remove": sorted(r for r in set(remove) if r not in keep and _safe(r)),
    }
    deferred = guard.defer() if guard is not None else contextlib.nullcontext()
    with deferred:
        write_bytes_atomic(out / JOURNAL, json.dumps(journal, indent=1).encode("utf-8"))
        _step(0)
        _apply(out, journal)
    return files


def complete_pending(out: Path, guard: SignalGuard | None = None) -> str | None:
    """Finish a publication that a killed run left half-done; returns its run id, if any.

    A journal whose run folder is gone cannot be completed; it is removed (every file it
    concerned is then in its old or its new version, each of them whole).
    """
    out = Path(out)
    path = out / JOURNAL
    if not path.exists():
        return None
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
        run_id = str(journal["run"])
        files = [str(f) for f in journal["files"]]
        remove = [str(f) for f in journal.get("remove", [])]
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if not _RUN_ID.match(run_id) or not (out / RUNS / run_id).is_dir():
        path.unlink(missing_ok=True)
        return None
    deferred = guard.defer() if guard is not None else contextlib.nullcontext()
    with deferred:
        _apply(out, {"run": run_id, "files": files, "remove": remove})
    return run_id


def _apply(out: Path, journal: dict) -> None:
    run_id = journal["run"]
    source = out / RUNS / run_id
    files = [f for f in journal["files"] if _safe(f)]
    for k, rel in enumerate(files, start=1):
        _replace_from(source / rel, out / rel, run_id)
        _step(k)
    for rel in journal["remove"]:
        if not _safe(rel):
            continue
        target = out / rel
        target.unlink(missing_ok=True)
        _remove_empty_parents(target.parent, out)
    _step(len(files) + 1)
    (source / PUBLISHED_MARK).touch()
    (out / JOURNAL).unlink(missing_ok=True)
    _step(len(files) + 2)


def _replace_from(source: Path, target: Path, run_id: str) -> None:
    if not source.is_file():  # a file of the run that vanished: leave the published one
        return
    with contextlib.suppress(OSError):
        if target.exists() and os.path.samefile(source, target):
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{run_id}.tmp")
    tmp.unlink(missing_ok=True)
    link_or_copy(source, tmp)
    os.replace(tmp, target)


def _safe(rel: str) -> bool:
    """A relative path inside the site, not in ``runs/`` nor hidden."""
    parts = Path(rel).parts
    return (
        bool(parts)
        and not Path(rel).is_absolute()
        and ".." not in parts
        and parts[0] != RUNS
        and not any(p.startswith(".") for p in parts)
    )


def _remove_empty_parents(folder: Path, top: Path) -> None:
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _step(k: int) -> None:
    value = os.environ.get(KILL_AT_ENV)
    if value is not None and value.strip() == str(k):
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------


def published_runs(out: Path) -> list[str]:
    """Run ids under ``OUT/runs/`` whose publication finished, oldest first."""
    folder = Path(out) / RUNS
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if _RUN_ID.match(p.name) and (p / PUBLISHED_MARK).exists()
    )


def prune_runs(out: Path, keep: int = KEEP_RUNS, *, spare: Iterable[str] = ()) -> list[str]:
    """Delete all but the last ``keep`` published runs, and unpublished leftovers of runs that
    were interrupted or killed (except ``spare``); returns what was deleted."""
    folder = Path(out) / RUNS
    if not folder.is_dir():
        return []
    spare = set(spare)
    pending = _pending_run(Path(out))
    if pending:
        spare.add(pending)
    kept = set(published_runs(out)[-keep:]) if keep > 0 else set()
    deleted = []
    for path in sorted(folder.iterdir()):
        if path.name in kept or path.name in spare or not path.is_dir():
            continue
        if _RUN_ID.match(path.name) or path.name.startswith(".tmp-"):
            shutil.rmtree(path, ignore_errors=True)
            deleted.append(path.name)
    return deleted


def _pending_run(out: Path) -> str | None:
    try:
        return str(json.loads((out / JOURNAL).read_text(encoding="utf-8"))["run"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# ---------------------------------------------------------------------------------------------
# Checking a site
# ---------------------------------------------------------------------------------------------

_HREF = re.compile(r'<a\b[^>]*\bhref="([^"#?]+\.html)"')


def site_problems(out: Path) -> list[str]:
    """What is inconsistent in a published site (empty when all is well).

    Every file the manifest lists exists with the recorded sha256; ``index.html`` links
    exactly the manifest's pages; no journal nor temporary file is left.
    """
    out = Path(out)
    problems = []
    if (out / JOURNAL).exists():
        problems.append("journal left: publication unfinished")
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [*problems, f"manifest unreadable: {exc}"]
    pages = set()
    for entry in manifest.get("reports", []):
        files = entry.get("files") or {}
        for rel, digest in files.items():
            path = out / rel
            if not path.is_file():
                problems.append(f"missing: {rel}")
            elif sha256_file(path) != digest:
                problems.append(f"differs from the manifest: {rel}")
        if entry.get("path") in files:
            pages.add(entry["path"])
    try:
        index = (out / INDEX).read_text(encoding="utf-8")
    except OSError as exc:
        return [*problems, f"index unreadable: {exc}"]
    linked = set(_HREF.findall(index))
    if linked != pages:
        problems.append(
            f"index links {sorted(linked - pages)} not in the manifest, "
            f"misses {sorted(pages - linked)}"
        )
    if manifest.get("run_id") and f'data-run="{manifest["run_id"]}"' not in index:
        problems.append("index and manifest come from different runs")
    leftovers = [
        p.relative_to(out).as_posix()
        for p in out.rglob("*.tmp")
        if RUNS not in p.relative_to(out).parts
    ]
    problems += [f"temporary file left: {p}" for p in leftovers]
    return problems
