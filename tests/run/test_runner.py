"""The main job end to end: options checked before anything runs, the command line's exit
codes, incremental runs and publishing, signals, and the demo site (:mod:`kiemnhiem.run.runner`).

Three kinds of run, from cheap to dear:

- ``fake_reports`` (conftest): no kernel at all, for what the runner decides (what to remake,
  what to publish, the index and the manifest);
- ``light_notebook`` (conftest): real papermill and real kernels on a notebook that imports
  nothing heavy, for execution (signals);
- ``demo_site`` (conftest, once per session) and small runs into copies of it: the real pilot
  notebook on the bundled demo.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiemnhiem import __version__
from kiemnhiem.cli import main
from kiemnhiem.exceptions import LockHeldError, ParameterError, RunError
from kiemnhiem.labels import label
from kiemnhiem.report.text import VERDICTS
from kiemnhiem.resources import data_dir, demo_dir
from kiemnhiem.run import execute, fingerprints
from kiemnhiem.run.kernels import SERVER_COMMAND
from kiemnhiem.run.lock import RunLock
from kiemnhiem.run.params import (
    PILOT_PARAMETERS,
)
from kiemnhiem.run.publish import site_problems
from kiemnhiem.run.runner import run_reports
from tests.run.helpers import (
    CSS_IMPORT,
    LOADING_TAG,
    N_PILOTS,
    PHU_YEN,
    REMOTE_URL,
    ROOT,
    make_notebook,
    read_manifest,
    read_page,
    summary_planned,
)

# ---------------------------------------------------------------------------------------------
# Options checked before anything runs
# ---------------------------------------------------------------------------------------------


def test_run_checks_parameters_before_anything_runs(tmp_path, fake_reports):
    # A notebook that declares one parameter more than the runner passes.
    nb = make_notebook(
        tmp_path / "pilot.ipynb",
        "\n".join(f"{p} = None" for p in (*PILOT_PARAMETERS, "colour")),
    )
    with pytest.raises(ParameterError) as info:
        run_reports(
            None,
            out=tmp_path / "site",
            executor=fake_reports.executor,
            notebooks={"pilot": nb, "summary": None},
            only=["122:tuyengiao_ttct"],
        )
    assert "colour" in str(info.value)
    assert not (tmp_path / "site" / "manifest.json").exists()
    assert not list((tmp_path / "site").glob("runs/*"))


@pytest.mark.parametrize(
    "kwargs",
    [{"workers": 0}, {"workers": 1.5}, {"formats": ("odt",)}, {"timeout": 0}],
)
def test_run_rejects_bad_options_before_running(tmp_path, kwargs):
    with pytest.raises(ParameterError):
        run_reports(None, out=tmp_path / "site", **kwargs)
    assert not (tmp_path / "site").exists()


def test_run_refuses_to_write_into_the_package_data(tmp_path):
    with pytest.raises(RunError):
        run_reports(None, out=data_dir() / "reports", only=["122:tuyengiao_ttct"])
    assert not (data_dir() / "reports").exists()


def test_cli_unwritable_out_is_exit_2(tmp_path, capsys):
    # Tests run as root: permissions would not stop us, a regular file in the path does.
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["run", "--out", str(blocker / "site"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(blocker / "site") in err and "Cannot write" in err


def test_cli_lock_held_is_exit_3(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    with RunLock(out):
        assert main(["run", "--out", str(out), "--quiet", "--only", "122:tuyengiao_ttct"]) == 3
    with pytest.raises(LockHeldError), RunLock(out), RunLock(out):
        pass


def test_cli_bad_formats_and_bad_usage_are_exit_2(tmp_path):
    assert main(["run", "--out", str(tmp_path / "s"), "--formats", "html,odt", "--quiet"]) == 2
    assert main(["run", "--out", str(tmp_path / "s"), "--workers", "0", "--quiet"]) == 2


# ---------------------------------------------------------------------------------------------
# Incremental runs and publishing
# ---------------------------------------------------------------------------------------------


def test_force_remakes_everything_and_formats_add_documents(fake_copy, fake_reports):
    data, site = fake_copy
    result = run_reports(data, out=site, executor=fake_reports.executor, quiet=True, force=True)
    assert len(result.ok) == N_PILOTS + summary_planned()
    # Asking for documents remakes what lacks them, and lists them.
    result = run_reports(
        data,
        out=site,
        executor=fake_reports.executor,
        quiet=True,
        formats="html,docx",
        only=["122:tuyengiao_ttct"],
    )
    assert [o.job.key for o in result.ok] == ["tuyengiao_ttct/122/vi"]
    assert (site / "tuyengiao_ttct/122-phu-yen.docx").read_bytes() == b"docx of 122"
    entry = {e["path"]: e for e in read_manifest(site)["reports"]}[PHU_YEN]
    assert "tuyengiao_ttct/122-phu-yen.docx" in entry["files"]
    assert 'href="tuyengiao_ttct/122-phu-yen.docx"' in read_page(site, "index.html")
    assert site_problems(site) == []


def test_pdfs_are_made_in_one_call_after_the_reports(fake_copy, fake_reports, monkeypatch):
    """The run's PDFs come from one conversion of every Word document, after the reports; a
    document that cannot be converted fails its own report only, with the converter's words."""
    from kiemnhiem.exceptions import RunError
    from kiemnhiem.run import execute

    calls = []

    def convert(documents, timeout=None):
        calls.append(dict(documents))
        out = {}
        for key, data in documents.items():
            if key == "tuyengiao_ttct/122/vi":
                out[key] = RunError("PDF hỏng: 122", "broken PDF: 122")
            else:
                out[key] = b"%PDF-1.7 from " + data
        return out

    monkeypatch.setattr(execute, "convert_run_documents", convert)
    data, site = fake_copy
    result = run_reports(
        data,
        out=site,
        executor=fake_reports.executor,
        quiet=True,
        formats="html,pdf",
        only=["122:tuyengiao_ttct", "118:tuyengiao_ttct"],
        document={"number": "15-BC/BTCTU"},
    )
    assert len(calls) == 1
    assert set(calls[0]) == {"tuyengiao_ttct/122/vi", "tuyengiao_ttct/118/vi"}
    assert [o.job.key for o in result.failed] == ["tuyengiao_ttct/122/vi"]
    assert result.failed[0].error == "PDF hỏng: 122"
    ok = result.ok[0]
    pdf = ok.job.document_path("pdf")
    assert (site / pdf).read_bytes() == b"%PDF-1.7 from docx of 118"
    # Word was not asked for: the document made for the PDF is not published.
    assert not (site / ok.job.document_path("docx")).exists()
    assert pdf in {e["path"]: e for e in read_manifest(site)["reports"]}[ok.job.html_path]["files"]


def test_a_run_in_which_nothing_succeeded_publishes_nothing(fake_copy, fake_reports):
    data, site = fake_copy
    before = (site / "manifest.json").read_bytes()
    runs = sorted(p.name for p in (site / "runs").iterdir())
    fake_reports.fail.update({"122", "124"})
    result = run_reports(
        data,
        out=site,
        executor=fake_reports.executor,
        quiet=True,
        force=True,
        only=["122:tuyengiao_ttct", "124:tuyengiao_ttct"],
    )
    assert result.exit_code == 1 and not result.published
    assert (site / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in (site / "runs").iterdir()) == runs


def test_last_three_runs_are_kept(fake_copy, fake_reports):
    data, site = fake_copy
    for _ in range(3):
        run_reports(
            data,
            out=site,
            executor=fake_reports.executor,
            quiet=True,
            force=True,
            only=["122:tuyengiao_ttct"],
        )
    runs = sorted(p.name for p in (site / "runs").iterdir())
    assert len(runs) == 3 and runs[-1] == read_manifest(site)["run_id"]
    # Each is a complete site.
    assert (site / "runs" / runs[0] / "index.html").is_file()
    assert (site / "runs" / runs[0] / PHU_YEN).is_file()


# ---------------------------------------------------------------------------------------------
# Signals: the run stops, kernels die, nothing is published, the lock is released
# ---------------------------------------------------------------------------------------------


_RUN_SCRIPT = """\
import sys
from pathlib import Path
from kiemnhiem import cli
from kiemnhiem.run import runner

if __name__ == "__main__":  # the pool's processes import this script again
    light = Path(sys.argv[1])
    runner.resolve_notebooks = lambda overrides: {"pilot": light, "summary": None}
    sys.exit(cli.main(sys.argv[2:]))
"""


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _wait_for_kernels(pid: int, n: int, timeout: float = 180) -> list:
    # A forked kernel shows only once its worker's kernel server has imported pandas,
    # matplotlib and kiemnhiem and the run has evaluated each model (a kernel started as
    # usual shows the moment it is launched): on a loaded 2-core machine, over a minute.
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        kids = _descendants(pid)
        kernels = []
        for p in kids:
            try:
                # A kernel started as usual, or forked by a worker's kernel server
                # (kiemnhiem.run.kernels): a child of the server, which shares its command.
                if "ipykernel_launcher" in " ".join(p.cmdline()) or (
                    SERVER_COMMAND in " ".join(p.cmdline())
                    and SERVER_COMMAND in " ".join(p.parent().cmdline())
                ):
                    kernels.append(p)
            except Exception:
                pass
        if len(kernels) >= n:
            time.sleep(1.0)  # the kernels are running their cells
            return kids
        time.sleep(0.1)
    raise AssertionError("kernels did not start")


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_kills_kernels_and_publishes_nothing(
    fake_copy, light_notebook, tmp_path, signum, code
):
    import psutil

    data, site_copy = fake_copy
    before = {p: (site_copy / p).read_bytes() for p in ("manifest.json", "index.html")}
    script = tmp_path / "run.py"
    script.write_text(_RUN_SCRIPT)
    env = {**os.environ, "KN_TEST_SLEEP": "60", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(light_notebook),
            "run",
            str(data),
            "--out",
            str(site_copy),
            "--force",
            "--workers",
            "2",
            "--only",
            "122:tuyengiao_ttct",
            "124:tuyengiao_ttct",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        kids = _wait_for_kernels(proc.pid, 2)
        # Meanwhile, a second run into the same folder is refused (exit 3).
        assert main(["run", "--out", str(site_copy), "--quiet"]) == 3
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == code, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    end = time.monotonic() + 10
    alive = []
    while time.monotonic() < end:
        alive = [p for p in kids if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            break
        time.sleep(0.2)
    assert not alive, [p.cmdline() for p in alive]
    for name, data in before.items():
        assert (site_copy / name).read_bytes() == data
    assert site_problems(site_copy) == []
    with RunLock(site_copy):  # released
        pass
    assert not [p for p in (site_copy / "runs").iterdir() if not (p / ".published").exists()]


# ---------------------------------------------------------------------------------------------
# The demo site (built once per session)
# ---------------------------------------------------------------------------------------------


def _pilot_pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.glob("*/*.html"))


@pytest.mark.slow
def test_demo_site_has_every_report_the_index_and_the_manifest(demo_site):
    site = demo_site.out
    assert demo_site.exit_code == 0, [o.error for o in demo_site.failed]
    assert demo_site.published
    assert len(demo_site.ok) == N_PILOTS + summary_planned() and not demo_site.failed
    pages = _pilot_pages(site)
    assert len(pages) == N_PILOTS
    assert PHU_YEN in pages
    assert (site / "summary.html").is_file() == summary_planned()
    assert (site / "index.html").is_file() and (site / "manifest.json").is_file()
    # Nothing half-written or temporary is left behind: only the lock and the runs.
    hidden = [
        p.relative_to(site).as_posix()
        for p in site.rglob("*")
        if p.name.startswith(".") and "runs" not in p.relative_to(site).parts
    ]
    assert hidden == [".lock"]
    assert site_problems(site) == []
    assert [p.name for p in (site / "runs").iterdir()] == [demo_site.run_id]


@pytest.mark.slow
def test_demo_reports_load_nothing_from_the_network(demo_site):
    for page in [*demo_site.out.glob("*/*.html"), *demo_site.out.glob("*.html")]:
        text = page.read_text(encoding="utf-8")
        assert not LOADING_TAG.search(text), page.name
        assert not REMOTE_URL.search(text), page.name
        assert not CSS_IMPORT.search(text), page.name


@pytest.mark.slow
def test_demo_reports_carry_the_banner_the_unit_and_embedded_figures(demo_site):
    manifest = read_manifest(demo_site.out)
    for entry in manifest["reports"]:
        text = read_page(demo_site.out, entry["path"])
        assert '<html lang="vi">' in text
        assert label("report_synthetic_title", "vi") in text
        if entry["kind"] == "summary":
            continue
        assert entry["unit_name"] in text
        # Figures inline, and the same ones as PNG files beside the page.
        n_images = text.count('src="data:image/png;base64,')
        assert n_images >= 2 and n_images == len(entry["figures"])
        for rel in entry["figures"]:
            assert (demo_site.out / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # No code is shown.
    assert "load_dataset" not in read_page(demo_site.out, PHU_YEN)


@pytest.mark.slow
def test_demo_manifest_records_versions_data_parameters_and_results(demo_site, demo):
    manifest = read_manifest(demo_site.out)
    assert manifest["kiemnhiem_version"] == __version__
    assert manifest["run_id"] == demo_site.run_id
    assert manifest["dataset"]["path"] == str(demo_dir().resolve())
    assert manifest["dataset"]["content_hash"] == demo.content_hash
    assert manifest["dataset"]["synthetic"] is True
    assert set(fingerprints.KEY_DEPENDENCIES) <= set(manifest["versions"])
    assert manifest["parameters"]["lang"] == "vi"
    assert manifest["parameters"]["level"] == 0.10
    assert manifest["exit_code"] == 0 and manifest["status"] == "ok"
    assert len(manifest["reports"]) == N_PILOTS + summary_planned()
    for entry in manifest["reports"]:
        assert entry["status"] == "ok" and entry["error"] is None
        assert entry["duration"] > 0 and entry["started"]
        assert entry["attempts"] == 1
        assert entry["results"], entry["path"]
        assert {r["verdict"] for r in entry["results"]} <= set(VERDICTS)  # district codes too
    phu_yen = {e["path"]: e for e in manifest["reports"]}[PHU_YEN]
    # One result per indicator that concerns tuyengiao_ttct (DESIGN.md's catalog: the 6 for
    # every model and its own 4).
    assert len(phu_yen["results"]) == 10


@pytest.mark.slow
def test_english_report_with_documents_joins_the_site(site_copy):
    before = (site_copy / PHU_YEN).read_bytes()
    result = run_reports(
        None,
        out=site_copy,
        lang="en",
        workers=1,
        only=["Phù Yên:tuyengiao_ttct"],
        quiet=True,
        classification="Tài liệu nội bộ",
        formats="html,docx,pdf",
    )
    assert result.exit_code == 0, [o.error for o in result.failed]
    assert [o.job.html_path for o in result.ok] == ["tuyengiao_ttct/122-phu-yen.en.html"]
    text = read_page(site_copy, "tuyengiao_ttct/122-phu-yen.en.html")
    assert '<html lang="en">' in text
    assert label("report_synthetic_title", "en") in text
    assert label("report_indicators_heading", "en") in text
    assert label("report_indicators_heading", "vi") not in text
    assert "Tài liệu nội bộ" in text
    assert list((site_copy / "tuyengiao_ttct" / "122-phu-yen").glob("*.en.png"))
    assert (site_copy / "tuyengiao_ttct/122-phu-yen.en.docx").read_bytes()[:2] == b"PK"
    assert (site_copy / "tuyengiao_ttct/122-phu-yen.en.pdf").read_bytes()[:5] == b"%PDF-"
    # The Vietnamese reports stay as they were, and the index lists both languages.
    assert (site_copy / PHU_YEN).read_bytes() == before
    manifest = read_manifest(site_copy)
    assert len(manifest["reports"]) == N_PILOTS + summary_planned() + 1
    index = read_page(site_copy, "index.html")
    assert 'href="tuyengiao_ttct/122-phu-yen.en.html"' in index
    assert 'href="tuyengiao_ttct/122-phu-yen.en.pdf"' in index
    assert f'href="{PHU_YEN}"' in index
    assert "Tài liệu nội bộ" in index
    assert site_problems(site_copy) == []


@pytest.mark.slow
def test_cli_only_given_twice_makes_both_reports(site_copy):
    only = ["--only", "122:tuyengiao_ttct", "--only", "Mộc Châu:tuyengiao_ttct"]
    argv = ["run", "--out", str(site_copy), "--lang", "en", "--workers", "2", "--quiet"]
    assert main([*argv, *only]) == 0
    manifest = read_manifest(site_copy)
    assert manifest["parameters"]["only"] == ["122:tuyengiao_ttct", "Mộc Châu:tuyengiao_ttct"]
    made = {e["path"] for e in manifest["reports"] if e["lang"] == "en"}
    assert made == {"tuyengiao_ttct/122-phu-yen.en.html", "tuyengiao_ttct/123-moc-chau.en.html"}
    assert {e["status"] for e in manifest["reports"] if e["lang"] == "en"} == {"ok"}
    for path in made:
        assert '<html lang="en">' in read_page(site_copy, path)
    assert site_problems(site_copy) == []


@pytest.mark.slow
def test_unchanged_site_is_kept_without_running(site_copy, monkeypatch):
    manifest = read_manifest(site_copy)
    # Same code as the run that built the site (others may be editing the checkout meanwhile).
    monkeypatch.setattr(fingerprints, "code_hash", lambda: manifest["code_sha256"])
    started = time.perf_counter()
    result = run_reports(None, out=site_copy, workers=1, quiet=True)
    assert time.perf_counter() - started < 10  # no kernel; the benchmark measures it properly
    assert result.exit_code == 0 and not result.published
    assert len(result.unchanged) == N_PILOTS + summary_planned() and not result.ok
    assert read_manifest(site_copy) == manifest


# ---------------------------------------------------------------------------------------------
# The dataset as loaded, whatever happens to it during the run
# ---------------------------------------------------------------------------------------------


def _edit_one_value(panel_csv: Path) -> None:
    lines = panel_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    head, first = lines[0], lines[1].split(",")
    first[3] = str(float(first[3]) + 1000)  # unit,period,indicator,value,note
    panel_csv.write_text(head + ",".join(first) + "".join(lines[2:]), encoding="utf-8")


def test_a_dataset_edited_during_the_run_does_not_reach_its_reports(
    fake_copy, fake_reports, monkeypatch
):
    from kiemnhiem.data.dataset import content_hash
    from kiemnhiem.run import runner

    data, site = fake_copy
    original = content_hash(data)
    real_snapshot = runner._snapshot_dataset
    seen = []

    def snapshot_then_edit(ds, run_dir):
        path = real_snapshot(ds, run_dir)
        _edit_one_value(data / "panel.csv")  # the analyst saves while reports are running
        return path

    real_execute = execute.execute_report

    def recording_execute(spec):
        seen.append(spec["parameters"]["dataset"])
        return real_execute(spec)

    monkeypatch.setattr(runner, "_snapshot_dataset", snapshot_then_edit)
    monkeypatch.setattr(execute, "execute_report", recording_execute)
    result = run_reports(
        data,
        out=site,
        executor=fake_reports.executor,
        quiet=True,
        force=True,
        only=["116:danvan_mttq", "122:tuyengiao_ttct"],
    )
    assert result.exit_code == 0
    assert content_hash(data) != original  # the edit really happened
    assert len(seen) == 2 and len(set(seen)) == 1
    snapshot = Path(seen[0])
    assert snapshot != data.resolve() and snapshot.name == ".dataset"
    assert content_hash(snapshot) == original  # every report read the data as loaded
    manifest = json.loads((site / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["dataset"]["content_hash"] == original
    assert manifest["dataset"]["path"] == str(data.resolve())


def test_a_dataset_edited_before_its_copy_is_refused(fake_copy, fake_reports, monkeypatch):
    from kiemnhiem.run import runner

    data, site = fake_copy
    before = (site / "index.html").read_bytes()
    real_snapshot = runner._snapshot_dataset

    def edit_then_snapshot(ds, run_dir):
        _edit_one_value(data / "panel.csv")
        return real_snapshot(ds, run_dir)

    monkeypatch.setattr(runner, "_snapshot_dataset", edit_then_snapshot)
    with pytest.raises(RunError) as err:
        run_reports(
            data,
            out=site,
            executor=fake_reports.executor,
            quiet=True,
            force=True,
            only=["116:danvan_mttq"],
        )
    assert "edited" in err.value.message_en and "sửa" in err.value.message_vi
    assert (site / "index.html").read_bytes() == before  # nothing published
