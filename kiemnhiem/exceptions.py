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
    ``place`` names the district and period the row is about ("Mường La, 2019"): a cell address
    alone does not tell the analyst which figure is wrong.
    """

    message_vi: str
    message_en: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    cell: str | None = None
    place: str | None = None

    def location(self, lang: str = "vi") -> str:
        """Where, in one language: "panel.csv, dòng 9, cột value (Mường La, 2019)"."""
        words = {"vi": ("trang", "dòng", "cột"), "en": ("sheet", "row", "column")}[lang]
        parts = []
        if self.file:
            parts.append(self.file)
        if self.sheet:
            parts.append(f"{words[0]} {self.sheet}")
        if self.cell:
            parts.append(self.cell)
        else:
            if self.row is not None:
                parts.append(f"{words[1]} {self.row}")
            if self.column:
                parts.append(f"{words[2]} {self.column}")
        where = ", ".join(parts)
        if self.place:
            where = f"{where} ({self.place})" if where else self.place
        return where

    def render(self) -> str:
        """Two lines, Vietnamese then English, each with its own location."""
        lines = []
        for lang, message in (("vi", self.message_vi), ("en", self.message_en)):
            loc = self.location(lang)
            lines.append(f"{loc}: {message}" if loc else message)
        return "\n".join(lines)


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

    def __init__(
        self,
        problems: list[Problem],
        source: str | None = None,
        notes: tuple[Problem, ...] = (),
    ):
        # ``notes``: what was converted or removed while reading (legacy text, invisible
        # characters), said even when the dataset is refused.
        self.notes = tuple(notes)
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
        """The count in each language, then each problem: Vietnamese on a line starting
        "  - ", English on the next line, never the two languages on one line."""
        lines = [self.message_vi, self.message_en]
        for p in self.problems:
            vi, en = p.render().split("\n", 1)
            lines += [f"  - {vi}", f"    {en}"]
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
