"""The main job: planning, parameters, and real papermill runs on the bundled demo.

The demo site is built once per session (``demo_site`` in conftest.py); the tests that run
again (English, a failing report, an unchanged report) use a copy and run one or two reports.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import nbformat
import pytest

from kiemnhiem import __version__
from kiemnhiem import runner as runner_module
from kiemnhiem.dataset import load_dataset
from kiemnhiem.exceptions import ParameterError, RunError
from kiemnhiem.labels import label
from kiemnhiem.resources import data_dir, demo_dir
from kiemnhiem.runner import (
    ReportJob,
    execute_report,
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
PHU_YEN = "tuyengiao_ttct/122-phu-yen.html"

# A <script> or <link> tag that loads anything, and any CSS import over the network.
_LOADING_TAG = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=", re.IGNORECASE)
_REMOTE_URL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import\s+url\(\s*['\"]?(?:https?:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def demo():
    return load_dataset(None)


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


# ---------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------


def test_plan_has_one_job_per_pilot(demo):
    jobs = plan_reports(demo)
    assert len(jobs) == N_PILOTS
    assert {(j.unit_code, j.model) for j in jobs} == set(
        zip(demo.pilots["unit_code"], demo.pilots["model"], strict=True)
    )
    assert len({j.html_path for j in jobs}) == N_PILOTS


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


@pytest.mark.parametrize(
    "kwargs", [{"workers": 0}, {"workers": 1.5}, {"formats": ("docx",)}, {"timeout": 0}]
)
def test_run_rejects_bad_options_before_running(tmp_path, kwargs):
    with pytest.raises(ParameterError):
        run_reports(None, out=tmp_path / "site", **kwargs)
    assert not (tmp_path / "site").exists()


def test_run_refuses_to_write_into_the_package_data(tmp_path):
    with pytest.raises(RunError):
        run_reports(None, out=data_dir() / "reports", only=["122:tuyengiao_ttct"])
    assert not (data_dir() / "reports").exists()


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


# ---------------------------------------------------------------------------------------------
# One report in a worker: the per-report timeout
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_execute_report_stops_a_report_at_its_timeout(tmp_path):
    notebook = tmp_path / "slow.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import time\ntime.sleep(60)"),
    ]
    nbformat.write(nb, notebook)
    spec = {
        "notebook": str(notebook),
        "parameters": {"x": 2},
        "workdir": str(tmp_path / "job"),
        "timeout": 2.0,
        "lang": "en",
        "title": "t",
        "figure_suffix": ".png",
        "kernel_name": runner_module.KERNEL_NAME,
    }
    result = execute_report(spec)
    assert result["status"] == "failed"
    assert result["error"] == label("run_timeout", "en", seconds="2")
    assert result["duration"] < 30
    assert not (tmp_path / "job" / "report.html").exists()


# ---------------------------------------------------------------------------------------------
# The demo site (built once per session)
# ---------------------------------------------------------------------------------------------


def _html(site: Path, rel: str) -> str:
    return (site / rel).read_text(encoding="utf-8")


@pytest.mark.slow
def test_demo_site_has_every_report_the_index_and_the_manifest(demo_site):
    site = demo_site.out
    assert demo_site.exit_code == 0
    assert demo_site.published
    assert len(demo_site.ok) == N_PILOTS and not demo_site.failed
    pages = sorted(p.relative_to(site).as_posix() for p in site.glob("*/*.html"))
    assert len(pages) == N_PILOTS
    assert PHU_YEN in pages
    assert (site / "index.html").is_file() and (site / "manifest.json").is_file()
    # Nothing half-written or temporary is left behind.
    assert not [p for p in site.rglob("*") if p.name.startswith(".")]


@pytest.mark.slow
def test_demo_reports_load_nothing_from_the_network(demo_site):
    for page in demo_site.out.glob("*/*.html"):
        text = page.read_text(encoding="utf-8")
        assert not _LOADING_TAG.search(text), page.name
        assert not _REMOTE_URL.search(text), page.name
        assert not _CSS_IMPORT.search(text), page.name


@pytest.mark.slow
def test_demo_reports_carry_the_banner_the_unit_and_embedded_figures(demo_site):
    manifest = json.loads((demo_site.out / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["reports"]:
        text = _html(demo_site.out, entry["path"])
        assert '<html lang="vi">' in text
        assert label("report_synthetic_title", "vi") in text
        assert entry["unit_name"] in text
        # Two figures per indicator, inline, and the same ones as PNG files beside the page.
        n_images = text.count('src="data:image/png;base64,')
        assert n_images >= 2 and n_images == len(entry["figures"])
        for rel in entry["figures"]:
            assert (demo_site.out / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # No code is shown.
    assert "load_dataset" not in _html(demo_site.out, PHU_YEN)


@pytest.mark.slow
def test_demo_manifest_records_version_data_and_parameters(demo_site, demo):
    manifest = json.loads((demo_site.out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kiemnhiem_version"] == __version__
    assert manifest["dataset"]["path"] == str(demo_dir().resolve())
    assert manifest["dataset"]["content_hash"] == demo.content_hash
    assert manifest["dataset"]["synthetic"] is True
    assert manifest["parameters"]["lang"] == "vi"
    assert manifest["parameters"]["level"] == 0.10
    assert manifest["exit_code"] == 0
    assert len(manifest["reports"]) == N_PILOTS
    for entry in manifest["reports"]:
        assert entry["status"] == "ok" and entry["error"] is None
        assert entry["duration"] > 0 and entry["started"]


@pytest.mark.slow
def test_demo_index_links_every_report(demo_site):
    index = _html(demo_site.out, "index.html")
    links = re.findall(r'<a href="([^"]+\.html)"', index)
    assert len(links) == N_PILOTS
    for link in links:
        assert (demo_site.out / link).is_file()
    assert label("index_title", "vi") in index and label("index_title", "en") in index
    assert label("report_synthetic_title", "vi") in index


@pytest.mark.slow
def test_english_report_with_only_joins_the_site(site_copy):
    before = (site_copy / PHU_YEN).read_bytes()
    result = run_reports(
        None,
        out=site_copy,
        lang="en",
        workers=1,
        only=["Phù Yên:tuyengiao_ttct"],
        quiet=True,
        classification="Tài liệu nội bộ",
    )
    assert result.exit_code == 0
    assert [o.job.html_path for o in result.ok] == ["tuyengiao_ttct/122-phu-yen.en.html"]
    text = _html(site_copy, "tuyengiao_ttct/122-phu-yen.en.html")
    assert '<html lang="en">' in text
    assert label("report_synthetic_title", "en") in text
    assert label("report_indicators_heading", "en") in text
    assert label("report_indicators_heading", "vi") not in text
    assert "Tài liệu nội bộ" in text
    assert list((site_copy / "tuyengiao_ttct" / "122-phu-yen").glob("*.en.png"))
    # The Vietnamese reports stay as they were, and the index lists both languages.
    assert (site_copy / PHU_YEN).read_bytes() == before
    manifest = json.loads((site_copy / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["reports"]) == N_PILOTS + 1
    index = _html(site_copy, "index.html")
    assert 'href="tuyengiao_ttct/122-phu-yen.en.html"' in index
    assert f'href="{PHU_YEN}"' in index
    assert "Tài liệu nội bộ" in index


@pytest.mark.slow
def test_unchanged_report_is_kept_without_running(site_copy, monkeypatch):
    manifest = json.loads((site_copy / "manifest.json").read_text(encoding="utf-8"))
    # Same code as the run that built the site (others may be editing the checkout meanwhile).
    monkeypatch.setattr(runner_module, "_code_hash", lambda: manifest["code_sha256"])
    result = run_reports(None, out=site_copy, workers=1, only=["122:tuyengiao_ttct"], quiet=True)
    assert result.exit_code == 0
    assert [o.status for o in result.reports] == ["unchanged"]
    manifest = json.loads((site_copy / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["reports"]) == N_PILOTS


def test_changed_code_is_never_unchanged(monkeypatch):
    first = runner_module._code_hash()
    assert first == runner_module._code_hash()
    job = ReportJob("122", "Huyện Phù Yên", "Phù Yên", "tuyengiao_ttct", "vi")
    base = {"version": "1", "dataset_hash": "d", "notebook_hash": "n", "settings": {}}
    assert runner_module._fingerprint({**base, "code_hash": first}, job) != (
        runner_module._fingerprint({**base, "code_hash": "other"}, job)
    )


@pytest.mark.slow
def test_a_failing_report_fails_alone(site_copy, monkeypatch):
    real = runner_module._report_parameters

    def broken(job, dataset_path, settings):
        parameters = real(job, dataset_path, settings)
        if job.unit_code == "122":
            parameters["model"] = "khong_co_mo_hinh"
        return parameters

    monkeypatch.setattr(runner_module, "_report_parameters", broken)
    before = (site_copy / PHU_YEN).read_bytes()
    result = run_reports(
        None,
        out=site_copy,
        workers=2,
        force=True,
        quiet=True,
        only=["122:tuyengiao_ttct", "124:tuyengiao_ttct"],
    )
    assert result.exit_code == 1
    status = {o.job.unit_code: o for o in result.reports}
    assert status["124"].status == "ok"
    assert status["122"].status == "failed"
    assert status["122"].ename == "ParameterError"
    assert "khong_co_mo_hinh" in status["122"].error
    # The failed report keeps its last good page; the run still publishes the others.
    assert (site_copy / PHU_YEN).read_bytes() == before
    manifest = json.loads((site_copy / "manifest.json").read_text(encoding="utf-8"))
    entries = {(e["unit_code"], e["model"]): e for e in manifest["reports"]}
    assert entries[("122", "tuyengiao_ttct")]["status"] == "failed"
    assert entries[("124", "tuyengiao_ttct")]["status"] == "ok"
    assert manifest["exit_code"] == 1
    assert label("index_status_failed", "vi") in _html(site_copy, "index.html")
