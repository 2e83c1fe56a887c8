"""Merging the districts' files into one dataset folder (``kiemnhiem merge``).

Each district office sends its own workbook (or a dataset folder); :func:`merge_datasets`
validates each input on its own, then combines them: the same figure sent twice with the same
value is kept once, and the same unit, period and indicator (or the same pilot) with different
values is a conflict. Conflicts are listed with both sources and refused, unless one input is
preferred (``--prefer FILE``: its values win) or the files are corrected. The result is
validated as a whole and written as a dataset folder like ``kiemnhiem import`` writes one.
"""

from __future__ import annotations

import re
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
_PANEL_KEY = ("unit_code", "period", "indicator")
_PILOT_KEY = ("unit_code", "model")


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
    panel, duplicates, resolved_values, panel_sent = _panel(datasets, labels, preferred, problems)
    pilots, resolved_pilots, pilots_sent = _pilots(datasets, labels, preferred, problems)
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

    def origins() -> dict[str, list[tuple[str, str]]]:
        """Each merged panel and pilots row's inputs and place; only worked out for a
        problem, so that a valid merge of many districts does not pay for it."""
        names = _unit_names(datasets)
        panel_from = _senders(panel, panel_sent, [*_PANEL_KEY, "value"])
        pilots_from = _senders(pilots, pilots_sent, [*_PILOT_KEY, *_PILOT_FIELDS])
        return {
            "panel.csv": [
                (
                    _joined(labels, src),
                    f"{names.get(r.unit_code, r.unit_code)}, {r.period}, {r.indicator}",
                )
                for r, src in zip(panel.itertuples(index=False), panel_from)
            ],
            "pilots.csv": [
                (_joined(labels, src), f"{names.get(r.unit_code, r.unit_code)}, {r.model}")
                for r, src in zip(pilots.itertuples(index=False), pilots_from)
            ],
        }

    # the merged folder is validated as a whole before it is moved into place; its problems
    # are told against the inputs each row came from (the scratch folder is never seen)
    _validate_files(files, target, today, origins, " + ".join(labels))
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


def _panel(datasets, labels, preferred, problems) -> tuple[pd.DataFrame, int, int, pd.DataFrame]:
    """The merged panel, its counts, and every input's rows (``_input``: which input)."""
    frames = []
    for i, d in enumerate(datasets):
        frame = d.panel.copy()
        frame["_input"] = i
        frames.append(frame)
    panel = pd.concat(frames, ignore_index=True)
    sent = panel
    key = list(_PANEL_KEY)
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
    panel = panel.sort_values(key).reset_index(drop=True)
    return panel, duplicates, resolved, sent


def _pilots(datasets, labels, preferred, problems) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """The merged pilots, the conflicts resolved, and every input's pilots (``_input``)."""
    frames = []
    for i, d in enumerate(datasets):
        frame = d.pilots.copy()
        frame["_input"] = i
        frames.append(frame)
    pilots = pd.concat(frames, ignore_index=True)
    if pilots.empty:
        return pilots.drop(columns="_input"), 0, pilots
    sent = pilots
    key = list(_PILOT_KEY)
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
    pilots = pilots.reset_index(drop=True)
    return pilots, resolved, sent


def _senders(merged: pd.DataFrame, sent: pd.DataFrame, same: list) -> list[tuple[int, ...]]:
    """For each merged row, the inputs that sent it with these same values (a figure sent
    twice came from both files; a conflict resolved by --prefer from the preferred one)."""
    by: dict[tuple, set[int]] = {}
    for rec, i in zip(sent[same].itertuples(index=False, name=None), sent["_input"]):
        by.setdefault(_key(rec), set()).add(int(i))
    return [
        tuple(sorted(by.get(_key(rec), ())))
        for rec in merged[same].itertuples(index=False, name=None)
    ]


def _key(rec: tuple) -> tuple:
    # NaN and NaT are never equal to themselves: a blank value or open end is one key
    return tuple(None if pd.isna(v) else v for v in rec)


def _joined(labels: list[str], inputs: tuple[int, ...]) -> str:
    return " + ".join(labels[i] for i in inputs) or " + ".join(labels)


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


def _validate_files(
    files: dict[str, str],
    target: Path,
    today: date | None,
    origins,
    everything: str,
) -> None:
    """Validate the merged files in a scratch folder beside the target (nothing is left).

    ``origins()`` gives, for each row of the merged ``panel.csv`` and ``pilots.csv``, the inputs
    it came from and its place (district, period, indicator; district, model). The inputs were
    each valid, so a problem here comes from combining them (a unit's yearly figures in one
    file and its quarterly ones in another): each is told against those inputs, never against
    the scratch folder, which the user cannot open. The input's own row is not known (a
    loaded dataset keeps no row numbers), so the message names the place and the column and
    says the row is in the merged result of those inputs.
    """
    import shutil
    import uuid

    scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.check")
    scratch.mkdir(parents=True)
    try:
        for name, text in files.items():
            (scratch / name).write_text(text, encoding="utf-8", newline="")
        load_dataset(scratch, today=today)
    except DatasetError as exc:
        table = origins()
        found = [_retold(p, table, everything) for p in exc.problems]
        raise DatasetError(found) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


#: Messages naming another row of the same table by its number ({first}).
_ROW_REFERENCES = ("err_mixed_freq", "err_duplicate_row", "err_duplicate_pilot")


def _row(table: list | None, number: int | None) -> int | None:
    """The merged row a CSV row number stands for: the header is row 1 and every row the
    merge writes is a record with a unit (none blank), so row n is record n - 2, as the
    reader counts them (a note's line break does not shift them)."""
    if table is None or number is None or not 0 <= number - 2 < len(table):
        return None
    return number - 2


def _retold(problem: Problem, origins, everything: str) -> Problem:
    """One problem of the merged scratch folder, told against the inputs it came from."""
    table = origins.get(problem.file or "")
    row = _row(table, problem.row)
    vi, en = problem.message_vi, problem.message_en
    if row is None:  # metadata, comments or a whole table: the merged result of all inputs
        files, place = everything, problem.place
    else:
        files, place = table[row]
        for key in _ROW_REFERENCES:  # a row it refers to: that row's inputs and place
            for number in re.findall(r"\d+", en):
                other = _row(table, int(number))
                if other is not None and both(key, first=number) == (vi, en):
                    ref_vi, ref_en = both(
                        "merge_row_ref", place=table[other][1], files=table[other][0]
                    )
                    vi, en = both(key, first=ref_vi)[0], both(key, first=ref_en)[1]
    lead_vi, lead_en = both("merge_err_combined", files=files)
    return Problem(
        f"{lead_vi} {vi}",
        f"{lead_en} {en}",
        file=files,
        column=problem.column,
        place=place,
    )
