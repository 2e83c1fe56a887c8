"""Writing dataset folders: the files of a validated :class:`Dataset`, put in place whole.

``kiemnhiem import`` and ``kiemnhiem merge`` write through :func:`write_dataset_folder`: the
files are written in a hidden sibling folder, the result is validated there, and only then moved
into place, so the target is never half-written. A new or empty folder is written; an existing
dataset folder (one holding ``metadata.json``) is replaced only when asked (``--force``, the
update path), keeping the files the new dataset does not provide (``indicators.csv``,
``models.csv``, ``events.csv``, notes); any other non-empty folder is refused.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

from ..exceptions import ParameterError
from ..labels import both
from .readers import FORMULA_START
from .sheets import COMMENT_HEADER, PILOT_HEADER
from .sources import META_KEYS, FolderSource
from .validate import Dataset, validate_source

__all__ = ["check_outdir", "dataset_files", "number_text", "write_dataset_folder"]


def number_text(value: float | int, decimal: str = ".") -> str:
    """A number exactly, without an exponent (``1105.5``, ``0.0000001``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text.replace(".", decimal)


def is_dataset_folder(folder: Path) -> bool:
    return (folder / "metadata.json").is_file()


def check_outdir(out: Path, force: bool = False) -> None:
    """Refuse a target that is a file, a non-empty folder that is not a dataset, or a dataset
    folder without ``force``."""
    if out.exists() and not out.is_dir():
        raise ParameterError(*both("wb_err_outdir_is_file", path=str(out)))
    if out.is_dir() and any(out.iterdir()):
        if not is_dataset_folder(out):
            raise ParameterError(*both("wb_err_outdir_not_empty", path=str(out)))
        if not force:
            raise ParameterError(*both("wb_err_outdir_is_dataset", path=str(out)))


def write_dataset_folder(
    files: dict[str, str], out: Path, *, force: bool = False, today: date | None = None
) -> Path:
    """Write ``files`` (name -> text) as the dataset folder ``out``, whole or not at all.

    With ``force`` an existing dataset folder is replaced; its other files are carried over,
    and the result is validated before it replaces anything (a :class:`DatasetError` leaves
    the old folder as it was). Returns ``out``.
    """
    check_outdir(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    old = None
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8", newline="")
        replacing = out.is_dir() and any(out.iterdir())
        if replacing:
            for item in out.iterdir():
                if item.name in files or item.name in _WRITTEN:
                    continue  # a table the new dataset has no rows for is not kept either
                target = tmp / item.name
                if item.is_dir():
                    shutil.copytree(item, target)
                else:
                    shutil.copy2(item, target)
            # the updated folder must be valid as a whole
            validate_source(FolderSource(tmp.absolute()), today=today)
        check_outdir(out, force)  # still as checked: nobody wrote there meanwhile
        if replacing:
            # Two renames: ``out`` is the old folder or the new one, never a mix; a crash
            # between them leaves both complete beside it.
            old = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(out, old)
        elif out.is_dir():
            out.rmdir()  # empty (checked): os.replace cannot move a folder onto a folder
        os.replace(tmp, out)
    except BaseException:
        if old is not None and not out.exists():
            os.replace(old, out)
            old = None
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


#: What a dataset's writer produces (comments.csv only when there are comments).
_WRITTEN = ("metadata.json", "pilots.csv", "panel.csv", "comments.csv")


def _safe(text: object) -> str:
    """A CSV field that no spreadsheet will run as a formula (plain numbers stay as they are)."""
    s = "" if text is None else str(text)
    if s.startswith(FORMULA_START):
        try:
            float(s)
            return s
        except ValueError:
            return "'" + s
    return s


def _csv(header: list[str], rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe(v) for v in row])
    return buf.getvalue()


def _start_text(start: pd.Timestamp, precision: str) -> str:
    day = start.date()
    if precision == "year":
        return f"{day.year:04d}"
    if precision == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def dataset_files(ds: Dataset) -> dict[str, str]:
    meta = {}
    for key in META_KEYS:
        value = ds.metadata.get(key)
        if key == "synthetic" or value not in (None, ""):
            meta[key] = value
    files = {"metadata.json": json.dumps(meta, ensure_ascii=False, indent=2) + "\n"}
    files["pilots.csv"] = _csv(
        list(PILOT_HEADER),
        (
            (
                p.unit_code,
                p.model,
                _start_text(p.start, p.start_precision),
                p.start_precision,
                p.start_status,
                "" if pd.isna(p.end) else p.end.date().isoformat(),
                p.source,
            )
            for p in ds.pilots.itertuples(index=False)
        ),
    )
    files["panel.csv"] = _csv(
        ["unit", "period", "indicator", "value", "note"],
        (
            (r.unit_code, r.period, r.indicator, number_text(float(r.value)), r.note)
            for r in ds.panel.itertuples(index=False)
        ),
    )
    if len(ds.comments):
        files["comments.csv"] = _csv(
            list(COMMENT_HEADER),
            (
                (c.unit_code, c.model, c.comment, c.author, c.date)
                for c in ds.comments.itertuples(index=False)
            ),
        )
    return files
