"""Planning: the jobs and their paths, ``--only``, and which reports a change remakes
(:mod:`kiemnhiem.run.plan`)."""

from __future__ import annotations

import pytest

from kiemnhiem.exceptions import ParameterError
from kiemnhiem.run import plan as plan_module
from kiemnhiem.run.plan import ReportJob, plan_reports, slugify
from kiemnhiem.run.publish import site_problems
from kiemnhiem.run.runner import run_reports
from tests.run.helpers import (
    DANVAN,
    N_PILOTS,
    TUYENGIAO,
    edit_panel,
    read_manifest,
    summary_planned,
)

# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------


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


def test_plan_has_one_job_per_pilot(demo):
    jobs = plan_reports(demo)
    assert len(jobs) == N_PILOTS
    assert {(j.unit_code, j.model) for j in jobs} == set(
        zip(demo.pilots["unit_code"], demo.pilots["model"], strict=True)
    )
    assert len({j.html_path for j in jobs}) == N_PILOTS


def test_plan_adds_the_summary_only_when_its_notebook_exists(demo, monkeypatch, tmp_path):
    monkeypatch.setattr(plan_module, "summary_notebook", lambda: tmp_path / "s.ipynb")
    jobs = plan_reports(demo, summary=True)
    assert len(jobs) == N_PILOTS + 1
    assert jobs[-1].kind == "summary" and jobs[-1].html_path == "summary.html"
    # Not with --only: the summary is about every pilot.
    assert [j.kind for j in plan_reports(demo, only=["122:tuyengiao_ttct"], summary=True)] == [
        "pilot"
    ]
    monkeypatch.setattr(plan_module, "summary_notebook", lambda: None)
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


# ---------------------------------------------------------------------------------------------
# Incremental: what depends on what
# ---------------------------------------------------------------------------------------------


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
    edit_panel(data, "119", "2021", indicator, "80")
    result = run_reports(data, out=site, executor=fake_reports.executor, quiet=True)
    summary = {"summary/vi"} if summary_planned() else set()
    assert _made(result) == expected | summary
    assert len(result.unchanged) == N_PILOTS - len(expected)
    assert result.published and result.exit_code == 0
    assert site_problems(site) == []
    # Nothing changed since: nothing is remade, nothing published.
    again = run_reports(data, out=site, executor=fake_reports.executor, quiet=True)
    assert not again.published and not again.ok and again.exit_code == 0
    assert read_manifest(site)["run_id"] == result.run_id
