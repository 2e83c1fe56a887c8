"""Publishing a run (DESIGN.md): journal, atomic replaces, recovery, pruning, lock, signals.

The crash tests kill a real process with SIGKILL at every step of publishing (the
``KIEMNHIEM_PUBLISH_KILL_AT`` hook) and check what a reader would see before the next run (every
file whole, in its old or its new version) and after the next run (a consistent site).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiemnhiem.exceptions import LockHeldError
from kiemnhiem.run.lock import RunLock
from kiemnhiem.run.publish import (
    JOURNAL,
    KILL_AT_ENV,
    PUBLISHED_MARK,
    RunInterrupted,
    SignalGuard,
    complete_pending,
    prune_runs,
    publish_run,
    published_runs,
    site_files,
    site_problems,
)
from kiemnhiem.run.runner import run_reports
from kiemnhiem.run.site import render_index

ROOT = Path(__file__).resolve().parents[2]
POSIX = os.name == "posix"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _build_run(out: Path, run_id: str, pages: dict[str, bytes]) -> dict[str, bytes]:
    """A run's complete site by hand: pages (and a figure each), manifest, index."""
    folder = out / "runs" / run_id
    files: dict[str, bytes] = {}
    reports = []
    for rel, body in pages.items():
        figure = rel.removesuffix(".html") + "/f.png"
        entry_files = {rel: body, figure: b"PNG" + body}
        files.update(entry_files)
        unit = Path(rel).stem.split("-")[0]
        reports.append(
            {
                "kind": "pilot",
                "unit_code": unit,
                "unit_name": unit,
                "model": "m",
                "lang": "vi",
                "path": rel,
                "status": "ok",
                "files": {k: _sha(v) for k, v in entry_files.items()},
            }
        )
    manifest = {"run_id": run_id, "dataset": {"name": "d"}, "reports": reports}
    files["manifest.json"] = json.dumps(manifest).encode()
    files["index.html"] = render_index(manifest).encode()
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return files


RUN1, RUN2 = "20250101T000000-000001", "20250102T000000-000002"
PAGES1 = {"m/1-a.html": b"<p>a1</p>", "m/2-b.html": b"<p>b1</p>"}
PAGES2 = {"m/1-a.html": b"<p>a2</p>", "m/3-c.html": b"<p>c2</p>"}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, dict, dict]:
    """An output folder with run 1 published and run 2 built, not yet published."""
    out = tmp_path_factory.mktemp("pub") / "out"
    v1 = _build_run(out, RUN1, PAGES1)
    publish_run(out, RUN1)
    v2 = _build_run(out, RUN2, PAGES2)
    return out, v1, v2


def _published(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and "runs" not in p.relative_to(out).parts and not p.name.startswith(".")
    }


def test_publishing_replaces_every_file_and_removes_what_the_run_no_longer_has(two_runs, tmp_path):
    base, v1, v2 = two_runs
    out = shutil.copytree(base, tmp_path / "out")
    assert _published(out) == v1 and site_problems(out) == []
    files = publish_run(out, RUN2, remove=set(v1) - set(v2))
    assert files[-2:] == ["manifest.json", "index.html"]  # the index last
    assert _published(out) == v2 and site_problems(out) == []
    assert not (out / JOURNAL).exists() and (out / "runs" / RUN2 / PUBLISHED_MARK).exists()
    # Published files are the run's files (hard links), not copies.
    assert os.path.samefile(out / "m/1-a.html", out / "runs" / RUN2 / "m/1-a.html")


@pytest.mark.skipif(not POSIX, reason="SIGKILL")
def test_a_run_killed_at_any_step_of_publishing_is_completed_by_the_next(two_runs, tmp_path):
    base, v1, v2 = two_runs
    n_files = len(site_files(base / "runs" / RUN2))
    remove = sorted(set(v1) - set(v2))
    code = (
        "import sys; from pathlib import Path; from kiemnhiem.run.publish import publish_run; "
        f"publish_run(Path(sys.argv[1]), {RUN2!r}, remove={remove!r})"
    )
    for step in range(n_files + 3):  # journal, each file, removal, journal deleted
        out = shutil.copytree(base, tmp_path / f"out{step}")
        env = {**os.environ, KILL_AT_ENV: str(step), "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", code, str(out)], env=env)
        assert proc.returncode == -signal.SIGKILL, step
        # What a reader sees meanwhile: every file whole, old or new.
        for rel, data in _published(out).items():
            assert data in (v1.get(rel), v2.get(rel)), (step, rel)
        # The next run first completes the publication.
        finished = complete_pending(out)
        assert finished == (RUN2 if step <= n_files + 1 else None), step
        assert _published(out) == v2, step
        assert site_problems(out) == [], step


def test_a_journal_whose_run_is_gone_is_dropped(two_runs, tmp_path):
    base, v1, _v2 = two_runs
    out = shutil.copytree(base, tmp_path / "out")
    (out / JOURNAL).write_text(json.dumps({"run": "20250103T000000-000003", "files": ["x"]}))
    assert complete_pending(out) is None
    assert not (out / JOURNAL).exists() and _published(out) == v1


def test_prune_keeps_the_last_published_runs_and_drops_unfinished_ones(tmp_path):
    out = tmp_path / "out"
    ids = [f"2025010{d}T000000-00000{d}" for d in range(1, 6)]
    for run_id in ids:
        _build_run(out, run_id, {"m/1-a.html": run_id.encode()})
        publish_run(out, run_id)
    unfinished = "20250109T000000-000009"
    _build_run(out, unfinished, {"m/1-a.html": b"x"})
    deleted = prune_runs(out, keep=3)
    assert sorted(deleted) == sorted([*ids[:2], unfinished])
    assert published_runs(out) == ids[2:]
    assert site_problems(out) == []


@pytest.mark.slow
@pytest.mark.skipif(not POSIX, reason="SIGKILL")
def test_the_runner_killed_while_publishing_leaves_a_site_the_next_run_completes(
    fake_copy, fake_reports, light_notebook, tmp_path
):
    data, site = fake_copy
    before = json.loads((site / "manifest.json").read_text(encoding="utf-8"))
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        "from kiemnhiem.run.runner import run_reports\n"
        "if __name__ == '__main__':\n"
        "    run_reports(sys.argv[1], out=sys.argv[2], quiet=True, force=True, workers=2,\n"
        "                notebooks={'pilot': sys.argv[3], 'summary': None},\n"
        "                only=['122:tuyengiao_ttct', '124:tuyengiao_ttct'])\n"
    )
    env = {**os.environ, KILL_AT_ENV: "3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(script), str(data), str(site), str(light_notebook)], env=env
    )
    assert proc.returncode == -signal.SIGKILL
    assert (site / JOURNAL).exists()
    killed = json.loads((site / JOURNAL).read_text(encoding="utf-8"))["run"]
    # The next run: completes the journal (the killed run's pages, from the light notebook),
    # then runs as usual.
    result = run_reports(
        data, out=site, executor=fake_reports.executor, quiet=True, only=["116:danvan_mttq"]
    )
    assert result.recovered == killed
    assert site_problems(site) == []
    manifest = json.loads((site / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["previous_run"] == killed != before["run_id"]
    page = (site / "tuyengiao_ttct/122-phu-yen.html").read_text(encoding="utf-8")
    assert "122 | tuyengiao_ttct" in page  # what the killed run made


def test_the_lock_is_exclusive_and_released_when_its_holder_dies(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(LockHeldError) as info:
            RunLock(tmp_path).acquire()
        assert str(os.getpid()) in info.value.message_en
    with RunLock(tmp_path):  # released on exit
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from kiemnhiem.run.lock import RunLock; "
            "lock = RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path):  # the OS released it with the process
        pass


@pytest.mark.skipif(not POSIX, reason="signals")
def test_signals_wait_while_publishing_and_stop_the_run_otherwise():
    old = signal.getsignal(signal.SIGTERM)
    with SignalGuard() as guard:
        with pytest.raises(RunInterrupted) as info:
            with guard.defer():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                reached = True  # the block went on to its end
        assert reached and info.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) == old
    with SignalGuard():
        with pytest.raises(RunInterrupted) as info:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
        assert info.value.exit_code == 130
        # A second signal does not cut the clean-up that the first one started.
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)


def test_run_ids_sort_in_order_even_within_a_second_or_when_the_clock_goes_back(tmp_path):
    from datetime import datetime

    from kiemnhiem.run.publish import new_run_id

    out = tmp_path / "out"
    later = new_run_id(out, datetime(2025, 3, 1, 2, 15, 0, 500))
    assert later == "20250301T021500-000500"
    (out / "runs" / later).mkdir(parents=True)
    assert new_run_id(out, datetime(2025, 3, 1, 2, 15, 0, 400)) == "20250301T021500-000501"
    assert new_run_id(out, datetime(2025, 3, 1, 2, 16)) == "20250301T021600-000000"
