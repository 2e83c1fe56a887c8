"""Read what Excel on Vietnamese Windows writes: encodings, separators, numbers and dates.

Anything that cannot be read unambiguously becomes a :class:`~kiemnhiem.exceptions.Problem`,
never a guess.
"""

from __future__ import annotations

import csv
import io
import operator
import re
import unicodedata
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import chain, islice
from pathlib import Path

from ..exceptions import Problem
from ..labels import both
from . import table_layout as layout
from .cells import clean_text, refuse_value
from .legacy import decode_as, legacy_glyph_text

_EXCEL_EPOCH = date(1899, 12, 30)  # Excel's 1900 date system, after its 1900 leap-year bug


class ReadError(ValueError):
    """A single value cannot be read; carries the label key and fields of the message.

    ``row`` is set when the error is about a whole file and a line can still be named (the
    first line that cannot be decoded).
    """

    def __init__(self, key: str, **fields: object):
        self.key = key
        self.fields = fields
        self.row: int | None = None
        super().__init__(key)


def _encoding_error(raw: bytes, at: int, codec: str = "ascii") -> ReadError:
    """An ``err_encoding`` error naming the line of byte ``at``."""
    err = ReadError("err_encoding")
    if codec.startswith("utf-16"):
        err.row = raw[:at].decode(codec, errors="replace").count("\n") + 1
    else:
        err.row = raw.count(b"\n", 0, at) + 1
    return err


def decode_bytes(raw: bytes) -> str:
    """Decode a text file as Excel on Vietnamese Windows may have written it, NFC-normalized.

    UTF-8 (with or without BOM) and UTF-16 with a BOM are recognized; otherwise the text must be
    valid UTF-8 or Windows-1258 (whose tone marks are combining characters: NFC composes them).
    Bytes that cannot be decoded raise :class:`ReadError` naming their line (``.row``).
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            text = raw[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _encoding_error(raw, exc.start + 3) from None
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16-le" if raw.startswith(b"\xff\xfe") else "utf-16-be"
        try:
            text = raw[2:].decode(codec)
        except UnicodeDecodeError as exc:  # an odd length (cut short) or a lone surrogate
            raise _encoding_error(raw[2:], exc.start, codec) from None
    else:
        if b"\x00" in raw:
            # UTF-16 without a BOM cannot be told apart reliably from binary data.
            raise ReadError("err_encoding")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as as_utf8:
            _check_one_encoding(raw)
            glyphs = legacy_glyph_text(raw)
            if glyphs is not None:
                return glyphs  # TCVN3 or VNI bytes: each cell is converted when read
            try:
                text = raw.decode("cp1258")
            except UnicodeDecodeError as as_cp1258:
                # Each reading stops at a byte it cannot take; the one that got further is the
                # likelier encoding, and the line where it stopped is the one to look at.
                raise _encoding_error(raw, max(as_utf8.start, as_cp1258.start)) from None
    return unicodedata.normalize("NFC", text)


# A Vietnamese letter in UTF-8: Latin-1 and Latin Extended-A/B letters, combining tone marks,
# Latin Extended Additional (U+1EA0-U+1EF9). Windows-1258 text almost never holds these pairs.
_UTF8_VIETNAMESE = re.compile(rb"[\xc3-\xc6][\x80-\xbf]|\xcc[\x80-\xa3]|\xe1[\xba\xbb][\x80-\xbf]")


def _check_one_encoding(raw: bytes) -> None:
    """Refuse a file whose lines are partly UTF-8 and partly another encoding (a UTF-8 file
    with lines appended by a Windows-1258 program, or the reverse), naming the first line whose
    encoding differs from the lines above it."""
    if not _UTF8_VIETNAMESE.search(raw):
        return
    first_kind = None
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            kind = "utf-8"
        except UnicodeDecodeError:
            kind = "other"
        if first_kind is None:
            first_kind = kind
        elif kind != first_kind:
            err = ReadError("err_mixed_encoding", line=number)
            err.row = number
            raise err


class _Rows(Sequence):
    """A table's rows as dicts, made on demand from its columns (a CSV file keeps columns:
    a dict per row would cost ten times the memory of the file)."""

    def __init__(self, data: dict[str, list[str]]):
        self._data = data

    def __len__(self) -> int:
        return len(next(iter(self._data.values()), ()))

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return {name: column[i] for name, column in self._data.items()}

    def __iter__(self) -> Iterator[dict[str, str]]:
        names = list(self._data)
        for values in zip(*self._data.values()):
            yield dict(zip(names, values))


@dataclass
class Table:
    """A table read as text: header, rows of strings, and where each row came from.

    For a CSV file ``line_numbers`` are its lines (header = 1). For a workbook sheet ``sheet``
    is set and ``cells`` maps each row's columns to cell addresses (``D7``), so problems name
    the exact cell (``so_cuoc_hop!D7``). A CSV file's table keeps its cells by column
    (``data``); ``rows`` then builds each row's dict when asked.
    """

    file: str
    columns: list[str]
    rows: Sequence[dict[str, str]]
    line_numbers: Sequence[int]
    delimiter: str = ","
    sheet: str | None = None
    cells: list[dict[str, str]] | None = None
    data: dict[str, list[str]] | None = None
    notes: list[Problem] = field(default_factory=list)
    unit_names: dict[str, str] = field(default_factory=dict)  # as typed -> name, for messages
    # per row, whether ``value`` came from a workbook's number cell (exact, written with a dot)
    numeric: list[bool] | None = None

    def column(self, name: str) -> list[str]:
        """The cells of column ``name``, top to bottom ("" where a row has none)."""
        if self.data is not None:
            return self.data[name] if name in self.data else [""] * len(self.line_numbers)
        return [rec.get(name, "") for rec in self.rows]

    @property
    def decimal_comma(self) -> bool | None:
        """The file's decimal mark before its numbers are seen: unknown (None), whatever the
        separator. LibreOffice and Excel in Vietnamese write "2.150" for 2150 in comma-separated
        files too, so only the file's own numbers can say (see :func:`decimal_mark`)."""
        return None

    def place(self, i: int) -> str | None:
        """The district and period of row ``i`` ("Mường La, 2019"), for messages: the unit's
        name once the validator has resolved it (``unit_names``), else as typed."""
        rec = self.rows[i]
        unit = rec.get("unit", "")
        if not unit:
            return None
        unit = self.unit_names.get(unit, unit)
        period = rec.get("period", "")
        return f"{unit}, {period}" if period else unit

    def where(self, i: int, column: str | None = None) -> dict:
        """Location of row ``i`` (and ``column``) as :class:`Problem` fields, with its place."""
        place = self.place(i)
        if self.sheet is not None:
            cell = self.cells[i].get(column) if (self.cells and column) else None
            if cell:
                return {
                    "file": self.file,
                    "sheet": self.sheet,
                    "cell": f"{self.sheet}!{cell}",
                    "place": place,
                }
            return {
                "file": self.file,
                "sheet": self.sheet,
                "row": self.line_numbers[i],
                "column": column,
                "place": place,
            }
        return {"file": self.file, "row": self.line_numbers[i], "column": column, "place": place}

    def ref(self, i: int) -> str:
        """A short reference to row ``i`` for messages ("12", or "thi_diem!5")."""
        if self.sheet is not None:
            return f"{self.sheet}!{self.line_numbers[i]}"
        return str(self.line_numbers[i])


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: 0 for d in (",", ";", "\t")}
    quoted = False
    for ch in first_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


_FIRST_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # str.splitlines'
_CHUNK = 1024  # records transposed into columns at a time: few enough to die young (GC)
_INTERN_LIMIT = 50_000  # distinct cells above which a column stops sharing repeated strings
_BLOCK = 1 << 20  # characters handed to io.StringIO at a time


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their ends, split as ``open(..., newline="")`` splits them
    (at \\n, \\r and \\r\\n). ``io.StringIO`` splits them, one block of about a million
    characters ending with a line at a time: a StringIO of the whole text would hold four bytes
    per character."""

    def blocks():
        start = 0
        while start < len(text):
            end = text.find("\n", start + _BLOCK)
            end = len(text) if end < 0 else end + 1
            yield io.StringIO(text[start:end], newline="")
            start = end

    return chain.from_iterable(blocks())


class _Interned(dict):
    """Stripped cells by raw cell: repeated cells (units, periods, codes) share one string."""

    def __missing__(self, raw: str) -> str:
        value = self[raw] = raw.strip()
        return value


def read_table(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    problems: list[Problem] | None = None,
    allow_empty: bool = False,
) -> Table | None:
    """Read a CSV file into strings, appending every problem to ``problems``.

    A file with a header and no rows is a problem unless ``allow_empty`` (the pilots of a
    district without a pilot): then None, silently.

    Returns None when the file cannot be read at all (encoding, empty, header). Cells are
    stripped (and NFC, as the whole text is); blank rows are skipped.
    """
    problems = problems if problems is not None else []
    name = path.name
    try:
        text = decode_bytes(path.read_bytes())
    except ReadError as exc:
        problems.append(Problem(*both(exc.key, **exc.fields), file=name, row=exc.row))
        return None
    if not re.search(r"\S", text):
        problems.append(Problem(*both("err_empty_file"), file=name))
        return None
    delimiter, header_at = _find_layout(text, required)
    reader = csv.reader(_lines(text), delimiter=delimiter)
    if header_at:
        # Title lines above the header (a report's heading): the table starts lower down.
        problems.append(
            Problem(
                *both("err_title_lines", last=header_at, header=header_at + 1), file=name, row=1
            )
        )
        return None
    try:
        raw_header = next(reader, [])
        full = [_INVISIBLE_IN_HEADER.sub("", h).strip().lower() for h in raw_header]
        width = keep = len(full)
        while keep and full[keep - 1] == "":
            keep -= 1
        # Excel saves cells right of the table that were once formatted as empty, unnamed
        # columns. They carry nothing and are dropped; one holding a value keeps them all.
        stores = [_Interned() for _ in range(keep)]
        columns: list[list[str]] = [[] for _ in range(keep)]
        numbers = array("q")
        # rows too short for the columns kept, and of another length than the header, with
        # what they are when a label says (a signature line typed in one cell)
        short: list[tuple[int, int, str | None]] = []
        mismatched: list[tuple[int, int, str | None]] = []
        extra_value = False
        line = 1
        while chunk := list(islice(reader, _CHUNK)):
            good = []
            for rec in chunk:
                line += 1
                if not "".join(rec).strip():
                    continue
                size = len(rec)
                if size != width:
                    mismatched.append((line, size, layout.row_label(rec)))
                    if keep == width:
                        continue
                if keep < width and size > keep and not extra_value:
                    extra_value = any(c.strip() for c in rec[keep:])
                if size < keep:
                    short.append((line, size, layout.row_label(rec)))
                    continue
                good.append(rec)
                numbers.append(line)
            for j, cells in enumerate(islice(zip(*good), keep)):
                store = stores[j]
                if store is None:
                    columns[j].extend(map(str.strip, cells))
                else:
                    columns[j].extend(map(store.__getitem__, cells))
                    if len(store) > _INTERN_LIMIT:
                        stores[j] = None  # mostly distinct (values): sharing costs more
    except csv.Error as exc:
        problems.append(Problem(*both("err_csv_syntax", detail=str(exc)), file=name))
        return None
    if keep < width and extra_value:
        header, keep, bad_rows = full, width, mismatched
    else:
        header, bad_rows = full[:keep], (short if keep < width else mismatched)
    ok = True
    missing = [c for c in required if c not in header]
    for col in missing:
        problems.append(Problem(*both("err_missing_column", column=col), file=name, row=1))
        ok = False
    known = set(required) | set(optional)
    for col in header:
        if col not in known and layout.is_notes_column(col):
            key = (
                "err_notes_column_rename"
                if "note" in known and "note" not in header
                else ("err_notes_column_delete")
            )
            problems.append(Problem(*both(key, column=col), file=name, row=1, column=col))
            ok = False
        elif col not in known:
            problems.append(
                Problem(
                    *both("err_extra_column", column=col, known=", ".join(sorted(known))),
                    file=name,
                    row=1,
                    column=col,
                )
            )
            ok = False
    if len(set(header)) != len(header):
        problems.append(Problem(*both("err_duplicate_column"), file=name, row=1))
        ok = False
    in_block = False
    for line, size, what in bad_rows:
        if what == "signature" or in_block:
            if not in_block:
                problems.append(Problem(*both("err_signature_block"), file=name, row=line))
            in_block = True
        elif what == "totals":
            problems.append(Problem(*both("err_totals_row", value="…"), file=name, row=line))
        else:
            problems.append(
                Problem(*both("err_row_length", found=size, expected=keep), file=name, row=line)
            )
        ok = False
    if not numbers and ok:
        if not allow_empty:
            problems.append(Problem(*both("err_no_rows"), file=name))
        return None
    if not ok:
        return None
    for cells in columns:
        _drop_text_markers(cells)
    numbers, columns = _drop_layout_rows(name, header, numbers, columns, problems)
    if not numbers:
        return None
    notes = _clean_columns(name, header, numbers, columns, problems)
    data = dict(zip(header, columns))
    return Table(name, header, _Rows(data), numbers, delimiter, data=data, notes=notes)


def _find_layout(text: str, required: tuple[str, ...]) -> tuple[str, int]:
    """The separator and the index of the header line: the first of the first lines naming
    every required column, under the separator that makes one do; otherwise the first line's
    separator and line 0 (the header's problems are then reported as they are)."""
    head = "".join(islice(_lines(text), layout.HEADER_SCAN))
    first_break = _FIRST_BREAK.search(text)
    first = _sniff_delimiter(text[: first_break.start()] if first_break else text)
    for delimiter in dict.fromkeys((first, ",", ";", "\t")):
        try:
            rows = list(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter))
        except csv.Error:
            continue
        rows = [[_INVISIBLE_IN_HEADER.sub("", c) for c in row] for row in rows]
        at = layout.find_header(rows, required)
        if at is not None:
            return delimiter, at
    return first, 0


_INVISIBLE_IN_HEADER = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def _drop_layout_rows(name, header, numbers, columns, problems):
    """Take out, with a problem each, the rows that are not data: repeated headers, totals
    rows and signature blocks. A signature block runs from its first line (reported) to the
    next repeated header or the end of the file: the names and titles under it are not units.
    Nothing is looked at when no row's first column (``unit`` when there is one) is blank, a
    column name or a label."""
    key = header.index("unit") if "unit" in header else 0
    first = columns[key]
    suspects = {v for v in set(first) if v == "" or v.lower() in header or layout.classify_label(v)}
    if not suspects:
        return numbers, columns
    drop: set[int] = set()
    in_block = False
    for i, value in enumerate(first):
        if value not in suspects and not in_block:
            continue
        cells = [col[i] for col in columns]
        what = layout.row_label(cells)
        if layout.is_repeated_header(cells, header):
            problems.append(Problem(*both("err_repeated_header"), file=name, row=numbers[i]))
            in_block = False
        elif what == "signature" and not in_block:
            problems.append(Problem(*both("err_signature_block"), file=name, row=numbers[i]))
            in_block = True
        elif what == "totals" and not in_block:
            label_text = next(c for c in cells if c.strip())
            problems.append(
                Problem(*both("err_totals_row", value=label_text), file=name, row=numbers[i])
            )
        elif not in_block:
            continue
        drop.add(i)
    if not drop:
        return numbers, columns
    kept = [i for i in range(len(numbers)) if i not in drop]
    return array("q", (numbers[i] for i in kept)), [[col[i] for i in kept] for col in columns]


ENCODING_NAMES = {
    "tcvn3": ("TCVN3 (ABC, phông .VnTime)", "TCVN3 (ABC, .VnTime fonts)"),
    "vni": ("VNI (phông VNI-Times)", "VNI (VNI-Times fonts)"),
}


def _clean_columns(name, header, numbers, columns, problems) -> list[Problem]:
    """Convert legacy-encoded cells and remove invisible characters, in place; returns the
    notes saying so (one per file and kind, with the first place and an example). A cell that
    looks legacy but cannot be converted with certainty is a problem."""
    notes: list[Problem] = []
    # Before any conversion: the columns holding no Unicode Vietnamese of their own (nothing
    # beyond Latin-1), which a legacy font may have typed throughout.
    pure = [
        not any(ord(ch) > 0xFF for cell in cells if not cell.isascii() for ch in cell)
        for cells in columns
    ]
    converted: dict[str, list] = {}  # encoding -> [count, first (row, column), before, after]
    removed: dict[str, list] = {}  # what -> [count, first (row, column)]
    for col, cells in zip(header, columns):
        if all(map(str.isascii, cells)):
            continue
        seen: dict[str, object] = {}
        for i, cell in enumerate(cells):
            if cell.isascii():
                continue
            result = seen.get(cell)
            if result is None:
                result = seen[cell] = clean_text(cell)
            if result.unsure:
                problems.append(
                    Problem(
                        *both("err_legacy_unsure", value=cell),
                        file=name,
                        row=numbers[i],
                        column=col,
                    )
                )
                continue
            if not result.changed:
                continue
            cells[i] = result.text
            if result.encoding:
                entry = converted.setdefault(
                    result.encoding, [0, (numbers[i], col), cell, result.text]
                )
                entry[0] += 1
            for what in result.removed:
                removed.setdefault(what, [0, (numbers[i], col)])[0] += 1
    if len(converted) == 1:
        # In a legacy file, the cells of a column with no Unicode Vietnamese of its own that
        # show no telling glyph are read in the file's encoding too ("Quúnh Nhai", "Mai Sôn").
        (encoding,) = converted
        for cells, legacy_column in zip(columns, pure):
            if not legacy_column:
                continue
            for i, cell in enumerate(cells):
                if cell.isascii():
                    continue
                result = decode_as(cell, encoding)
                if result.encoding:
                    cells[i] = result.text
                    converted[encoding][0] += 1
    for encoding, (count, (row, col), before, after) in converted.items():
        vi_name, en_name = ENCODING_NAMES[encoding]
        fields = {"count": count, "before": before, "after": after}
        notes.append(
            Problem(
                both("note_legacy_converted", encoding=vi_name, **fields)[0],
                both("note_legacy_converted", encoding=en_name, **fields)[1],
                file=name,
                row=row,
                column=col,
            )
        )
    for what, (count, (row, col)) in removed.items():
        notes.append(
            Problem(
                *both("note_invisible_removed", what=what, count=count),
                file=name,
                row=row,
                column=col,
            )
        )
    return notes


#: What a spreadsheet would run as a formula when it comes first in a cell.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MARKED = tuple("'" + c for c in FORMULA_START)


def _drop_text_markers(cells: list[str]) -> None:
    """Drop the apostrophe that marks a cell as text before a formula character (``'=1+1``),
    in place: spreadsheets do not count it as part of the text, and ``kiemnhiem import`` and
    ``export`` write it so that no spreadsheet runs such a cell. Checked by C-level ``map`` first:
    almost no column has one."""
    if not any(map(_startswith_apostrophe, cells)):
        return
    for i, cell in enumerate(cells):
        if cell.startswith(_MARKED):
            cells[i] = cell[1:]


_startswith_apostrophe = operator.methodcaller("startswith", "'")


_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]")
_GROUPED = re.compile(r"^\d{1,3}([.,]\d{3})+$")


def parse_number(text: str, decimal_comma: bool | None = False) -> float | None:
    """A number as typed: ``1.234,5``, ``1,234.5``, ``12,5``, ``45 %`` (to 0.45). Blank is None.

    ``decimal_comma`` is the file's convention (semicolon-separated files come from locales with
    a decimal comma); it decides only the otherwise ambiguous ``1,234`` and ``1.234``, which are
    refused when the convention is unknown (None).
    """
    s = _SPACES.sub("", str(text))
    if s == "":
        return None
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    sign = 1.0
    if s[:1] in "+-−":
        sign = -1.0 if s[0] in "-−" else 1.0
        s = s[1:]
    if not s or not re.fullmatch(r"[\d.,]+", s) or not any(c.isdigit() for c in s):
        key, fields = refuse_value(str(text))
        raise ReadError(key, **fields)
    has_dot, has_comma = "." in s, "," in s
    if has_dot and has_comma:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        thousands = "." if dec == "," else ","
        int_part, _, frac = s.rpartition(dec)
        if not _GROUPED.match(int_part) or thousands not in int_part or dec in int_part:
            raise ReadError("err_value_malformed", value=text)
        value = float(int_part.replace(thousands, "") + "." + frac)
    elif has_dot or has_comma:
        mark = "." if has_dot else ","
        parts = s.split(mark)
        if len(parts) > 2:
            if not _GROUPED.match(s):
                raise ReadError("err_value_malformed", value=text)
            value = float(s.replace(mark, ""))
        elif len(parts[1]) != 3 or parts[0] in ("", "0") or len(parts[0]) > 3:
            # Not a thousands group ("12,5", "0,125", "1234,567"): the mark is decimal.
            if parts[0] == "" or parts[1] == "":
                raise ReadError("err_value_malformed", value=text)
            value = float(parts[0] + "." + parts[1])
        else:
            # "1,234" or "1.234": a decimal mark or a thousands separator. The file's
            # convention decides: the mark that is its decimal mark is read as decimal.
            if decimal_comma is None:
                raise ReadError("err_ambiguous_number", value=text)
            is_decimal = (mark == ",") == decimal_comma
            value = float(parts[0] + "." + parts[1]) if is_decimal else float(parts[0] + parts[1])
    else:
        value = float(s)
    value *= sign
    return value / 100.0 if percent else value


_COMMA_DECIMAL = re.compile(
    r"[-+−]?(?:\d+,\d{1,2}|\d+,\d{4,}|0,\d+|\d{4,},\d+|\d{1,3}(?:\.\d{3})+,\d+|\d{1,3}(?:\.\d{3}){2,})%?"
)
_DOT_DECIMAL = re.compile(
    r"[-+−]?(?:\d+\.\d{1,2}|\d+\.\d{4,}|0\.\d+|\d{4,}\.\d+|\d{1,3}(?:,\d{3})+\.\d+|\d{1,3}(?:,\d{3}){2,})%?"
)


def decimal_mark(texts, default: bool | None) -> bool | None:
    """The decimal mark a column of numbers uses: True for a comma, False for a dot.

    Numbers that show it decide (``12,5``, ``0,125``, ``1.234,5``, ``1.234.567`` for a comma;
    their mirror images for a dot). When none does, ``default`` (the separator's convention,
    None for tabs); when they disagree, None. The mark only matters to ``1,234`` and ``1.234``:
    read with the file's convention, refused when it is unknown.
    """
    comma = dot = False
    for text in texts:
        if "," not in text and "." not in text:
            continue
        s = _SPACES.sub("", text)
        if not comma and _COMMA_DECIMAL.fullmatch(s):
            comma = True
        elif not dot and _DOT_DECIMAL.fullmatch(s):
            dot = True
        if comma and dot:
            return None
    if comma or dot:
        return comma
    return default


_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_MY = re.compile(r"^(\d{1,2})[/.](\d{4})$")
_Y = re.compile(r"^(\d{4})$")
_SERIAL = re.compile(r"^\d{5}(\.0+)?$")


def parse_date(text: str, day_first: bool = False) -> tuple[date, str]:
    """A date as typed, with the precision it carries: ("day", "month" or "year").

    ISO (``2018-08-15``, ``2018-08``), ``dd/mm/yyyy``, ``mm/yyyy``, ``yyyy`` and Excel serials
    (``43327``, day precision). A ``a/b/yyyy`` date is read day first only when that is the only
    reading (``15/08/2018``; ``01/01/2019``) or when ``day_first`` says the file's own dates show
    that order (:func:`~kiemnhiem.data.cells.date_order`); ``08/01/2018`` is otherwise refused,
    as is ``08/15/2018`` (month first, as a US-region Excel writes): never guessed.
    """
    s = str(text).strip()
    if s == "":
        raise ReadError("err_date_empty")
    try:
        if m := _ISO.match(s):
            return date(int(m[1]), int(m[2]), int(m[3])), "day"
        if m := _DMY.match(s):
            a, b, year = int(m[1]), int(m[2]), int(m[3])
            if b > 12 >= a:
                raise ReadError("err_month_first_date", value=text, iso=f"{year}-{a:02d}-{b:02d}")
            if a != b and a <= 12 and not day_first:
                raise ReadError(
                    "err_ambiguous_date",
                    value=text,
                    day_first=f"{year}-{b:02d}-{a:02d}",
                    month_first=f"{year}-{a:02d}-{b:02d}",
                )
            return date(year, b, a), "day"
        if m := _ISO_MONTH.match(s):
            return date(int(m[1]), int(m[2]), 1), "month"
        if m := _MY.match(s):
            return date(int(m[2]), int(m[1]), 1), "month"
        if m := _Y.match(s):
            return date(int(m[1]), 1, 1), "year"
        if _SERIAL.match(s):
            return _EXCEL_EPOCH + timedelta(days=int(float(s))), "day"
    except ReadError:
        raise
    except ValueError:  # no such day (31/02/2019)
        pass
    raise ReadError("err_bad_date", value=text)


_PERIOD = re.compile(r"^(\d{4})(?:-(?:(\d{2})|[Qq]([1-4])))?$")


def parse_period(text: str) -> tuple[str, int, int]:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-Qn`` as (freq, year, sub); sub is 0 for a year."""
    s = str(text).strip()
    m = _PERIOD.match(s)
    if not m:
        raise ReadError("err_bad_period", value=text)
    year = int(m[1])
    if m[2] is not None:
        month = int(m[2])
        if not 1 <= month <= 12:
            raise ReadError("err_bad_period", value=text)
        return "month", year, month
    if m[3] is not None:
        return "quarter", year, int(m[3])
    return "year", year, 0


def format_period(freq: str, year: int, sub: int) -> str:
    if freq == "month":
        return f"{year}-{sub:02d}"
    if freq == "quarter":
        return f"{year}-Q{sub}"
    return str(year)
