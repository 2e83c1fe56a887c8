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


def test_document_settings_join_the_fingerprint(demo):
    """A changed document number remakes the reports (their documents), and says why."""
    from kiemnhiem.run.params import RunSettings
    from kiemnhiem.run.plan import _reason

    notebooks = {"pilot": notebook_path("pilot_report"), "summary": None}
    job = ReportJob("122", "Huyện Phù Yên", "Phù Yên", "tuyengiao_ttct", "vi")
    params = {"unit": "122", "lang": "vi"}
    first = RunSettings(document={"kind": "Đảng", "number": "15-BC/BTCTU"})
    second = RunSettings(document={"kind": "Đảng", "number": "16-BC/BTCTU"})
    assert first.document.kind == "party"
    assert first.as_dict()["document"] == {"kind": "party", "number": "15-BC/BTCTU"}
    before = fingerprints.Fingerprints(demo, notebooks, "c", first.document.as_dict())
    after = fingerprints.Fingerprints(demo, notebooks, "c", second.document.as_dict())
    assert before.of(job, params) != after.of(job, params)
    old = {"fingerprint": before.of(job, params), "inputs": before.inputs(job, params)}
    assert _reason(old, after.of(job, params), after.inputs(job, params), False) == "document"
    same = fingerprints.Fingerprints(demo, notebooks, "c", dict(first.document.as_dict()))
    assert same.of(job, params) == before.of(job, params)


def test_bad_document_settings_are_refused_before_anything_runs():
    import pytest

    from kiemnhiem.exceptions import ParameterError
    from kiemnhiem.run.params import RunSettings

    with pytest.raises(ParameterError) as err:
        RunSettings(document={"kind": "party", "number": "15/BC-UBND"})
    assert "15-BC/BTCTU" in err.value.message_vi
