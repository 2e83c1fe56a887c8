"""A run's evaluations, computed once and read by every report that needs them.

A district's report leads with its model's estimates, so it needs the model's whole
:func:`~kiemnhiem.stats.evaluation.evaluate_all` (every pilot of the model: its cost grows with
the number of pilots). Computed in each report, a run of n pilots paid it n times in the
kernels and n times again in the workers (for the manifest and the documents). The runner now
computes each distinct evaluation once (one task per model in its pool), writes it to the run's
folder, and passes the file to the notebooks as the optional parameter ``evaluation_file``;
the workers read the same file.

A notebook run alone (plain papermill, ``evaluation_file`` None) computes as before. A file that
was not made for this dataset's content and these settings is ignored (computed instead), so
the results are the same whichever way they are obtained.

A pilot report also draws its pilot's yearly series and its cohort's event study per indicator
(:func:`~kiemnhiem.stats.eventstudy.pilot_profiles`, about a quarter of a CPU-second in each
kernel). A model's file carries them too, for every pilot of the model
(:func:`~kiemnhiem.stats.eventstudy.model_profiles`: the model's context and each cohort's
estimates once, not once per pilot), read by :func:`report_profiles`; a report whose pilot or
indicators the file does not hold computes its own, the same frames.

Files are pickles (pandas' own, which keeps every dtype, missing value and ``attrs`` exactly;
parquet would turn object columns of mixed types into something else). A pickle runs code when
read, so only files this package wrote in a run's own folder are passed; the parameter is a
path the notebook's user controls anyway. The record (format ``kiemnhiem-evaluation-2``) is a
dict whose parts are pickled apart (bytes), so that each reader unpickles only its own:
``format``, ``content_hash``, ``request``; ``frame`` (the evaluation); ``profiles``
(``{unit code: bytes}``: ``indicators``, ``series``, ``studies`` and ``errors`` as
``{indicator: (message_vi, message_en)}``; empty in the summary's file); ``dataset`` (the
loaded Dataset the worker validated, ``{"path", "year", "pickle"}``, or None; the summary's
file, put together in the run's process, carries its models' files' one), which
:func:`report_dataset` takes instead of loading the same files again.

The notebooks import this module in their kernel: it stays light (pandas, the evaluation and
papermill are imported inside the functions).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

#: The optional notebook parameter through which the runner passes a run's evaluation file.
EVALUATION_PARAMETER = "evaluation_file"
#: What the file holds besides the frame, to check it was made for this dataset and request.
_FORMAT = "kiemnhiem-evaluation-2"


def evaluation_request(
    kind: str, model: str | None, pre_years: int, post_years: int, level: float
) -> dict[str, Any]:
    """What one evaluation is computed from (besides the dataset): a pilot report's is its
    model's ``evaluate_all``; the summary's covers every model (``model`` None)."""
    return {
        "models": None if kind == "summary" or model is None else [str(model)],
        "pre_years": int(pre_years),
        "post_years": int(post_years),
        "level": float(level),
    }


def request_name(request: Mapping[str, Any]) -> str:
    """A file name for ``request`` (unique within a run)."""
    models = "-".join(request["models"]) if request["models"] else "all"
    return f"{models}-{request['pre_years']}-{request['post_years']}-{request['level']!r}.pkl"


def compute_evaluation(dataset, request: Mapping[str, Any]):
    """``evaluate_all`` of ``dataset`` for ``request``."""
    from ..stats.evaluation import evaluate_all

    return evaluate_all(
        dataset,
        pre_years=request["pre_years"],
        post_years=request["post_years"],
        level=request["level"],
        models=request["models"],
    )


def models_with_pilots(dataset) -> list[str]:
    """The models the summary evaluates (``evaluate_all``'s default: every model with pilots,
    in order of appearance)."""
    return list(dict.fromkeys(str(m) for m in dataset.pilots["model"]))


def model_part(request: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The request for one model's share of ``request`` (same windows and level)."""
    return {**request, "models": [str(model)]}


def combine_evaluations(frames: Iterable):
    """``evaluate_all`` of several models from each model's own ``evaluate_all`` (same
    dataset, windows and level), in the order given: the same frame.

    ``evaluate_all`` evaluates each model on its own (its pilots, its comparison units, its
    pooled tests) and lists the models' rows one after the other, so a run that has each
    model's evaluation need not compute them all again for the summary (on the demo that was
    about 1.9 CPU-s a run). The frame is rebuilt from the rows, as
    ``evaluate_all`` builds it, so that a column's type is inferred from every model's values
    together (a column all missing in one model and numbers in another is numbers), not
    concatenated per model.
    """
    from ..stats.evaluation import _frame

    return _frame([row for frame in frames for row in frame.to_dict("records")])


def write_evaluation(
    dataset, request: Mapping[str, Any], path: str | os.PathLike, units: Iterable[str] | None = None
) -> str:
    """Compute ``request`` on ``dataset`` (a loaded Dataset) and write it to ``path``
    (atomically: a reader never sees half a file), with the pilots' profiles when the request
    is one model's: every pilot's, or those of ``units`` (the run's reports). Returns the
    path."""
    frame = compute_evaluation(dataset, request)
    profiles = compute_profiles(dataset, request, frame, units)
    return write_frame(
        frame, dataset.content_hash, request, path, profiles=profiles, dataset=dataset
    )


def compute_profiles(
    dataset, request: Mapping[str, Any], frame, units: Iterable[str] | None = None
) -> dict[str, bytes]:
    """Every pilot's profiles for one model's ``request`` (none for the summary's), or those
    of ``units``, as the file holds them: ``{unit code: bytes}``. A pilot's indicators are its
    rows' in ``frame`` (what its report draws); a pilot whose profiles cannot be computed is
    left out."""
    if not request["models"] or len(request["models"]) != 1:
        return {}
    from ..report.conclusions import district_rows
    from ..stats.eventstudy import model_profiles

    (model,) = request["models"]
    indicators = {}
    pilots = dict.fromkeys(str(u) for u in frame.loc[frame["scope"] != "model", "unit_code"])
    if units is not None:
        wanted = {str(u) for u in units}
        pilots = {u: None for u in pilots if u in wanted}
    for unit in pilots:
        rows = district_rows(frame, unit, model)
        if not rows.empty:
            indicators[unit] = tuple(str(i) for i in rows["indicator"])
    made = model_profiles(
        dataset,
        model,
        indicators,
        pre_years=request["pre_years"],
        post_years=request["post_years"],
        level=request["level"],
    )
    return {
        unit: pickle.dumps(
            {
                "indicators": indicators[unit],
                "series": series,
                "studies": studies,
                # An exception pickles as its text alone: the two messages are what is shown.
                "errors": {k: (e.message_vi, e.message_en) for k, e in errors.items()},
            },
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        for unit, (series, studies, errors) in made.items()
    }


def write_frame(
    frame,
    content_hash: str,
    request: Mapping[str, Any],
    path,
    profiles: Mapping[str, bytes] | None = None,
    dataset=None,
    held_dataset: Mapping[str, Any] | None = None,
) -> str:
    """Write ``frame``, the evaluation of ``request`` on the dataset of ``content_hash``
    (and ``profiles``, :func:`compute_profiles`', and the loaded ``dataset`` itself, or as
    another file holds it, ``held_dataset``: :func:`held_dataset`), to ``path`` as
    :func:`write_evaluation` does. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "format": _FORMAT,
        "content_hash": content_hash,
        "request": dict(request),
        "frame": _dumps(frame),
        "profiles": dict(profiles or {}),
        "dataset": dict(held_dataset) if held_dataset else None,
    }
    if dataset is not None and dataset.content_hash == content_hash:
        # The year validation took as "now" (:func:`~kiemnhiem.data.validate.validate_source`
        # uses no more of the date): a report in another year validates again.
        record["dataset"] = {
            "path": str(Path(dataset.path)),
            "year": date.today().year,
            "pickle": _dumps(dataset),
        }
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    with open(partial, "wb") as handle:
        pickle.dump(record, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)
    return str(path)


def read_evaluation(path: str | os.PathLike | None, content_hash: str, request: Mapping[str, Any]):
    """The frame written by :func:`write_evaluation` at ``path`` if it was made from a
    dataset of this ``content_hash`` for this very ``request``; else None (the caller
    computes it)."""
    record = _read_record(path, content_hash, request)
    return None if record is None else _loads(record["frame"])


def _dumps(obj) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(blob: bytes):
    """``blob`` unpickled, None if it cannot be."""
    try:
        return pickle.loads(blob)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        return None


def _read_record(path, content_hash: str | None, request: Mapping[str, Any] | None) -> dict | None:
    """The record at ``path`` if it fits (:func:`read_evaluation`; ``content_hash`` and
    ``request`` None: any), else None. Its parts stay pickled (bytes): reading it costs
    little, each reader unpickles only the part it needs."""
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            record = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    if (
        not isinstance(record, dict)
        or record.get("format") != _FORMAT
        or (content_hash is not None and record.get("content_hash") != content_hash)
        or (request is not None and record.get("request") != dict(request))
    ):
        return None
    return record


def held_dataset(path, content_hash: str) -> dict | None:
    """The dataset part of the file at ``path`` (made from the dataset of ``content_hash``),
    for another file of the run to carry (the summary's, put together from the models'
    files); None if it holds none."""
    record = _read_record(path, content_hash, None)
    held = record.get("dataset") if record is not None else None
    return held if isinstance(held, dict) else None


def report_dataset(dataset=None, evaluation_file: str | os.PathLike | None = None):
    """The dataset at ``dataset`` (a path, None for the demo) as
    :func:`~kiemnhiem.data.dataset.load_dataset` returns it.

    In a run, the worker that wrote ``evaluation_file`` loaded and validated the run's copy of
    the dataset; the file holds that Dataset, which is taken when the files at ``dataset`` are
    still those very bytes (their content hash, a fraction of a millisecond), read from the
    same path in the same year (the date validation depends on). Loading again costs about 0.1
    CPU-s in each kernel. Otherwise, and always when the notebook runs alone, the dataset is
    loaded and validated here.
    """
    from ..data.dataset import load_dataset, source_hash, source_path

    record = _read_record(evaluation_file, None, None)
    held = record.get("dataset") if record is not None else None
    if (
        isinstance(held, dict)
        and held.get("year") == date.today().year
        and held.get("path") == str(source_path(dataset))
        and source_hash(dataset) == record["content_hash"]
    ):
        ds = _loads(held["pickle"])
        if ds is not None and getattr(ds, "content_hash", None) == record["content_hash"]:
            return ds
    return load_dataset(dataset)


def read_profiles(
    path: str | os.PathLike | None,
    content_hash: str,
    request: Mapping[str, Any],
    unit_code: str,
    indicators,
):
    """One pilot's ``(series, event_studies, errors)`` from the file at ``path`` if it was
    made for this dataset and ``request`` and holds ``unit_code``'s profiles for exactly these
    ``indicators``; else None (the caller computes them)."""
    record = _read_record(path, content_hash, request)
    if record is None:
        return None
    blob = (record.get("profiles") or {}).get(str(unit_code))
    held = None if blob is None else _loads(blob)
    if held is None:
        return None
    if tuple(held["indicators"]) != tuple(str(i) for i in indicators):
        return None
    from ..exceptions import ParameterError

    errors = {k: ParameterError(vi, en) for k, (vi, en) in held["errors"].items()}
    return held["series"], held["studies"], errors


def evaluation_for(
    request: Mapping[str, Any], unit_code: str | None, evaluation_file, content_hash: str, load
):
    """A report's evaluation, read from the run's ``evaluation_file`` when it was made from a
    dataset of ``content_hash`` for ``request`` (and, for a pilot, holds the pilot's rows),
    else computed on ``load()`` (the dataset, loaded only then). For the pilot ``unit_code`` of
    the request's one model ``(its rows, the model's rows)`` as
    :func:`~kiemnhiem.report.conclusions.evaluate_report` returns them; for the summary
    (``unit_code`` None) ``(None, evaluate_all)``. The notebooks and the runner's workers both read
    through here, so they take the same rows whichever way they are obtained."""
    frame = read_evaluation(evaluation_file, content_hash, request)
    if unit_code is None:
        return None, compute_evaluation(load(), request) if frame is None else frame
    from ..report.conclusions import district_rows, evaluate_report

    (model,) = request["models"]
    if frame is not None:
        rows = district_rows(frame, unit_code, model)
        if not rows.empty:
            return rows, frame
    return evaluate_report(
        load(),
        unit_code,
        model,
        pre_years=request["pre_years"],
        post_years=request["post_years"],
        level=request["level"],
    )


def report_evaluation(
    dataset,
    unit_code: str,
    model: str,
    *,
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
    evaluation_file: str | os.PathLike | None = None,
):
    """``(pilot rows, the model's rows)`` of one district's report (:func:`evaluation_for`)."""
    request = evaluation_request("pilot", model, pre_years, post_years, level)
    return evaluation_for(
        request, unit_code, evaluation_file, dataset.content_hash, lambda: dataset
    )


def report_profiles(
    dataset,
    unit_code: str,
    model: str,
    indicators,
    *,
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
    evaluation_file: str | os.PathLike | None = None,
):
    """What a district's report draws per indicator, ``(series, event_studies, errors)`` as
    :func:`~kiemnhiem.stats.eventstudy.pilot_profiles` returns them: read from the run's
    ``evaluation_file`` when it holds them for this dataset, request, pilot and
    ``indicators``, else computed."""
    request = evaluation_request("pilot", model, pre_years, post_years, level)
    held = read_profiles(evaluation_file, dataset.content_hash, request, unit_code, indicators)
    if held is not None:
        return held
    from ..stats.eventstudy import pilot_profiles

    return pilot_profiles(
        dataset,
        unit_code,
        model,
        indicators,
        pre_years=pre_years,
        post_years=post_years,
        level=level,
    )


def summary_evaluation(
    dataset,
    *,
    models: Iterable[str] | None = None,
    pre_years: int = 3,
    post_years: int = 3,
    level: float = 0.10,
    evaluation_file: str | os.PathLike | None = None,
):
    """The summary's ``evaluate_all`` (every model, or ``models``), read from the run's
    ``evaluation_file`` when it fits, else computed."""
    request = {
        **evaluation_request("summary", None, pre_years, post_years, level),
        "models": None if models is None else [str(m) for m in models],
    }
    return evaluation_for(request, None, evaluation_file, dataset.content_hash, lambda: dataset)[1]
