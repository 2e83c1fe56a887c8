"""Running a run's reports on an existing Dask distributed cluster (``--scheduler``).

The client checks that every worker runs the same kiemnhiem code (by its code hash), sends the
dataset to each worker once, submits one task per report (:func:`.execute.execute_report` on
the worker, on a local copy of the dataset) and cancels them, kernels included, on a signal.
dask is imported only inside the functions. This module must not import the modules that plan
a run, build or publish its site (:mod:`.plan`, :mod:`.site`, :mod:`.publish`,
:mod:`.runner`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..exceptions import RunError
from ..labels import both
from .execute import Batch, cancel_kernels, execute_report, failure
from .fingerprints import code_hash, file_hash


def execute_on_cluster(
    specs: list[dict], batch: Batch, address: str, on_done: Callable[[int, dict], None]
) -> None:
    """Run every spec on the cluster at ``address``; ``on_done(i, result)`` in this thread as
    each finishes.

    Raises
    ------
    RunError
        dask is not installed, the scheduler cannot be reached or has no worker, or a worker
        runs other kiemnhiem code than ``batch.code_hash``.
    """
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
        expected = batch.code_hash
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
            [_dataset_payload(batch.dataset_path, batch.dataset_hash)], broadcast=True, hash=False
        )
        index = {}
        for i, spec in enumerate(specs):
            future = client.submit(
                _dask_execute,
                spec,
                payload,
                expected,
                key=f"kiemnhiem-{batch.token}-{i}",
                pure=False,
            )
            futures.append(future)
            index[future.key] = i
        for future in as_completed(futures, loop=client.loop):
            i = index[future.key]
            try:
                res = future.result()
            except Exception as exc:
                res = failure(
                    f"{type(exc).__name__}: {exc}", ename=type(exc).__name__, evalue=str(exc)
                )
            on_done(i, res)
    except BaseException:
        if futures:
            with contextlib.suppress(Exception):
                client.cancel(futures, force=True)
            with contextlib.suppress(Exception):
                client.run(_cancel_on_worker, batch.token)
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
        "hash": content_hash or file_hash(source),
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
    return code_hash()


def _dask_execute(spec: dict, payload: dict, expected_hash: str) -> dict:
    """A report on a Dask worker: same kiemnhiem, local dataset copy, outputs returned."""
    theirs = code_hash()
    if theirs != expected_hash:
        vi, en = both(
            "run_source_mismatch",
            worker=_hostname(),
            theirs=theirs[:12],
            ours=expected_hash[:12],
            count=1,
        )
        return failure(en if spec["lang"] == "en" else vi, ename="RunError", evalue=en)
    spec = dict(spec)
    spec["parameters"] = {**spec["parameters"], "dataset": _materialize(payload)}
    return execute_report(spec)


def _hostname() -> str:
    import socket

    return socket.gethostname()


def _cancel_on_worker(token: str) -> None:
    cancel_kernels(token)
