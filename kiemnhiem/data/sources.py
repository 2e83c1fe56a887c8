"""Where a dataset's tables come from: the contract's columns, the source abstraction, folders.

A :class:`Source` hands :func:`~kiemnhiem.data.validate.validate_source` the metadata and the
tables of a dataset (``pilots``, ``panel``, optional catalogs, events and comments), each row
locating itself for the problems found in it. :class:`FolderSource` reads a dataset folder of
CSV files; :class:`~kiemnhiem.data.workbook.WorkbookSource` reads a workbook. The column
tuples below are the dataset contract ("Dataset contract" in ``DESIGN.md``): the validator
checks them and the template writes them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..exceptions import Problem
from ..labels import both
from .readers import ReadError, Table, decode_bytes, read_table

PRECISIONS = ("day", "month", "year")
STATUSES = ("documented", "approximate", "assumed")

PILOT_COLUMNS = ("unit", "model", "start", "start_precision", "start_status")
PILOT_OPTIONAL = ("end", "source")
PANEL_COLUMNS = ("unit", "period", "indicator", "value")
PANEL_OPTIONAL = ("note", "confirmed")  # confirmed: "x" keeps a value far from the others
COMMENT_COLUMNS = ("unit", "model", "comment")
COMMENT_OPTIONAL = ("author", "date")
#: The document settings' keys (who issues, number, signature, recipients) follow the dataset's
#: own: see :data:`kiemnhiem.data.issuing.DOCUMENT_KEYS`.
META_KEYS = (
    "name",
    "province",
    "synthetic",
    "description",
    "source",
    "data_end",
    "the_thuc",
    "co_quan_cap_tren",
    "co_quan_ban_hanh",
    "so_ky_hieu",
    "dia_danh",
    "ngay_ban_hanh",
    "quyen_han_ky",
    "chuc_vu_nguoi_ky",
    "nguoi_ky",
    "noi_nhan",
)


class Source:
    """Where a dataset's tables come from: a folder of CSV files or a workbook.

    ``table(kind, ...)`` returns a :class:`~kiemnhiem.data.readers.Table` for ``kind`` (``pilots``,
    ``panel``, ``indicators``, ``models``, ``events``, ``comments``), None when it is absent or
    unreadable (after adding a problem when it is required or unreadable).
    """

    label: str
    path: Path

    def metadata(self, problems: list[Problem]) -> tuple[dict | None, dict[str, dict]]:
        """The metadata dict (None if missing or unreadable) and each key's location."""
        raise NotImplementedError

    def table(
        self,
        kind: str,
        required: tuple[str, ...],
        optional: tuple[str, ...],
        problems: list[Problem],
        must_exist: bool,
    ) -> Table | None:
        raise NotImplementedError

    def content_hash(self) -> str:
        raise NotImplementedError

    def notes(self) -> list[Problem]:
        """What the source changed while reading that is not in its tables' ``notes``."""
        return []


class FolderSource(Source):
    """A dataset folder of CSV files and ``metadata.json``."""

    def __init__(self, folder: Path):
        self.path = folder
        self.label = str(folder)

    def metadata(self, problems):
        path = self.path / "metadata.json"
        where = {"file": "metadata.json"}
        if not path.is_file():
            problems.append(Problem(*both("err_missing_file"), **where))
            return None, {}
        try:
            meta = json.loads(decode_bytes(path.read_bytes()))
        except ReadError as exc:
            problems.append(Problem(*both(exc.key, **exc.fields), row=exc.row, **where))
            return None, {}
        except json.JSONDecodeError as exc:
            problems.append(
                Problem(*both("err_metadata_json", detail=str(exc)), row=exc.lineno, **where)
            )
            return None, {}
        if not isinstance(meta, dict):
            problems.append(Problem(*both("err_metadata_json", detail="not an object"), **where))
            return None, {}
        return meta, {k: {"file": "metadata.json", "column": k} for k in meta}

    def table(self, kind, required, optional, problems, must_exist):
        path = self.path / f"{kind}.csv"
        if not path.is_file():
            if must_exist:
                problems.append(Problem(*both("err_missing_file"), file=path.name))
            return None
        # A district without a pilot has a pilots.csv with its header only.
        return read_table(path, required, optional, problems, allow_empty=kind == "pilots")

    def content_hash(self) -> str:
        return content_hash(self.path)


def content_hash(folder: Path) -> str:
    """sha256 over the names and bytes of a dataset folder's files (not sub-folders)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _DATA_SUFFIXES):
        digest.update(file.name.encode("utf-8") + b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


_DATA_SUFFIXES = (".csv", ".json")
