"""What a report depends on: dataset digests per indicator, the code hash, the fingerprint
(:mod:`kiemnhiem.run.fingerprints`)."""

from __future__ import annotations

import shutil

from kiemnhiem.data.dataset import load_dataset
from kiemnhiem.resources import demo_dir, notebook_path
from kiemnhiem.run import fingerprints
from kiemnhiem.run.fingerprints import dataset_digests
from kiemnhiem.run.plan import ReportJob
from tests.run.helpers import (
    edit_panel,
)


def test_dataset_digests_follow_one_indicator(tmp_path):
    data = shutil.copytree(demo_dir(), tmp_path / "data")
    common, before = dataset_digests(load_dataset(data))
    edit_panel(data, "119", "2021", "so_cuoc_kiem_tra_giam_sat", "40")
    common_after, after = dataset_digests(load_dataset(data))
    assert common_after == common
    assert {k for k in before if before[k] != after.get(k)} == {"so_cuoc_kiem_tra_giam_sat"}


def test_changed_code_is_never_unchanged(demo):
    first = fingerprints.code_hash()
    assert first == fingerprints.code_hash()
    notebooks = {"pilot": notebook_path("pilot_report"), "summary": None}
    prints = fingerprints.Fingerprints(demo, notebooks, first)
    other = fingerprints.Fingerprints(demo, notebooks, "other")
    job = ReportJob("122", "Huyện Phù Yên", "Phù Yên", "tuyengiao_ttct", "vi")
    params = {"unit": "122", "lang": "vi"}
    assert prints.of(job, params) == prints.of(job, dict(params))
    assert prints.of(job, params) != other.of(job, params)
    assert prints.of(job, params) != prints.of(job, {**params, "level": 0.05})
    assert prints.of(job, {**params, "dataset": "/a"}) == prints.of(
        job, {**params, "dataset": "/b"}
    )
