"""Benchmark of the report runner (not a test: it prints its figures).

In one go over the demo's reports (or the first ``--reports N``):

(a) serial command line: ``papermill`` then ``jupyter nbconvert --to html --no-input
    --embed-images`` per report, one after the other;
(b) papermill's Python API on a pool of ``--workers`` processes, HTML exported in the worker by
    one exporter per process, no runner features (no checks, no manifest, no publishing);
(c) ``kiemnhiem run --force`` on the same reports (the whole runner, as a user runs it), then
    the same command again with nothing changed;
(d) stretch: a fork server that has imported pandas, matplotlib, IPython and kiemnhiem forks
    one child per report, which runs the notebook's cells in-process (no kernel) and exports
    HTML (``--fork-server``).

Targets: (c) ≤ 1.15 × (b); the no-change re-run < 1.5 s.

``--units 12,48,192`` repeats (b) and (c) on ``kiemnhiem demo --units N`` datasets (17, 68, 272
pilots) with the same number of reports, and prints the time per report (the scaling table).

Usage::

    python benchmarks/bench_runner.py --reports 6
    python benchmarks/bench_runner.py --reports 8 --units 12,48,192 --skip-serial
    python benchmarks/bench_runner.py            # every report of the demo (slow)
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _jobs(dataset: str, n: int | None) -> list[tuple[str, str]]:
    from kiemnhiem.data.dataset import load_dataset
    from kiemnhiem.run.plan import plan_reports

    jobs = [(j.unit_code, j.model) for j in plan_reports(load_dataset(dataset))]
    return jobs[:n] if n else jobs


def _parameters(dataset: str, unit: str, model: str) -> dict:
    return {
        "dataset": dataset,
        "unit": unit,
        "model": model,
        "lang": "vi",
        "pre_years": 3,
        "post_years": 3,
        "level": 0.1,
        "classification": None,
    }


# ---------------------------------------------------------------------------------------------
# (a) serial command line
# ---------------------------------------------------------------------------------------------


def bench_serial_cli(dataset: str, jobs, work: Path) -> float:
    notebook = ROOT / "notebooks" / "pilot_report.ipynb"
    start = time.perf_counter()
    for unit, model in jobs:
        out = work / f"{model}-{unit}.ipynb"
        subprocess.run(
            [str(BIN / "papermill"), str(notebook), str(out), "--no-progress-bar",
             "-p", "dataset", dataset, "-r", "unit", unit, "-p", "model", model],
            check=True, capture_output=True, env=_env(),
        )  # fmt: skip
        subprocess.run(
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", "--embed-images",
             str(out)],
            check=True, capture_output=True, env=_env(),
        )  # fmt: skip
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# (b) papermill's Python API on a pool, in-process HTML export, nothing else
# ---------------------------------------------------------------------------------------------

_EXPORTER = None


def _pool_init() -> None:
    global _EXPORTER
    from nbconvert import HTMLExporter

    _EXPORTER = HTMLExporter(exclude_input=True, embed_images=True)


def _pool_report(args: tuple[str, dict, str]) -> float:
    import papermill as pm

    notebook, parameters, out = args
    start = time.perf_counter()
    nb = pm.execute_notebook(
        notebook, None, parameters=parameters, progress_bar=False, kernel_name="python3"
    )
    body, _ = _EXPORTER.from_notebook_node(nb)
    Path(out).write_text(body, encoding="utf-8")
    return time.perf_counter() - start


def bench_pool(dataset: str, jobs, work: Path, workers: int) -> float:
    notebook = str(ROOT / "notebooks" / "pilot_report.ipynb")
    start = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_pool_init) as pool:
        args = [
            (notebook, _parameters(dataset, u, m), str(work / f"{m}-{u}.html")) for u, m in jobs
        ]
        list(pool.map(_pool_report, args))
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# (c) the runner, from the command line
# ---------------------------------------------------------------------------------------------


def bench_runner(dataset: str, jobs, out: Path, workers: int) -> tuple[float, float, dict]:
    only = [f"{u}:{m}" for u, m in jobs]
    command = [sys.executable, "-m", "kiemnhiem", "run", dataset, "--out", str(out),
               "--workers", str(workers), "--quiet", "--only", *only]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run([*command, "--force"], env=_env(), capture_output=True, text=True)
    forced = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    # Nothing changed: the same command again (others editing the checkout change the code
    # hash, which rightly remakes everything; then measure again).
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, env=_env(), capture_output=True, check=True)
        again = time.perf_counter() - start
        if (
            json.loads((out / "manifest.json").read_text(encoding="utf-8"))["run_id"]
            == (manifest["run_id"])
        ):
            break
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return forced, again, manifest


# ---------------------------------------------------------------------------------------------
# (d) stretch: a fork server, no kernels
# ---------------------------------------------------------------------------------------------


def _run_cells_in_process(nb) -> None:
    """Execute a notebook's code cells in this process with IPython, outputs captured."""
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        with capture_output() as captured:
            result = shell.run_cell(cell.source, store_history=False)
        outputs = []
        if captured.stdout:
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=captured.stdout))
        for rich in captured.outputs:
            outputs.append(
                nbformat.v4.new_output("display_data", data=rich.data, metadata=rich.metadata)
            )
        cell.outputs = outputs
        if not result.success:
            raise RuntimeError(f"cell failed: {result.error_in_exec or result.error_before_exec}")


def _fork_server(jobs_q, done_q, workers: int) -> None:
    """Import everything once, then fork one child per report (at most ``workers`` at once)."""
    import matplotlib

    matplotlib.use("Agg")
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell
    from nbconvert import HTMLExporter
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    import kiemnhiem.report.html  # noqa: F401 (imports frames, text and indicators)
    import kiemnhiem.report.plots  # noqa: F401
    import kiemnhiem.stats.evaluation  # noqa: F401

    exporter = HTMLExporter(exclude_input=True, embed_images=True)
    exporter.from_notebook_node(nbformat.v4.new_notebook())  # load the templates once
    InteractiveShell.instance()  # each child gets a copy of this fresh shell
    done_q.put("ready")
    running = 0
    while True:
        item = jobs_q.get()
        if item is None:
            break
        while running >= workers:
            os.wait()
            running -= 1
        notebook, parameters, out = item
        pid = os.fork()
        if pid == 0:  # the child: one report
            code = 0
            try:
                nb = load_notebook_node(notebook)
                nb = parameterize_notebook(nb, parameters, kernel_name="python3")
                _run_cells_in_process(nb)
                body, _ = exporter.from_notebook_node(nb)
                Path(out).write_text(body, encoding="utf-8")
            except BaseException as exc:  # noqa: BLE001
                print(f"fork-server child failed: {exc}", file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        running += 1
    while running:
        os.wait()
        running -= 1
    done_q.put("done")


def bench_fork_server(dataset: str, jobs, work: Path, workers: int) -> tuple[float, float]:
    notebook = str(ROOT / "notebooks" / "pilot_report.ipynb")
    ctx = multiprocessing.get_context("fork")
    jobs_q, done_q = ctx.Queue(), ctx.Queue()
    start = time.perf_counter()
    server = ctx.Process(target=_fork_server, args=(jobs_q, done_q, workers))
    server.start()
    assert done_q.get() == "ready"
    warm = time.perf_counter() - start
    for unit, model in jobs:
        out = str(work / f"{model}-{unit}.html")
        jobs_q.put((notebook, _parameters(dataset, unit, model), out))
    jobs_q.put(None)
    assert done_q.get() == "done"
    server.join()
    total = time.perf_counter() - start
    made = len(list(work.glob("*.html")))
    if made != len(jobs):
        print(f"  fork server: only {made}/{len(jobs)} reports made", file=sys.stderr)
    return total, warm


# ---------------------------------------------------------------------------------------------


def _line(name: str, seconds: float, n: int, base: float | None = None) -> str:
    ratio = f"  ×{seconds / base:.2f} of (b)" if base else ""
    return f"  {name:<44} {seconds:7.1f} s   {seconds / max(n, 1):5.2f} s/report{ratio}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=None, help="first N reports only")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--units", default=None, help="scaling table: e.g. 12,48,192")
    parser.add_argument("--skip-serial", action="store_true", help="skip (a), the slowest")
    parser.add_argument("--fork-server", action="store_true", help="also (d), the stretch")
    args = parser.parse_args(argv)

    from kiemnhiem.resources import demo_dir

    work = Path(tempfile.mkdtemp(prefix="kn-bench-"))
    try:
        print(f"cores: {os.cpu_count()}, workers: {args.workers}, python {sys.version.split()[0]}")
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        dataset = str(demo_dir())
        jobs = _jobs(dataset, args.reports)
        n = len(jobs)
        print(f"demo dataset, {n} reports")
        serial = None
        if not args.skip_serial:
            (work / "a").mkdir()
            serial = bench_serial_cli(dataset, jobs, work / "a")
            print(_line("(a) serial papermill + nbconvert CLI", serial, n))
        (work / "b").mkdir()
        pool = bench_pool(dataset, jobs, work / "b", args.workers)
        print(_line(f"(b) papermill API, {args.workers}-process pool", pool, n, pool))
        if serial:
            print(f"      (a)/(b) = {serial / pool:.2f}")
        forced, again, manifest = bench_runner(dataset, jobs, work / "c", args.workers)
        print(_line("(c) kiemnhiem run --force", forced, n, pool))
        print(f"  {'(c) kiemnhiem run, nothing changed':<44} {again:7.2f} s   (target < 1.5 s)")
        verdict = "met" if forced <= 1.15 * pool else "missed"
        print(f"      run --force / (b) = {forced / pool:.2f} (target ≤ 1.15: {verdict})")
        if args.fork_server:
            (work / "d").mkdir()
            total, warm = bench_fork_server(dataset, jobs, work / "d", args.workers)
            print(_line("(d) fork server, no kernel (stretch)", total, n, pool))
            print(f"      of which importing once: {warm:.1f} s")
        print(f"load average at end: {os.getloadavg()[0]:.2f}")

        if args.units:
            print("\nscaling (same number of reports, larger datasets):")
            head = ("units", "pilots", "reports", "(b) s/rep", "run s/rep")
            print("  {:>6} {:>7} {:>8} {:>10} {:>10}".format(*head))
            for units in [int(u) for u in args.units.split(",")]:
                folder = work / f"demo-{units}"
                subprocess.run(
                    [sys.executable, "-m", "kiemnhiem", "demo", str(folder), "--units", str(units)],
                    check=True, capture_output=True, env=_env(),
                )  # fmt: skip
                data = str(folder)
                all_jobs = _jobs(data, None)
                some = all_jobs[: args.reports] if args.reports else all_jobs
                (work / f"b{units}").mkdir()
                b = bench_pool(data, some, work / f"b{units}", args.workers)
                c, _again, _m = bench_runner(data, some, work / f"c{units}", args.workers)
                k = len(some)
                print(f"  {units:>6} {len(all_jobs):>7} {k:>8} {b / k:>10.2f} {c / k:>10.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
