"""A run's evaluations computed once (:mod:`kiemnhiem.run.evaluations`): the file gives the
very frames that computing gives, a file that does not fit is ignored, and a notebook shows the
same report whichever way it got them."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys

import nbformat
import pandas as pd
import pytest

from kiemnhiem.exceptions import ParameterError
from kiemnhiem.report.conclusions import evaluate_report
from kiemnhiem.resources import notebook_path
from kiemnhiem.run.evaluations import (
    EVALUATION_PARAMETER,
    combine_evaluations,
    evaluation_request,
    models_with_pilots,
    read_evaluation,
    read_profiles,
    report_dataset,
    report_evaluation,
    report_profiles,
    request_name,
    summary_evaluation,
    write_evaluation,
)
from kiemnhiem.run.execute import Batch, _kernel_env, prepare_evaluations
from kiemnhiem.run.params import RunSettings
from kiemnhiem.run.plan import plan_reports, summary_job
from kiemnhiem.stats.evaluation import evaluate_all
from kiemnhiem.stats.eventstudy import pilot_profiles

UNIT, MODEL = "122", "danvan_mttq"  # a pilot of the demo


@pytest.fixture(scope="module")
def model_file(demo, tmp_path_factory):
    """The demo's danvan_mttq evaluation, written as a run writes it."""
    request = evaluation_request("pilot", MODEL, 3, 3, 0.10)
    path = tmp_path_factory.mktemp("evaluations") / request_name(request)
    return write_evaluation(demo, request, path)


def test_the_file_holds_what_evaluate_all_computes(demo, model_file):
    request = evaluation_request("pilot", MODEL, 3, 3, 0.10)
    expected = evaluate_all(demo, pre_years=3, post_years=3, level=0.10, models=[MODEL])
    pd.testing.assert_frame_equal(read_evaluation(model_file, demo.content_hash, request), expected)


def test_a_report_gets_the_same_frames_from_the_file_as_computed(demo, model_file):
    rows, frame = evaluate_report(demo, UNIT, MODEL, pre_years=3, post_years=3, level=0.10)
    cached_rows, cached_frame = report_evaluation(
        demo, UNIT, MODEL, pre_years=3, post_years=3, level=0.10, evaluation_file=model_file
    )
    pd.testing.assert_frame_equal(cached_rows, rows)
    pd.testing.assert_frame_equal(cached_frame, frame)
    assert len(rows) > 0 and set(rows["unit_code"]) == {UNIT}


def _same_profiles(got, expected):
    """Two ``(series, event_studies, errors)``: the same frames (values, types, ``attrs``) and
    the same error messages in both languages."""
    (series, studies, errors), (e_series, e_studies, e_errors) = got, expected
    assert list(series) == list(e_series) and list(studies) == list(e_studies)
    for code, frame in series.items():
        pd.testing.assert_frame_equal(frame, e_series[code], check_exact=True)
    for code, frame in studies.items():
        pd.testing.assert_frame_equal(frame, e_studies[code], check_exact=True)
        assert frame.attrs == e_studies[code].attrs
    assert {k: (e.message_vi, e.message_en) for k, e in errors.items()} == {
        k: (e.message_vi, e.message_en) for k, e in e_errors.items()
    }


def test_the_model_file_holds_each_pilots_profiles_as_computed(demo, model_file):
    """Every pilot of the model (two cohorts, 2019 and 2020, share their event studies in the
    file): what its report reads is what ``pilot_profiles`` computes for it alone."""
    request = evaluation_request("pilot", MODEL, 3, 3, 0.10)
    pilots = demo.pilots.loc[demo.pilots["model"] == MODEL, "unit_code"].astype(str)
    assert len(pilots) >= 2
    for unit in pilots:
        rows, _frame = report_evaluation(demo, unit, MODEL, evaluation_file=model_file)
        indicators = rows["indicator"]
        held = read_profiles(model_file, demo.content_hash, request, unit, indicators)
        assert held is not None
        expected = pilot_profiles(demo, unit, MODEL, indicators)
        _same_profiles(held, expected)
        _same_profiles(
            report_profiles(demo, unit, MODEL, indicators, evaluation_file=model_file), expected
        )


def test_profiles_the_file_does_not_hold_are_computed(demo, model_file):
    request = evaluation_request("pilot", MODEL, 3, 3, 0.10)
    rows, _frame = report_evaluation(demo, UNIT, MODEL, evaluation_file=model_file)
    fewer = list(rows["indicator"])[:2]  # other indicators than the report's
    assert read_profiles(model_file, demo.content_hash, request, UNIT, fewer) is None
    assert read_profiles(model_file, "another-content-hash", request, UNIT, fewer) is None
    _same_profiles(
        report_profiles(demo, UNIT, MODEL, fewer, evaluation_file=model_file),
        pilot_profiles(demo, UNIT, MODEL, fewer),
    )
    # Another level: the file's intervals are not these; computed.
    assert read_profiles(model_file, demo.content_hash, {**request, "level": 0.05}, UNIT,
                         rows["indicator"]) is None  # fmt: skip
    # Not a pilot of the model: the error its report shows, as computed alone.
    with pytest.raises(ParameterError):
        report_profiles(demo, "119", MODEL, rows["indicator"], evaluation_file=model_file)


def _same_dataset(got, expected):
    """Two Datasets field by field: frames equal to the value and type, the rest equal."""
    for name in type(expected).__dataclass_fields__:
        a, b = getattr(got, name), getattr(expected, name)
        if isinstance(b, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        else:
            assert a == b, name


def test_a_report_takes_the_dataset_the_run_validated_only_for_the_same_files(
    demo, tmp_path, monkeypatch
):
    """The file holds the dataset its worker loaded; a report takes it (without loading)
    only when the files at the path are still the bytes it was loaded from."""
    from kiemnhiem.data import dataset as dataset_module
    from kiemnhiem.run import evaluations

    folder = tmp_path / "data"
    folder.mkdir()
    for path in demo.path.iterdir():
        if path.is_file():
            (folder / path.name).write_bytes(path.read_bytes())
    loaded = dataset_module.load_dataset(folder)
    request = evaluation_request("pilot", MODEL, 3, 3, 0.10)
    file = write_evaluation(loaded, request, tmp_path / request_name(request))

    calls = []
    real = dataset_module.load_dataset
    monkeypatch.setattr(
        dataset_module, "load_dataset", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    _same_dataset(report_dataset(folder, file), loaded)
    assert calls == []  # taken from the file
    _same_dataset(report_dataset(folder, None), loaded)  # alone: loaded
    assert len(calls) == 1
    # Another folder with the same bytes: loaded (the held dataset names its own path).
    _same_dataset(report_dataset(demo.path, file), demo)
    assert len(calls) == 2
    # The files changed since: loaded again, the new data, not the file's.
    panel = folder / "panel.csv"
    panel.write_bytes(panel.read_bytes().replace(b"\n", b"\r\n"))
    again = report_dataset(folder, file)
    assert len(calls) == 3 and again.content_hash != loaded.content_hash
    # Another year than the one it was validated in ("future" years move): loaded again.
    panel.write_bytes(panel.read_bytes().replace(b"\r\n", b"\n"))
    assert report_dataset(folder, file).content_hash == loaded.content_hash
    assert len(calls) == 3

    next_year = evaluations.date(evaluations.date.today().year + 1, 1, 1)

    class NextYear(evaluations.date):
        @classmethod
        def today(cls):
            return next_year

    monkeypatch.setattr(evaluations, "date", NextYear)
    report_dataset(folder, file)
    assert len(calls) == 4


@pytest.mark.parametrize(
    "change",
    [
        {"pre_years": 4},  # other windows
        {"level": 0.05},  # another level
        {"models": ["tuyengiao_ttct"]},  # another model
    ],
)
def test_a_file_made_for_another_request_is_ignored(demo, model_file, change):
    request = {**evaluation_request("pilot", MODEL, 3, 3, 0.10), **change}
    assert read_evaluation(model_file, demo.content_hash, request) is None


def test_a_file_made_from_other_data_is_ignored_and_the_report_computes(demo, model_file, tmp_path):
    request = evaluation_request("pilot", MODEL, 3, 3, 0.10)
    assert read_evaluation(model_file, "another-content-hash", request) is None
    # A file whose frame was tampered with but that claims another dataset is not read: the
    # report computes its own rows (the real ones, not the tampered ones).
    record = pickle.loads(open(model_file, "rb").read())
    record["content_hash"] = "another-content-hash"
    record["frame"] = pickle.dumps(pickle.loads(record["frame"]).assign(did=0.0))
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps(record))
    rows, _frame = report_evaluation(demo, UNIT, MODEL, evaluation_file=other)
    expected, _ = evaluate_report(demo, UNIT, MODEL)
    pd.testing.assert_frame_equal(rows, expected)


@pytest.mark.parametrize("content", [None, b"", b"not a pickle"])
def test_a_missing_or_broken_file_is_ignored(demo, tmp_path, content):
    path = tmp_path / "broken.pkl"
    if content is not None:
        path.write_bytes(content)
    request = evaluation_request("pilot", MODEL, 3, 3, 0.10)
    assert read_evaluation(path, demo.content_hash, request) is None
    assert read_evaluation(None, demo.content_hash, request) is None


def test_the_summary_reads_its_own_request_only(demo, tmp_path):
    request = evaluation_request("summary", None, 3, 3, 0.10)
    path = write_evaluation(demo, request, tmp_path / request_name(request))
    expected = evaluate_all(demo, level=0.10)
    pd.testing.assert_frame_equal(summary_evaluation(demo, evaluation_file=path), expected)
    # One model's summary is another request: computed, not the file's every-model frame.
    one = summary_evaluation(demo, models=[MODEL], evaluation_file=path)
    assert set(one["model"]) == {MODEL}


def test_each_models_evaluation_put_together_is_the_summarys(demo):
    # The reference is evaluate_all over every model at once, as the summary computed it.
    models = models_with_pilots(demo)
    assert len(models) >= 2
    parts = [evaluate_all(demo, models=[m]) for m in models]
    pd.testing.assert_frame_equal(combine_evaluations(parts), evaluate_all(demo), check_exact=True)


def test_a_run_puts_the_summarys_evaluation_together_or_computes_it(demo, tmp_path, monkeypatch):
    import concurrent.futures as cf

    settings = RunSettings(notebooks={"pilot": notebook_path("pilot_report"), "summary": None})
    batch = Batch("t", {}, str(demo.path), demo.content_hash, "", settings)
    jobs = [*plan_reports(demo), summary_job("vi")]
    summary = evaluation_request("summary", None, 3, 3, 0.10)
    with cf.ThreadPoolExecutor(2) as pool:
        made = prepare_evaluations(
            batch, jobs, pool, tmp_path / "a", models=models_with_pilots(demo)
        )
        # One model's part missing (here: the summary covers a model no pilot report asks for
        # and whose evaluation fails): the summary's is computed whole instead.
        broken = prepare_evaluations(
            batch, jobs, pool, tmp_path / "b", models=[*models_with_pilots(demo), "no_such_model"]
        )
    expected = evaluate_all(demo)
    for files in (made, broken):
        frame = read_evaluation(files[request_name(summary)], demo.content_hash, summary)
        pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    for model in models_with_pilots(demo):
        request = evaluation_request("pilot", model, 3, 3, 0.10)
        file = made[request_name(request)]
        # Each model's file also carries its pilots' profiles and the dataset the worker
        # validated (from the run's dataset path), which its reports read.
        for unit in demo.pilots.loc[demo.pilots["model"] == model, "unit_code"].astype(str):
            rows, _frame = report_evaluation(demo, unit, model, evaluation_file=file)
            held = read_profiles(file, demo.content_hash, request, unit, rows["indicator"])
            assert held is not None
        with monkeypatch.context() as patch:
            from kiemnhiem.data import dataset as dataset_module

            patch.setattr(dataset_module, "load_dataset", None)  # not loaded: from the file
            assert report_dataset(demo.path, file).content_hash == demo.content_hash
    # The summary's file too, put together from the models' or computed whole.
    with monkeypatch.context() as patch:
        from kiemnhiem.data import dataset as dataset_module

        patch.setattr(dataset_module, "load_dataset", None)
        for files in (made, broken):
            held = report_dataset(demo.path, files[request_name(summary)])
            assert held.content_hash == demo.content_hash


def test_a_run_profiles_only_the_pilots_whose_reports_run(demo, tmp_path):
    """``--only`` one pilot: its model's file carries that pilot's profiles, not its
    cohort-mates' (their reports do not run)."""
    import concurrent.futures as cf

    settings = RunSettings(notebooks={"pilot": notebook_path("pilot_report"), "summary": None})
    batch = Batch("t", {}, str(demo.path), demo.content_hash, "", settings)
    jobs = [j for j in plan_reports(demo) if (j.unit_code, j.model) == (UNIT, MODEL)]
    assert len(jobs) == 1
    with cf.ThreadPoolExecutor(1) as pool:
        made = prepare_evaluations(batch, jobs, pool, tmp_path)
    request = evaluation_request("pilot", MODEL, 3, 3, 0.10)
    file = made[request_name(request)]
    for unit in demo.pilots.loc[demo.pilots["model"] == MODEL, "unit_code"].astype(str):
        rows, _frame = report_evaluation(demo, unit, MODEL, evaluation_file=file)
        held = read_profiles(file, demo.content_hash, request, unit, rows["indicator"])
        assert (held is not None) == (unit == UNIT)


def test_request_names_differ_by_model_window_and_level():
    names = {
        request_name(evaluation_request(kind, model, pre, 3, level))
        for kind, model in [
            ("pilot", "danvan_mttq"),
            ("pilot", "tuyengiao_ttct"),
            ("summary", None),
        ]
        for pre in (2, 3)
        for level in (0.05, 0.10)
    }
    assert len(names) == 3 * 2 * 2


def _outputs(nb) -> str:
    """Every code cell's outputs as JSON, without execution counts, and without the memory
    addresses in objects' plain-text reprs (``<...Styler at 0x7f...>``), which differ between
    any two runs."""
    outputs = [
        [{k: v for k, v in o.items() if k != "execution_count"} for o in cell.get("outputs", [])]
        for cell in nb.cells
        if cell.cell_type == "code"
    ]
    return re.sub(r" at 0x[0-9a-f]+>", " at 0x>", json.dumps(outputs, sort_keys=True))


@pytest.mark.slow
def test_the_pilot_notebook_shows_the_same_report_from_the_file(demo, model_file, tmp_path):
    """The report under plain papermill, alone and given the run's file: the same outputs,
    figures and tables included."""
    notebook = notebook_path("pilot_report")
    runs = {}
    for name, extra in [("alone", []), ("file", ["-p", EVALUATION_PARAMETER, model_file])]:
        out = tmp_path / f"{name}.ipynb"
        subprocess.run(
            [sys.executable, "-m", "papermill", str(notebook), str(out), "--no-progress-bar",
             "-p", "dataset", str(demo.path), "-r", "unit", UNIT, "-p", "model", MODEL, *extra],
            check=True, capture_output=True, env=_kernel_env(),
        )  # fmt: skip
        runs[name] = nbformat.read(out, as_version=4)
    assert _outputs(runs["file"]) == _outputs(runs["alone"])
    assert any(cell.get("outputs") for cell in runs["alone"].cells)
    assert "kiemnhiem_figure" in _outputs(runs["file"])  # the figures were compared too
