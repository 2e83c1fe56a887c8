"""Dask: an existing cluster runs the grid (:mod:`kiemnhiem.run.cluster`)."""

from __future__ import annotations

import os
import shutil

import pytest

from kiemnhiem.exceptions import RunError
from kiemnhiem.resources import demo_dir
from kiemnhiem.run import fingerprints
from kiemnhiem.run.publish import site_problems
from kiemnhiem.run.runner import run_reports
from tests.run.helpers import (
    PHU_YEN,
    ROOT,
    read_manifest,
    read_page,
)


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
    manifest = read_manifest(site)
    # The manifest names the dataset the run was given, not the workers' copies.
    assert manifest["dataset"]["path"] == str(data.resolve())
    page = read_page(site, PHU_YEN)
    assert "Dữ liệu minh họa" in page and "122 | tuyengiao_ttct" in page
    assert (site / "tuyengiao_ttct/122-phu-yen/light-series.png").is_file()
    assert site_problems(site) == []


@pytest.mark.slow
def test_a_dask_worker_with_other_code_is_a_clear_error(
    cluster, light_notebook, tmp_path, monkeypatch
):
    monkeypatch.setattr(fingerprints, "code_hash", lambda: "0" * 64)
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
