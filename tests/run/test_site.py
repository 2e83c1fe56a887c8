"""The run's site: what changed, outdated pages and their banners, the index page
(:mod:`kiemnhiem.run.site`)."""

from __future__ import annotations

import re

import pytest

from kiemnhiem.labels import label
from kiemnhiem.run.publish import site_problems
from kiemnhiem.run.runner import run_reports
from kiemnhiem.run.site import render_index
from tests.run.helpers import (
    DANVAN,
    LOADING_TAG,
    N_PILOTS,
    PHU_YEN,
    REMOTE_URL,
    edit_panel,
    read_manifest,
    read_page,
    summary_planned,
)

# ---------------------------------------------------------------------------------------------
# What changed, what is outdated
# ---------------------------------------------------------------------------------------------


def test_what_changed_lists_the_estimates_that_moved(fake_copy, fake_reports):
    data, site = fake_copy
    # Thuận Châu (119) is never in danvan_mttq: a comparison unit of all its 5 pilots, whose
    # post windows all contain 2020 (first full years 2019 and 2020, three post years) and
    # who all have a 2020 value. A higher 2020 count lowers each pilot's difference to the
    # comparison mean.
    edit_panel(data, "119", "2020", "so_cuoc_hop", "80")
    result = run_reports(data, out=site, executor=fake_reports.executor, quiet=True)
    changes = read_manifest(site)["changes"]
    assert changes and {c["indicator"] for c in changes} == {"so_cuoc_hop"}
    moved = {
        c["unit_code"] for c in changes if c["model"] == "danvan_mttq" and c["kind"] == "pilot"
    }
    assert moved == DANVAN
    for c in changes:
        if c["model"] == "danvan_mttq" and c["did_before"] is not None:
            assert c["did_after"] < c["did_before"]
    index = read_page(site, "index.html")
    assert 'id="changes"' in index
    assert label("index_changes_title", "en", run=read_manifest(site)["previous_run"]) in index
    assert result.changes == tuple(changes)


def test_a_failed_report_keeps_its_last_good_version_marked_outdated(fake_copy, fake_reports):
    data, site = fake_copy
    before = read_page(site, PHU_YEN)
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
    page = read_page(site, PHU_YEN)
    assert "planned failure for 122" in page and page != before
    assert before.split("<body>")[1] in page  # the last good content, under the banner
    entry = {e["path"]: e for e in read_manifest(site)["reports"]}[PHU_YEN]
    assert entry["status"] == "failed" and entry["outdated"] is True
    assert entry["error"] and entry["results"]  # its last good results stay
    index = read_page(site, "index.html")
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
    assert read_page(site, PHU_YEN).count('kn-outdated"') == 1


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
    edit_panel(data, "119", "2021", "so_lop_boi_duong", "80")
    run_reports(data, out=site, executor=fake_reports.executor, quiet=True)
    entries = {(e["path"]): e for e in read_manifest(site)["reports"]}
    english = entries["tuyengiao_ttct/122-phu-yen.en.html"]
    assert english["outdated"] is True and english["outdated_reason"] == "inputs_changed"
    assert entries[PHU_YEN]["outdated"] is False
    assert label("index_status_outdated", "en") in read_page(site, "index.html")
    # The page itself says so.
    assert "kn-outdated" in read_page(site, "tuyengiao_ttct/122-phu-yen.en.html")
    assert "kn-outdated" not in read_page(site, PHU_YEN)
    assert site_problems(site) == []


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
    assert not LOADING_TAG.search(page) and not REMOTE_URL.search(page)
    assert 'data-run="20250101T000000-abcdef"' in page


@pytest.mark.slow
def test_demo_index_links_every_report(demo_site):
    index = read_page(demo_site.out, "index.html")
    links = re.findall(r'<a href="([^"]+\.html)"', index)
    assert len(links) == N_PILOTS + summary_planned()
    for link in links:
        assert (demo_site.out / link).is_file()
    assert label("index_title", "vi") in index and label("index_title", "en") in index
    assert label("report_synthetic_title", "vi") in index
    assert label("index_first_run", "en") in index


def test_index_shows_each_reports_main_verdicts_and_the_time_in_vietnam():
    manifest = {
        "started": "2026-12-07T23:05:00+00:00",  # 06:05 on the 8th in Vietnam (UTC+7)
        "dataset": {"name": "d", "synthetic": False},
        "reports": [
            {
                "kind": "summary",
                "lang": "vi",
                "path": "summary.html",
                "status": "ok",
                "files": {"summary.html": "x"},
                "results": [
                    {"model": "m1", "indicator": "so_cuoc_hop", "verdict": "improved"},
                    {"model": "m1", "indicator": "so_bien_che", "verdict": "no_clear_change"},
                ],
            },
            {
                "unit_code": "118",
                "unit_name": "A",
                "model": "m1",
                "lang": "vi",
                "path": "m1/118-a.html",
                "status": "ok",
                "files": {"m1/118-a.html": "x"},
                "results": [
                    {"indicator": "so_cuoc_hop", "verdict": "improved"},
                    {"indicator": "so_bien_che", "verdict": "no_clear_change"},
                    {"indicator": "xep_loai", "verdict": "no_clear_change"},
                ],
            },
        ],
    }
    page = render_index(manifest)
    assert label("index_results", "vi") in page and label("index_results", "en") in page
    cells = re.findall(r'<td class="results">(.*?)</td>', page, flags=re.S)
    assert len(cells) == 2
    # The summary first, per model; a pilot's verdicts in words and symbols, the conclusive
    # ones by name, the others counted.
    assert "m1 – ▲ Cải thiện: so_cuoc_hop; ● Chưa thấy thay đổi rõ: 1 chỉ tiêu" in cells[0]
    assert "▲ Cải thiện: so_cuoc_hop; ● Chưa thấy thay đổi rõ: 2 chỉ tiêu" in cells[1]
    assert "▲ Improved: so_cuoc_hop; ● No clear change: 2 indicators" in cells[1]
    assert "ngày 08 tháng 12 năm 2026, lúc 06:05 (giờ Việt Nam)" in page
    assert "2026-12-07T23:05" not in page
