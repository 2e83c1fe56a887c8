"""All kiemnhiem errors, under one base class, each with a bilingual message.

Like papermill's ``exceptions.py``: the errors carry structured fields (file, sheet, row,
column, problems) so that callers, the CLI and tests can read them without parsing text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as the input allows.

    ``row`` is the 1-based line number as a spreadsheet program shows it (the header is row 1),
    so that an analyst can go straight to it. ``cell`` is set for workbooks (``so_cuoc_hop!D7``).
    """

    message_vi: str
    message_en: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    cell: str | None = None

    def location(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.cell:
            parts.append(self.cell)
        else:
            if self.row is not None:
                parts.append(f"dòng/row {self.row}")
            if self.column:
                parts.append(f"cột/column {self.column}")
        return ", ".join(parts)

    def render(self) -> str:
        loc = self.location()
        prefix = f"{loc}: " if loc else ""
        return f"{prefix}{self.message_vi} / {self.message_en}"


class KiemNhiemError(Exception):
    """Base class of every error kiemnhiem raises on purpose."""

    def __init__(self, message_vi: str, message_en: str | None = None):
        self.message_vi = message_vi
        self.message_en = message_en if message_en is not None else message_vi
        super().__init__(self.render())

    def render(self) -> str:
        if self.message_vi == self.message_en:
            return self.message_vi
        return f"{self.message_vi}\n{self.message_en}"


class DatasetError(KiemNhiemError):
    """The dataset cannot be read or is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem], source: str | None = None):
        # A bad name repeated across a grid is one problem per cell, but the same problem at
        # the same place is reported once.
        self.problems = list(dict.fromkeys(problems))
        self.source = source
        n = len(self.problems)
        where = f" ({source})" if source else ""
        head_vi = f"Bộ dữ liệu không hợp lệ{where}: {n} lỗi."
        head_en = f"Invalid dataset{where}: {n} problem(s)."
        self.message_vi = head_vi
        self.message_en = head_en
        Exception.__init__(self, self.render())

    def render(self) -> str:
        lines = [f"{self.message_vi} / {self.message_en}"]
        lines += [f"  - {p.render()}" for p in self.problems]
        return "\n".join(lines)


class UnitError(KiemNhiemError):
    """A unit name or code cannot be resolved to exactly one district-level unit."""

    def __init__(self, message_vi: str, message_en: str, query: str, candidates: list[str]):
        self.query = query
        self.candidates = list(candidates)
        super().__init__(message_vi, message_en)


class ParameterError(KiemNhiemError):
    """A parameter (function argument, notebook parameter, CLI option) is not valid."""


class RunError(KiemNhiemError):
    """A batch run cannot proceed (for example the output folder is not writable)."""


class LockHeldError(RunError):
    """Another run holds the output folder's lock."""


class ReportError(KiemNhiemError):
    """One report failed; carries where it failed."""

    def __init__(
        self,
        message_vi: str,
        message_en: str,
        *,
        cell_index: int | None = None,
        ename: str | None = None,
        evalue: str | None = None,
    ):
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        super().__init__(message_vi, message_en)
