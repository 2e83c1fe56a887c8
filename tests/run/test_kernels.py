"""Kernels forked from a worker's warm kernel server (:mod:`kiemnhiem.run.kernels`): a report
comes out as from a fresh kernel, and a worker's death, or the pool's stop, leaves no kernel
behind. Real kernels (slow)."""

from __future__ import annotations

import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from kiemnhiem.resources import demo_dir, notebook_path
from kiemnhiem.run import kernels
from kiemnhiem.run.execute import KERNEL_NAME, _kernel_env, execute_report, start_pool, stop_pool
from tests.run.helpers import make_notebook

pytestmark = pytest.mark.skipif(not kernels.supported(), reason="forked kernels: Linux only")


def test_only_this_pythons_ipykernel_is_forked():
    python = sys.executable
    assert kernels.launcher_arguments(
        [python, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "c.json", "--x=1"]
    ) == ["-f", "c.json", "--x=1"]
    assert kernels.launcher_arguments([python, "-m", "other_kernel", "-f", "c.json"]) is None
    assert kernels.launcher_arguments(["/usr/bin/R", "-m", "ipykernel_launcher"]) is None
    assert kernels.launcher_arguments([]) is None


@pytest.fixture
def server(monkeypatch):
    """This process as a worker: its kernel server, whose forks are recorded."""
    started = kernels.start_kernel_server(_kernel_env(), tempfile.gettempdir())
    assert started is not None
    pids: list = []
    fork = started.fork

    def recording_fork(*args, **kwargs):
        pids.append(fork(*args, **kwargs))
        return pids[-1]

    monkeypatch.setattr(started, "fork", recording_fork)
    yield pids
    started.close()
    kernels._SERVER = None


def _spec(parameters: dict, notebook: Path | None = None) -> dict:
    return {
        "notebook_path": str(notebook or notebook_path("pilot_report")),
        "parameters": parameters,
        "timeout": 600.0,
        "lang": "vi",
        "title": "t",
        "figure_suffix": ".png",
        "kernel_name": KERNEL_NAME,
        "key": "k",
    }


@pytest.mark.slow
def test_a_forked_kernel_makes_the_report_a_fresh_kernel_makes(server, monkeypatch):
    parameters = {
        "dataset": str(demo_dir()),
        "unit": "122",
        "model": "danvan_mttq",
        "lang": "vi",
        "pre_years": 3,
        "post_years": 3,
        "level": 0.1,
        "classification": None,
    }
    forked = execute_report(_spec(parameters))
    assert forked["status"] == "ok", forked.get("error")
    assert server and all(pid is not None for pid in server)  # the kernel was forked
    monkeypatch.setattr(kernels, "_SERVER", None)  # now a kernel started as usual
    fresh = execute_report(_spec(parameters))
    assert fresh["status"] == "ok", fresh.get("error")
    assert len(server) == 1
    # papermill gives its injected parameters cell a random id; nothing else may differ.
    assert _without_cell_ids(forked["html"]) == _without_cell_ids(fresh["html"])
    assert forked["figures"] == fresh["figures"] and len(fresh["figures"]) > 0


@pytest.mark.slow
def test_a_forked_kernel_collects_garbage_less_often_than_python_does(server, tmp_path):
    # The server froze what it imported; the kernel collects its first generation every
    # KERNEL_GC_THRESHOLD allocations, not Python's 700 (or 2,000 from 3.13).
    notebook = make_notebook(tmp_path / "gc.ipynb", "x = 1")
    nb = nbformat.read(notebook, as_version=4)
    shown = "f'threshold={gc.get_threshold()[0]} frozen={gc.get_freeze_count()}'"
    nb.cells[1].source = f"import gc\nprint({shown})"
    nbformat.write(nb, notebook)
    done = execute_report(_spec({"x": 2}, notebook))
    assert done["status"] == "ok", done.get("error")
    assert server and all(pid is not None for pid in server)
    found = re.search(r"threshold=(\d+) frozen=(\d+)", done["html"])
    assert found, "the cell's output is missing"
    assert int(found.group(1)) == kernels.KERNEL_GC_THRESHOLD == 5000
    assert int(found.group(2)) > 10_000  # pandas, matplotlib, ipykernel: many more than that


def _without_cell_ids(html: str) -> str:
    return re.sub(r"cell-id=[0-9a-f-]+", "cell-id=", html)


def _sleeping_notebook(path: Path) -> Path:
    notebook = make_notebook(path, "x = 1")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[1].source = "import time\ntime.sleep(120)"
    nbformat.write(nb, notebook)
    return notebook


def _forked_kernels(worker: int, timeout: float = 60) -> tuple[list, list]:
    """(the worker's descendants, its forked kernels) once a kernel runs."""
    import psutil

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        kids = psutil.Process(worker).children(recursive=True)
        forked = [p for p in kids if p.ppid() != worker and p.ppid() in {k.pid for k in kids}]
        if forked:
            time.sleep(1.0)  # running its cell
            return kids, forked
        time.sleep(0.1)
    raise AssertionError("no forked kernel started")


def _all_gone(processes: list, timeout: float = 15) -> list:
    import psutil

    end = time.monotonic() + timeout
    alive = processes
    while time.monotonic() < end:
        alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return []
        time.sleep(0.2)
    return [p.cmdline() for p in alive]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["stop_pool", "worker_killed"])
def test_nothing_outlives_a_stopped_pool_or_a_killed_worker(tmp_path, how):
    notebook = _sleeping_notebook(tmp_path / "sleep.ipynb")
    pool = start_pool(1)
    try:
        future = pool.submit(execute_report, _spec({"x": 2}, notebook))
        worker = next(iter(pool._processes))
        kids, forked = _forked_kernels(worker)
        assert _has_server(kids)
        if how == "stop_pool":
            stop_pool(pool)
        else:  # SIGKILL: no handler runs, the kernel server and its kernel must still end
            os.kill(worker, signal.SIGKILL)
            with pytest.raises(Exception):  # noqa: B017 - BrokenProcessPool
                future.result(timeout=30)
        assert _all_gone(kids) == []
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _has_server(processes: list) -> bool:
    return any(kernels.SERVER_COMMAND in " ".join(p.cmdline()) for p in processes)
