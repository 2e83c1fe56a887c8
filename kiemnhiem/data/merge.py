"""Merging the districts' files into one dataset folder (``kiemnhiem merge``).

Each district office sends its own workbook (or a dataset folder); :func:`merge_datasets`
validates each input on its own, then combines them: the same figure sent twice with the same
value is kept once, and the same unit, period and indicator (or the same pilot) with different
values is a conflict. Conflicts are listed with both sources and refused, unless one input is
preferred (``--prefer FILE``: its values win) or the files are corrected. The result is
validated as a whole and written as a dataset folder like ``kiemnhiem import`` writes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from ..exceptions import DatasetError, ParameterError, Problem
from ..labels import both
from .dataset import load_dataset
from .folder import check_outdir, dataset_files, number_text, write_dataset_folder
from .validate import Dataset

__all__ = ["MergeResult", "merge_datasets"]

#: Columns of a pilot that must agree between two inputs (the source may differ).
_PILOT_FIELDS = ("start", "start_precision", "start_status", "end")
_OPTIONAL_TABLES = ("indicators.csv", "models.csv", "events.csv")


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge_datasets` wrote: the folder, and counts for the command's report."""

    path: Path
    inputs: int
    values: int  # distinct (unit, period, indicator) rows written
    duplicates: int  # rows sent more than once with the same value, kept once
    resolved: int  # conflicts resolved by the preferred input
    pilots: int


def merge_datasets(
    inputs: list[str | Path],
    out: str | Path,
    *,
    prefer: str | Path | None = None,
    force: bool = False,
    include_hidden: bool = False,
    today: date | None = None,
) -> MergeResult:
    """Combine several districts' workbooks or dataset folders into one dataset folder.

    Parameters
    ----------
    inputs : list of str or Path
        Workbooks (``.xlsx``, ``.ods``) or dataset folders, at least one. Each must be valid
        on its own (a district without a pilot is).
    out : str or Path
        The dataset folder to write (new or empty; an existing dataset folder with ``force``).
        It may also be one of the inputs (adding a district's file to the province's folder).
    prefer : str or Path, optional
        One of the inputs whose values win every conflict.
    force : bool
        Replace an existing dataset folder.
    include_hidden : bool
        Read values in workbooks' hidden rows and columns.

    Raises
    ------
    DatasetError
        An input is invalid (its problems, named by file), the inputs conflict, or the merged
        dataset is invalid; nothing is written.
    ParameterError
        No input, ``prefer`` is not an input, or ``out`` cannot be written.
    """
    if not inputs:
        raise ParameterError(*both("merge_err_no_input"))
    paths = [Path(p).expanduser().absolute() for p in inputs]
    target = Path(out).expanduser().absolute()
    preferred = None
    if prefer is not None:
        wanted = Path(prefer).expanduser().absolute()
        matches = [i for i, p in enumerate(paths) if p == wanted]
        if not matches:
            names = ", ".join(str(p) for p in paths)
            raise ParameterError(*both("merge_err_prefer", path=str(prefer), inputs=names))
        preferred = matches[0]
    check_outdir(target, force)

    datasets: list[Dataset] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            datasets.append(load_dataset(path, today=today, include_hidden=include_hidden))
        except DatasetError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DatasetError(problems)

    labels = [_name(p, paths) for p in paths]
    meta = _metadata(datasets, labels, preferred, problems)
    panel, duplicates, resolved_values = _panel(datasets, labels, preferred, problems)
    pilots, resolved_pilots = _pilots(datasets, labels, preferred, problems)
    comments = pd.concat([d.comments for d in datasets], ignore_index=True).drop_duplicates()
    extra = _catalog_files(paths, labels, problems)
    if problems:
        raise DatasetError(problems)

    merged = Dataset(
        name=str(meta["name"]),
        province_code=meta.get("_province_code"),
        province_name=meta.get("province"),
        synthetic=bool(meta["synthetic"]),
        description=str(meta.get("description") or ""),
        source=str(meta.get("source") or ""),
        data_end=None,
        panel=panel,
        pilots=pilots,
        units=pd.DataFrame(),
        models=pd.DataFrame(),
        indicators=pd.DataFrame(),
        events=pd.DataFrame(),
        comments=comments.reset_index(drop=True),
        metadata={k: v for k, v in meta.items() if not k.startswith("_")},
    )
    files = dataset_files(merged)
    files.update(extra)
    # the merged folder is validated as a whole before it is moved into place
    _validate_files(files, target, today)
    write_dataset_folder(files, target, force=force, today=today)
    return MergeResult(
        path=target,
        inputs=len(paths),
        values=len(panel),
        duplicates=duplicates,
        resolved=resolved_values + resolved_pilots,
        pilots=len(pilots),
    )


def _name(path: Path, paths: list[Path]) -> str:
    """How an input is named in conflicts: its file name, its path when names repeat."""
    same = sum(p.name == path.name for p in paths)
    return path.name if same == 1 else str(path)


def _conflict(problems: list[Problem], key: str, **fields: object) -> None:
    problems.append(Problem(*both(key, **fields)))


def _metadata(datasets, labels, preferred, problems) -> dict:
    """The merged metadata: the first input's (the preferred one's) name, description and
    source; the province when all inputs share it; ``synthetic`` and ``data_end`` must agree."""
    order = list(range(len(datasets)))
    if preferred is not None:
        order.remove(preferred)
        order.insert(0, preferred)
    first = datasets[order[0]]
    meta = dict(first.metadata)
    provinces = {d.province_code for d in datasets}
    if len(provinces) == 1:
        meta["_province_code"] = first.province_code
    else:
        meta.pop("province", None)  # a multi-province dataset: units are written as codes
    for key, value_of in (
        ("synthetic", lambda d: d.synthetic),
        ("data_end", lambda d: d.data_end.isoformat() if d.data_end else ""),
    ):
        values = {value_of(d) for d in datasets}
        if len(values) > 1 and preferred is None:
            a = next(i for i in order if value_of(datasets[i]) == value_of(first))
            b = next(i for i in order if value_of(datasets[i]) != value_of(first))
            _conflict(
                problems,
                "merge_err_metadata",
                key=key,
                a=value_of(datasets[a]),
                file_a=labels[a],
                b=value_of(datasets[b]),
                file_b=labels[b],
            )
        meta[key] = value_of(first) if key == "synthetic" else (value_of(first) or None)
    return meta


def _panel(datasets, labels, preferred, problems) -> tuple[pd.DataFrame, int, int]:
    frames = []
    for i, d in enumerate(datasets):
        frame = d.panel.copy()
        frame["_input"] = i
        frames.append(frame)
    panel = pd.concat(frames, ignore_index=True)
    key = ["unit_code", "period", "indicator"]
    same = panel.duplicated([*key, "value"], keep="first")
    duplicates = int(same.sum())
    panel = panel[~same]
    clash = panel.duplicated(key, keep=False)
    resolved = 0
    if clash.any():
        names = _unit_names(datasets)
        for (unit, period, indicator), group in panel[clash].groupby(key, sort=True):
            if preferred is not None and (group["_input"] == preferred).any():
                resolved += 1
                continue
            a, b = group.iloc[0], group.iloc[1]
            _conflict(
                problems,
                "merge_err_value",
                unit=names.get(unit, unit),
                code=unit,
                period=period,
                indicator=indicator,
                a=number_text(float(a["value"])),
                file_a=labels[a["_input"]],
                b=number_text(float(b["value"])),
                file_b=labels[b["_input"]],
            )
        if preferred is not None:
            keep = ~clash | (panel["_input"] == preferred)
            panel = panel[keep]
    panel = panel.drop_duplicates(key, keep="first").drop(columns="_input")
    return panel.sort_values(key).reset_index(drop=True), duplicates, resolved


def _pilots(datasets, labels, preferred, problems) -> tuple[pd.DataFrame, int]:
    frames = []
    for i, d in enumerate(datasets):
        frame = d.pilots.copy()
        frame["_input"] = i
        frames.append(frame)
    pilots = pd.concat(frames, ignore_index=True)
    if pilots.empty:
        return pilots.drop(columns="_input"), 0
    key = ["unit_code", "model"]
    fields = list(_PILOT_FIELDS)
    pilots = pilots.drop_duplicates([*key, *fields], keep="first")
    clash = pilots.duplicated(key, keep=False)
    resolved = 0
    names = _unit_names(datasets)
    for (unit, model), group in pilots[clash].groupby(key, sort=True):
        if preferred is not None and (group["_input"] == preferred).any():
            resolved += 1
            continue
        a, b = group.iloc[0], group.iloc[1]
        _conflict(
            problems,
            "merge_err_pilot",
            unit=names.get(unit, unit),
            model=model,
            a=_pilot_text(a),
            file_a=labels[a["_input"]],
            b=_pilot_text(b),
            file_b=labels[b["_input"]],
        )
    if preferred is not None:
        pilots = pilots[~clash | (pilots["_input"] == preferred)]
    pilots = pilots.drop_duplicates(key, keep="first").drop(columns="_input")
    return pilots.reset_index(drop=True), resolved


def _pilot_text(rec) -> str:
    end = "" if pd.isna(rec["end"]) else f" – {rec['end'].date().isoformat()}"
    start = rec["start"].date().isoformat()
    return f"{start} ({rec['start_precision']}, {rec['start_status']}){end}"


def _unit_names(datasets) -> dict[str, str]:
    names: dict[str, str] = {}
    for d in datasets:
        names.update(zip(d.units["unit_code"], d.units["unit_name"]))
    return names


def _catalog_files(paths, labels, problems) -> dict[str, str]:
    """The inputs' own indicators.csv, models.csv, events.csv: copied when they agree."""
    out: dict[str, str] = {}
    first: dict[str, str] = {}
    for path, name in zip(paths, labels):
        if not path.is_dir():
            continue
        for table in _OPTIONAL_TABLES:
            file = path / table
            if not file.is_file():
                continue
            text = file.read_text(encoding="utf-8-sig")
            if table in out and out[table] != text:
                _conflict(problems, "merge_err_catalog", table=table, a=first[table], b=name)
                continue
            out.setdefault(table, text)
            first.setdefault(table, name)
    return out


def _validate_files(files: dict[str, str], target: Path, today: date | None) -> None:
    """Validate the merged files in a scratch folder beside the target (nothing is left)."""
    import shutil
    import uuid

    scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.check")
    scratch.mkdir(parents=True)
    try:
        for name, text in files.items():
            (scratch / name).write_text(text, encoding="utf-8", newline="")
        load_dataset(scratch, today=today)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
