"""Datasets: load a folder (or workbook), validate everything, return a :class:`Dataset`.

:func:`load_dataset` picks the source (:class:`~kiemnhiem.data.sources.FolderSource` or
:class:`~kiemnhiem.data.workbook.WorkbookSource`) and hands it to
:func:`~kiemnhiem.data.validate.validate_source`. Every problem found is gathered into one
:class:`~kiemnhiem.exceptions.DatasetError`; nothing is returned half-valid. The dataset's
names are importable from here whatever module defines them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ..exceptions import DatasetError, Problem
from ..labels import both
from .sources import (
    COMMENT_COLUMNS,
    COMMENT_OPTIONAL,
    PANEL_COLUMNS,
    PANEL_OPTIONAL,
    PILOT_COLUMNS,
    PILOT_OPTIONAL,
    PRECISIONS,
    STATUSES,
    FolderSource,
    Source,
    content_hash,
)
from .validate import Dataset, validate_source
from .workbook import WorkbookSource

#: Files read as workbooks (an ``.xls`` only to be refused with how to save it anew).
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".ods", ".xls")

__all__ = [
    "COMMENT_COLUMNS",
    "COMMENT_OPTIONAL",
    "PANEL_COLUMNS",
    "PANEL_OPTIONAL",
    "PILOT_COLUMNS",
    "PILOT_OPTIONAL",
    "PRECISIONS",
    "STATUSES",
    "Dataset",
    "FolderSource",
    "WorkbookSource",
    "content_hash",
    "load_dataset",
    "source_hash",
    "source_path",
    "validate_source",
]


def load_dataset(
    path: str | Path | None = None, *, today: date | None = None, include_hidden: bool = False
) -> Dataset:
    """Load and validate a dataset; ``None`` means the bundled demo dataset.

    Parameters
    ----------
    path : str, Path or None
        A dataset folder (``metadata.json``, ``pilots.csv``, ``panel.csv``, optional
        ``indicators.csv``, ``models.csv``, ``events.csv``, ``comments.csv``) or a workbook in
        the template's layout (``.xlsx``, or ``.ods`` as LibreOffice saves it).
    today : date, optional
        The date after which years count as "future" (default: the current date).
    include_hidden : bool
        Read values in a workbook's hidden rows and columns; by default they are refused (draft
        figures are often hidden rather than deleted).

    Raises
    ------
    DatasetError
        Listing every problem found, each with file (or sheet), row and column (or cell).
    """
    where = source_path(path)
    source = _source(where, include_hidden)
    if source is None:
        raise DatasetError([Problem(*both("err_no_dataset", path=str(where)))], str(where))
    return validate_source(source, today=today)


def _source(where: Path, include_hidden: bool = False) -> Source | None:
    """The source that reads the dataset at ``where`` (resolved), None if there is none. Made
    without reading anything: sources open their files when first asked."""
    # .xls too: an old-format or password-protected workbook gets a clear refusal.
    if where.is_file() and where.suffix.lower() in WORKBOOK_SUFFIXES:
        return WorkbookSource(where, include_hidden=include_hidden)
    if where.is_dir():
        return FolderSource(where)
    return None


def source_path(path: str | Path | None = None) -> Path:
    """The file or folder :func:`load_dataset` reads for ``path`` (None: the bundled demo),
    resolved."""
    from ..resources import demo_dir

    where = Path(path) if path is not None else demo_dir()
    return where.expanduser().resolve()


def source_hash(path: str | Path | None = None) -> str | None:
    """The ``content_hash`` that :func:`load_dataset` would give the dataset at ``path``,
    from its bytes alone (no validation: a fraction of a millisecond on the demo), or None
    where there is no dataset to read. What a run's reports use to tell that a dataset the
    run already validated is still these very files."""
    source = _source(source_path(path))
    return source.content_hash() if source is not None else None
