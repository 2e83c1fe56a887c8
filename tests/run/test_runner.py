"""The main job: planning, parameters, incremental runs, execution, the index and the manifest.

Three kinds of run, from cheap to dear:

- ``fake_reports`` (conftest): no kernel at all, for what the runner decides (what to remake,
  what to publish, the index and the manifest);
- ``light_notebook`` (conftest): real papermill and real kernels on a notebook that imports
  nothing heavy, for execution (retry, timeout, signals, Dask);
- ``demo_site`` (conftest, once per session) and two small runs into copies of it: the real
  pilot notebook on the bundled demo.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import nbformat
import pytest

from kiemnhiem import __version__
from kiemnhiem.cli import main
from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.exceptions import LockHeldError, ParameterError, RunError
from kiemnhiem.labels import label
from kiemnhiem.resources import data_dir, demo_dir
from kiemnhiem.run import runner as runner_module
from kiemnhiem.run.lock import RunLock
from kiemnhiem.run.publish import site_problems
from kiemnhiem.run.runner import (
    ReportJob,
    check_parameters,
    dataset_digests,
    execute_report,
    notebook_parameter_names,
    pad_unit_code,
    parse_only,
    plan_reports,
    render_index,
    resolve_report_unit,
    run_reports,
    slugify,
)

# The demo's pilots (DESIGN.md, DOMAIN.md): 5 danvan_mttq and all 12 units in tuyengiao_ttct.
N_PILOTS = 17
DANVAN = {"116", "118", "121", "122", "124"}
TUYENGIAO = {f"{c}" for c in range(116, 129) if c != 117}
PHU_YEN = "tuyengiao_ttct/122-phu-yen.html"
ROOT = Path(__file__).resolve().parents[2]

# A <script> or <link> tag that loads anything, and any CSS import over the network.
_LOADING_TAG = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=", re.IGNORECASE)
_REMOTE_URL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import\s+url\(\s*['\"]?(?:https?:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def demo():
    return load_dataset(None)


def _summary_planned() -> bool:
    return runner_module.summary_notebook() is not None


def _manifest(site: Path) -> dict:
    return json.loads((site / "manifest.json").read_text(encoding="utf-8"))


def _html(site: Path, rel: str) -> str:
    return (site / rel).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (94, "094"),
        ("94", "094"),
        ("094", "094"),
        (122, "122"),
        (7, "007"),
        (122.0, "122"),
        ("  Phù Yên ", "Phù Yên"),
    ],
)
def test_pad_unit_code(value, expected):
    assert pad_unit_code(value) == expected


def test_pad_unit_code_normalizes_names_to_nfc():
    decomposed = unicodedata.normalize("NFD", "Phù Yên")
    assert pad_unit_code(decomposed) == unicodedata.normalize("NFC", "Phù Yên")


@pytest.mark.parametrize("value", [True, -5])
def test_pad_unit_code_rejects_non_codes(value):
    with pytest.raises(ParameterError):
        pad_unit_code(value)


@pytest.mark.parametrize("value", ["122", 122, "Phù Yên", "phu yen", "Huyện Phù Yên"])
def test_resolve_report_unit(demo, value):
    assert resolve_report_unit(demo, value) == ("122", "Huyện Phù Yên")


def test_resolve_report_unit_refuses_another_province(demo):
    # Phú Yên is a province: the matcher must not take it for Phù Yên (DESIGN.md).
    with pytest.raises(ParameterError):
        resolve_report_unit(demo, "Phú Yên")


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Phù Yên", "phu-yen"),
        ("Thành phố Sơn La", "thanh-pho-son-la"),
        ("Đà Lạt", "da-lat"),
        ("Mộc Châu", "moc-chau"),
    ],
)
def test_slugify(text, slug):
    assert slugify(text) == slug


def test_parse_only():
    assert parse_only(["122:tuyengiao_ttct", "Phù Yên : danvan_mttq"]) == [
        ("122", "tuyengiao_ttct"),
        ("Phù Yên", "danvan_mttq"),
    ]
    assert parse_only(None) == []


@pytest.mark.parametrize("bad", ["122", ":tuyengiao_ttct", "122:", ""])
def test_parse_only_rejects_malformed_values(bad):
    with pytest.raises(ParameterError):
        parse_only([bad])


def test_report_paths_follow_the_contract():
    vi = ReportJob("122", "Huyện Phù Yên", "Phù Yên", "tuyengiao_ttct", "vi")
    en = ReportJob("122", "Huyện Phù Yên", "Phù Yên", "tuyengiao_ttct", "en")
    assert vi.html_path == "tuyengiao_ttct/122-phu-yen.html"
    assert en.html_path == "tuyengiao_ttct/122-phu-yen.en.html"
    assert vi.figures_dir == en.figures_dir == "tuyengiao_ttct/122-phu-yen"
    assert (vi.figure_suffix, en.figure_suffix) == (".png", ".en.png")
    assert vi.document_path("docx") == "tuyengiao_ttct/122-phu-yen.docx"
    assert en.document_path("pdf") == "tuyengiao_ttct/122-phu-yen.en.pdf"
    summary_vi = ReportJob("", "", "", "", "vi", kind="summary")
    summary_en = ReportJob("", "", "", "", "en", kind="summary")
    assert (summary_vi.html_path, summary_en.html_path) == ("summary.html", "summary.en.html")
    assert summary_en.document_path("docx") == "summary.en.docx"


# ---------------------------------------------------------------------------------------------
# Plan and check
# ---------------------------------------------------------------------------------------------


def test_plan_has_one_job_per_pilot(demo):
    jobs = plan_reports(demo)
    assert len(jobs) == N_PILOTS
    assert {(j.unit_code, j.model) for j in jobs} == set(
        zip(demo.pilots["unit_code"], demo.pilots["model"], strict=True)
    )
    assert len({j.html_path for j in jobs}) == N_PILOTS


def test_plan_adds_the_summary_only_when_its_notebook_exists(demo, monkeypatch, tmp_path):
    monkeypatch.setattr(runner_module, "summary_notebook", lambda: tmp_path / "s.ipynb")
    jobs = plan_reports(demo, summary=True)
    assert len(jobs) == N_PILOTS + 1
    assert jobs[-1].kind == "summary" and jobs[-1].html_path == "summary.html"
    # Not with --only: the summary is about every pilot.
    assert [j.kind for j in plan_reports(demo, only=["122:tuyengiao_ttct"], summary=True)] == [
        "pilot"
    ]
    monkeypatch.setattr(runner_module, "summary_notebook", lambda: None)
    assert len(plan_reports(demo, summary=True)) == N_PILOTS


def test_plan_only_accepts_codes_and_names_and_drops_duplicates(demo):
    jobs = plan_reports(demo, only=["122:tuyengiao_ttct", "Phù Yên:tuyengiao_ttct"], lang="en")
    assert [(j.unit_code, j.model, j.lang) for j in jobs] == [("122", "tuyengiao_ttct", "en")]


def test_plan_only_rejects_a_unit_that_is_not_a_pilot_of_the_model(demo):
    # Thuận Châu (119) runs tuyengiao_ttct only.
    with pytest.raises(ParameterError) as info:
        plan_reports(demo, only=["119:danvan_mttq"])
    assert "122" in str(info.value)  # lists the model's pilots


def test_plan_only_rejects_an_unknown_model(demo):
    with pytest.raises(ParameterError) as info:
        plan_reports(demo, only=["122:khong_co"])
    assert "tuyengiao_ttct" in str(info.value)


def test_plan_rejects_an_unknown_language(demo):
    with pytest.raises(ParameterError):
        plan_reports(demo, lang="fr")


def _notebook(path: Path, parameters: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(1)"),
    ]
    nbformat.write(nb, path)
    return path


def test_check_parameters_names_unknown_and_missing_in_both_languages(tmp_path):
    nb = _notebook(tmp_path / "n.ipynb", "dataset = None\nunit = '122'\nextra = 1")
    check_parameters(nb, [{"dataset": "/d", "unit": "122", "extra": 2}])
    with pytest.raises(ParameterError) as info:
        check_parameters(nb, [{"dataset": "/d", "unit": "122", "lang": "vi"}])
    vi, en = info.value.message_vi, info.value.message_en
    assert "lang" in vi and "extra" in vi and "lang" in en and "extra" in en
    assert vi != en and "n.ipynb" in en
    assert notebook_parameter_names(nb) == ["dataset", "unit", "extra"]


def test_the_bundled_notebooks_declare_what_the_runner_passes():
    nb = runner_module.notebook_path("pilot_report")
    assert set(notebook_parameter_names(nb)) == set(runner_module.PILOT_PARAMETERS)
    summary = runner_module.summary_notebook()
    if summary is not None:
        declared = set(notebook_parameter_names(summary))
        assert set(runner_module.SUMMARY_PARAMETERS) <= declared
        assert declared <= set(runner_module.SUMMARY_PARAMETERS + runner_module.SUMMARY_OPTIONAL)


def test_run_checks_parameters_before_anything_runs(tmp_path, fake_reports):
    # A notebook that declares one parameter more than the runner passes.
    nb = _notebook(
        tmp_path / "pilot.ipynb",
        "\n".join(f"{p} = None" for p in (*runner_module.PILOT_PARAMETERS, "colour")),
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
# Incremental: what depends on what
# ---------------------------------------------------------------------------------------------


def _edit_panel(folder: Path, unit: str, period: str, indicator: str, value: str) -> None:
    path = folder / "panel.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    prefix = f"{unit},{period},{indicator},"
    hits = [i for i, line in enumerate(lines) if line.startswith(prefix)]
    assert len(hits) == 1, prefix
    rest = lines[hits[0]][len(prefix) :].split(",", 1)
    lines[hits[0]] = prefix + value + "," + rest[1]
    path.write_text("".join(lines), encoding="utf-8")


def test_dataset_digests_follow_one_indicator(tmp_path):
    data = shutil.copytree(demo_dir(), tmp_path / "data")
    common, before = dataset_digests(load_dataset(data))
    _edit_panel(data, "119", "2021", "so_cuoc_kiem_tra_giam_sat", "40")
    common_after, after = dataset_digests(load_dataset(data))
    assert common_after == common
    assert {k for k in before if before[k] != after.get(k)} == {"so_cuoc_kiem_tra_giam_sat"}


def _made(result) -> set[str]:
    return {o.job.key for o in result.reports if o.status == "ok"}


def _keys(units: set[str], model: str) -> set[str]:
    return {f"{model}/{u}/vi" for u in units}


# Which reports depend on a panel value of an indicator: every report of every model that the
# indicator concerns (DESIGN.md's catalog: so_cuoc_kiem_tra_giam_sat is danvan_mttq's only,
# so_lop_boi_duong tuyengiao_ttct's only, so_cuoc_hop every model's), because every unit's
# values enter each pilot's comparison and placebo assignments; and the summary, which depends
# on the whole dataset.
@pytest.mark.parametrize(
    ("indicator", "expected"),
    [
        ("so_cuoc_kiem_tra_giam_sat", _keys(DANVAN, "danvan_mttq")),
        ("so_lop_boi_duong", _keys(TUYENGIAO, "tuyengiao_ttct")),
        ("so_cuoc_hop", _keys(DANVAN, "danvan_mttq") | _keys(TUYENGIAO, "tuyengiao_ttct")),
    ],
)
def test_editing_one_value_remakes_exactly_the_reports_that_depend_on_it(
    fake_copy, fake_reports, indicator, expected
):
    data, site = fake_copy
    _edit_panel(data, "119", "2021", indicator, "80")
    result = run_reports(data, out=site, executor=fake_reports.executor, quiet=True)
    summary = {"summary/vi"} if _summary_planned() else set()
    assert _made(result) == expected | summary
    assert len(result.unchanged) == N_PILOTS - len(expected)
    assert result.published and result.exit_code == 0
    assert site_problems(site) == []
    # Nothing changed since: nothing is remade, nothing published.
    again = run_reports(data, out=site, executor=fake_reports.executor, quiet=True)
    assert not again.published and not again.ok and again.exit_code == 0
    assert _manifest(site)["run_id"] == result.run_id


def test_what_changed_lists_the_estimates_that_moved(fake_copy, fake_reports):
    data, site = fake_copy
    # Thuận Châu (119) is never in danvan_mttq: a comparison unit of all its 5 pilots, whose
    # post windows all contain 2020 (first full years 2019 and 2020, three post years) and
    # who all have a 2020 value. A higher 2020 count lowers each pilot's difference to the
    # comparison mean.
    _edit_panel(data, "119", "2020", "so_cuoc_hop", "80")
    result = run_reports(data, out=site, executor=fake_reports.executor, quiet=True)
    changes = _manifest(site)["changes"]
    assert changes and {c["indicator"] for c in changes} == {"so_cuoc_hop"}
    moved = {
        c["unit_code"] for c in changes if c["model"] == "danvan_mttq" and c["kind"] == "pilot"
    }
    assert moved == DANVAN
    for c in changes:
        if c["model"] == "danvan_mttq" and c["did_before"] is not None:
            assert c["did_after"] < c["did_before"]
    index = _html(site, "index.html")
    assert 'id="changes"' in index
    assert label("index_changes_title", "en", run=_manifest(site)["previous_run"]) in index
    assert result.changes == tuple(changes)


def test_force_remakes_everything_and_formats_add_documents(fake_copy, fake_reports):
    data, site = fake_copy
    result = run_reports(data, out=site, executor=fake_reports.executor, quiet=True, force=True)
    assert len(result.ok) == N_PILOTS + _summary_planned()
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
    entry = {e["path"]: e for e in _manifest(site)["reports"]}[PHU_YEN]
    assert "tuyengiao_ttct/122-phu-yen.docx" in entry["files"]
    assert 'href="tuyengiao_ttct/122-phu-yen.docx"' in _html(site, "index.html")
    assert site_problems(site) == []


def test_a_failed_report_keeps_its_last_good_version_marked_outdated(fake_copy, fake_reports):
    data, site = fake_copy
    before = _html(site, PHU_YEN)
    fake_reports.fail.add("122")
    result = run_reports(
        data,
        out=site,
        executor=fake_reports.executor,
        quiet=True,
        force=True,
        only=["122:tuyengiao_ttct", "124:tuyengiao_ttct"],
    )
    assert result.exit_code == 1 and result.published
    status = {o.job.unit_code: o for o in result.reports}
    assert status["124"].status == "ok"
    assert status["122"].status == "failed" and status["122"].outdated
    page = _html(site, PHU_YEN)
    assert "planned failure for 122" in page and page != before
    assert before.split("<body>")[1] in page  # the last good content, under the banner
    entry = {e["path"]: e for e in _manifest(site)["reports"]}[PHU_YEN]
    assert entry["status"] == "failed" and entry["outdated"] is True
    assert entry["error"] and entry["results"]  # its last good results stay
    index = _html(site, "index.html")
    assert f'href="{PHU_YEN}"' in index
    assert label("index_status_failed", "vi") in index
    assert site_problems(site) == []
    # Failing again does not stack banners.
    run_reports(
        data,
        out=site,
        executor=fake_reports.executor,
        quiet=True,
        force=True,
        only=["122:tuyengiao_ttct"],
    )
    assert _html(site, PHU_YEN).count('kn-outdated"') == 1


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


def test_other_languages_stay_listed_and_are_marked_outdated_when_their_data_change(
    fake_copy, fake_reports
):
    data, site = fake_copy
    run_reports(
        data,
        out=site,
        executor=fake_reports.executor,
        quiet=True,
        lang="en",
        only=["122:tuyengiao_ttct"],
    )
    _edit_panel(data, "119", "2021", "so_lop_boi_duong", "80")
    run_reports(data, out=site, executor=fake_reports.executor, quiet=True)
    entries = {(e["path"]): e for e in _manifest(site)["reports"]}
    english = entries["tuyengiao_ttct/122-phu-yen.en.html"]
    assert english["outdated"] is True and english["outdated_reason"] == "inputs_changed"
    assert entries[PHU_YEN]["outdated"] is False
    assert label("index_status_outdated", "en") in _html(site, "index.html")
    # The page itself says so.
    assert "kn-outdated" in _html(site, "tuyengiao_ttct/122-phu-yen.en.html")
    assert "kn-outdated" not in _html(site, PHU_YEN)
    assert site_problems(site) == []


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
    assert len(runs) == 3 and runs[-1] == _manifest(site)["run_id"]
    # Each is a complete site.
    assert (site / "runs" / runs[0] / "index.html").is_file()
    assert (site / "runs" / runs[0] / PHU_YEN).is_file()


# ---------------------------------------------------------------------------------------------
# Index page
# ---------------------------------------------------------------------------------------------


def test_index_escapes_everything_it_shows():
    manifest = {
        "dataset": {"name": "<b>dữ liệu</b>", "synthetic": True},
        "reports": [
            {
                "unit_code": "122",
                "unit_name": "<script>alert(1)</script>",
                "model": "m",
                "lang": "vi",
                "path": "m/122-x.html",
                "status": "failed",
                "error": "ValueError: <img src=x>",
            },
        ],
    }
    page = render_index(manifest)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x&gt;" in page
    assert "&lt;b&gt;dữ liệu&lt;/b&gt;" in page
    assert label("report_synthetic_title", "vi") in page
    assert label("report_synthetic_title", "en") in page


def test_index_rows_carry_sort_keys_and_the_page_loads_nothing():
    manifest = {
        "run_id": "20250101T000000-abcdef",
        "dataset": {"name": "d", "synthetic": False},
        "reports": [
            {
                "unit_code": "124",
                "unit_name": "B",
                "model": "m2",
                "lang": "vi",
                "path": "m2/124-b.html",
                "status": "ok",
                "files": {"m2/124-b.html": "x"},
            },
            {
                "unit_code": "116",
                "unit_name": "A",
                "model": "m1",
                "lang": "vi",
                "path": "m1/116-a.html",
                "status": "failed",
                "error": "e",
                "files": {},
            },
        ],
    }
    page = render_index(manifest)
    assert 'data-unit="124" data-model="m2/124" data-status="2"' in page
    assert 'data-unit="116" data-model="m1/116" data-status="0"' in page
    assert 'href="m2/124-b.html"' in page and 'href="m1/116-a.html"' not in page
    assert not _LOADING_TAG.search(page) and not _REMOTE_URL.search(page)
    assert 'data-run="20250101T000000-abcdef"' in page


def test_progress_counter_draws_one_line():
    stream = io.StringIO()
    progress = runner_module._Progress(2, enabled=True, stream=stream)
    job = ReportJob("122", "Huyện Phù Yên", "Phù Yên", "tuyengiao_ttct", "vi")
    progress.advance(job, "ok")
    progress.advance(job, "failed")
    progress.finish()
    text = stream.getvalue()
    assert "[1/2] ✓1 ✗0" in text and "[2/2] ✓1 ✗1" in text
    assert text.count("\n") == 1 and "\r" in text
    silent = io.StringIO()
    runner_module._Progress(2, enabled=False, stream=silent).advance(job, "ok")
    assert silent.getvalue() == ""


# ---------------------------------------------------------------------------------------------
# One report in a worker: timeout, retry only when the kernel died
# ---------------------------------------------------------------------------------------------


def _spec(notebook: Path, parameters: dict, timeout: float = 60.0) -> dict:
    return {
        "notebook": notebook.read_text(encoding="utf-8"),
        "parameters": parameters,
        "timeout": timeout,
        "lang": "en",
        "title": "t",
        "figure_suffix": ".png",
        "kernel_name": runner_module.KERNEL_NAME,
        "key": "k",
    }


@pytest.mark.slow
def test_execute_report_stops_a_report_at_its_timeout(tmp_path):
    notebook = _notebook(tmp_path / "slow.ipynb", "x = 1")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[1].source = "import time\ntime.sleep(60)"
    nbformat.write(nb, notebook)
    result = execute_report(_spec(notebook, {"x": 2}, timeout=2.0))
    assert result["status"] == "failed"
    assert result["error"] == label("run_timeout", "en", seconds="2")
    assert result["duration"] < 30 and result["attempts"] == 1
    assert "html" not in result


@pytest.mark.slow
def test_the_kernel_gets_the_checkout_on_its_path_and_this_process_keeps_its_own(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PYTHONPATH", "sentinel")
    notebook = _notebook(tmp_path / "path.ipynb", "x = 1")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[1].source = (
        "import os, kiemnhiem\n"
        "parts = os.environ['PYTHONPATH'].split(os.pathsep)\n"
        f"assert parts == [{str(ROOT)!r}, 'sentinel'], parts\n"
        f"assert kiemnhiem.__file__.startswith({str(ROOT)!r}), kiemnhiem.__file__"
    )
    nbformat.write(nb, notebook)
    result = execute_report(_spec(notebook, {"x": 2}))
    assert result["status"] == "ok", result.get("evalue")
    # The checkout went to the kernel only: threads and later subprocesses see the original.
    assert os.environ["PYTHONPATH"] == "sentinel"


def _light_params(tmp_path: Path) -> dict:
    return {
        "dataset": str(demo_dir()),
        "unit": "122",
        "model": "tuyengiao_ttct",
        "lang": "en",
        "pre_years": 3,
        "post_years": 3,
        "level": 0.1,
        "classification": None,
    }


@pytest.mark.slow
def test_a_kernel_that_dies_is_retried_once(light_notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("KN_TEST_DIE_ONCE", str(tmp_path / "died-once"))
    result = execute_report(_spec(light_notebook, _light_params(tmp_path)))
    assert result["status"] == "ok" and result["attempts"] == 2
    assert "Dữ liệu minh họa" in result["html"]
    assert list(result["figures"]) == ["light-series.png"]


@pytest.mark.slow
def test_a_kernel_that_dies_twice_fails(light_notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("KN_TEST_ALWAYS_DIE", "1")
    result = execute_report(_spec(light_notebook, _light_params(tmp_path)))
    assert result["status"] == "failed" and result["attempts"] == 2
    assert result["error"] == label("run_kernel_died", "en", attempts=2)


@pytest.mark.slow
def test_a_notebook_that_raises_is_not_retried(light_notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("KN_TEST_FAIL_UNIT", "122")
    result = execute_report(_spec(light_notebook, _light_params(tmp_path)))
    assert result["status"] == "failed" and result["attempts"] == 1
    assert result["ename"] == "ValueError" and "planned failure for 122" in result["evalue"]
    # Cells: parameters, papermill's injected parameters, the PNG, the body that raised.
    assert result["cell_index"] == 3


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
    runner._notebooks = lambda overrides: {"pilot": light, "summary": None}
    sys.exit(cli.main(sys.argv[2:]))
"""


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _wait_for_kernels(pid: int, n: int, timeout: float = 60) -> list:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        kids = _descendants(pid)
        kernels = []
        for p in kids:
            try:
                if "ipykernel_launcher" in " ".join(p.cmdline()):
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
# Dask: an existing cluster runs the grid
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    old = os.environ.get("PYTHONPATH")
    # The workers import this checkout's kiemnhiem.
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), old) if p)
    try:
        with distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        ) as local:
            yield local
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@pytest.mark.slow
def test_a_dask_cluster_runs_the_reports(cluster, light_notebook, tmp_path):
    data = shutil.copytree(demo_dir(), tmp_path / "data")
    site = tmp_path / "site"
    result = run_reports(
        data,
        out=site,
        scheduler=cluster.scheduler_address,
        quiet=True,
        notebooks={"pilot": light_notebook, "summary": None},
        only=["122:tuyengiao_ttct", "Mộc Châu:tuyengiao_ttct"],
    )
    assert result.exit_code == 0, [o.error for o in result.reports]
    assert len(result.ok) == 2
    manifest = _manifest(site)
    # The manifest names the dataset the run was given, not the workers' copies.
    assert manifest["dataset"]["path"] == str(data.resolve())
    page = _html(site, PHU_YEN)
    assert "Dữ liệu minh họa" in page and "122 | tuyengiao_ttct" in page
    assert (site / "tuyengiao_ttct/122-phu-yen/light-series.png").is_file()
    assert site_problems(site) == []


@pytest.mark.slow
def test_a_dask_worker_with_other_code_is_a_clear_error(
    cluster, light_notebook, tmp_path, monkeypatch
):
    monkeypatch.setattr(runner_module, "_code_hash", lambda: "0" * 64)
    with pytest.raises(RunError) as info:
        run_reports(
            None,
            out=tmp_path / "site",
            scheduler=cluster.scheduler_address,
            quiet=True,
            notebooks={"pilot": light_notebook, "summary": None},
            only=["122:tuyengiao_ttct"],
        )
    assert "000000000000" in info.value.message_en
    assert not (tmp_path / "site" / "manifest.json").exists()


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
    assert len(demo_site.ok) == N_PILOTS + _summary_planned() and not demo_site.failed
    pages = _pilot_pages(site)
    assert len(pages) == N_PILOTS
    assert PHU_YEN in pages
    assert (site / "summary.html").is_file() == _summary_planned()
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
        assert not _LOADING_TAG.search(text), page.name
        assert not _REMOTE_URL.search(text), page.name
        assert not _CSS_IMPORT.search(text), page.name


@pytest.mark.slow
def test_demo_reports_carry_the_banner_the_unit_and_embedded_figures(demo_site):
    manifest = _manifest(demo_site.out)
    for entry in manifest["reports"]:
        text = _html(demo_site.out, entry["path"])
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
    assert "load_dataset" not in _html(demo_site.out, PHU_YEN)


@pytest.mark.slow
def test_demo_manifest_records_versions_data_parameters_and_results(demo_site, demo):
    manifest = _manifest(demo_site.out)
    assert manifest["kiemnhiem_version"] == __version__
    assert manifest["run_id"] == demo_site.run_id
    assert manifest["dataset"]["path"] == str(demo_dir().resolve())
    assert manifest["dataset"]["content_hash"] == demo.content_hash
    assert manifest["dataset"]["synthetic"] is True
    assert set(runner_module.KEY_DEPENDENCIES) <= set(manifest["versions"])
    assert manifest["parameters"]["lang"] == "vi"
    assert manifest["parameters"]["level"] == 0.10
    assert manifest["exit_code"] == 0 and manifest["status"] == "ok"
    assert len(manifest["reports"]) == N_PILOTS + _summary_planned()
    for entry in manifest["reports"]:
        assert entry["status"] == "ok" and entry["error"] is None
        assert entry["duration"] > 0 and entry["started"]
        assert entry["attempts"] == 1
        assert entry["results"], entry["path"]
        assert {r["verdict"] for r in entry["results"]} <= {
            "improved",
            "worsened",
            "changed",
            "no_clear_change",
            "not_assessed",
        }
    phu_yen = {e["path"]: e for e in manifest["reports"]}[PHU_YEN]
    # One result per indicator that concerns tuyengiao_ttct (DESIGN.md's catalog: the 6 for
    # every model and its own 4).
    assert len(phu_yen["results"]) == 10


@pytest.mark.slow
def test_demo_index_links_every_report(demo_site):
    index = _html(demo_site.out, "index.html")
    links = re.findall(r'<a href="([^"]+\.html)"', index)
    assert len(links) == N_PILOTS + _summary_planned()
    for link in links:
        assert (demo_site.out / link).is_file()
    assert label("index_title", "vi") in index and label("index_title", "en") in index
    assert label("report_synthetic_title", "vi") in index
    assert label("index_first_run", "en") in index


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
    text = _html(site_copy, "tuyengiao_ttct/122-phu-yen.en.html")
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
    manifest = _manifest(site_copy)
    assert len(manifest["reports"]) == N_PILOTS + _summary_planned() + 1
    index = _html(site_copy, "index.html")
    assert 'href="tuyengiao_ttct/122-phu-yen.en.html"' in index
    assert 'href="tuyengiao_ttct/122-phu-yen.en.pdf"' in index
    assert f'href="{PHU_YEN}"' in index
    assert "Tài liệu nội bộ" in index
    assert site_problems(site_copy) == []


@pytest.mark.slow
def test_unchanged_site_is_kept_without_running(site_copy, monkeypatch):
    manifest = _manifest(site_copy)
    # Same code as the run that built the site (others may be editing the checkout meanwhile).
    monkeypatch.setattr(runner_module, "_code_hash", lambda: manifest["code_sha256"])
    started = time.perf_counter()
    result = run_reports(None, out=site_copy, workers=1, quiet=True)
    assert time.perf_counter() - started < 10  # no kernel; the benchmark measures it properly
    assert result.exit_code == 0 and not result.published
    assert len(result.unchanged) == N_PILOTS + _summary_planned() and not result.ok
    assert _manifest(site_copy) == manifest


def test_changed_code_is_never_unchanged(demo):
    first = runner_module._code_hash()
    assert first == runner_module._code_hash()
    notebooks = {"pilot": runner_module.notebook_path("pilot_report"), "summary": None}
    prints = runner_module._Fingerprints(demo, notebooks, first)
    other = runner_module._Fingerprints(demo, notebooks, "other")
    job = ReportJob("122", "Huyện Phù Yên", "Phù Yên", "tuyengiao_ttct", "vi")
    params = {"unit": "122", "lang": "vi"}
    assert prints.of(job, params) == prints.of(job, dict(params))
    assert prints.of(job, params) != other.of(job, params)
    assert prints.of(job, params) != prints.of(job, {**params, "level": 0.05})
    assert prints.of(job, {**params, "dataset": "/a"}) == prints.of(
        job, {**params, "dataset": "/b"}
    )


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

    real_execute = runner.execute_report

    def recording_execute(spec):
        seen.append(spec["parameters"]["dataset"])
        return real_execute(spec)

    monkeypatch.setattr(runner, "_snapshot_dataset", snapshot_then_edit)
    monkeypatch.setattr(runner, "execute_report", recording_execute)
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
