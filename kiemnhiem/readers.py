"""Read what Excel on Vietnamese Windows writes: encodings, separators, numbers and dates.

Anything that cannot be read unambiguously becomes a :class:`~kiemnhiem.exceptions.Problem`,
never a guess.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from .exceptions import Problem
from .labels import both

_EXCEL_EPOCH = date(1899, 12, 30)  # Excel's 1900 date system, after its 1900 leap-year bug


class ReadError(ValueError):
    """A single value cannot be read; carries the label key and fields of the message."""

    def __init__(self, key: str, **fields: object):
        self.key = key
        self.fields = fields
        super().__init__(key)


def decode_bytes(raw: bytes) -> str:
    """Decode a text file as Excel on Vietnamese Windows may have written it, NFC-normalized.

    UTF-8 (with or without BOM) and UTF-16 with a BOM are recognized; otherwise the text must be
    valid UTF-8 or Windows-1258 (whose tone marks are combining characters: NFC composes them).
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8")
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        if b"\x00" in raw:
            # UTF-16 without a BOM cannot be told apart reliably from binary data.
            raise ReadError("err_encoding")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = raw.decode("cp1258")
            except UnicodeDecodeError:
                raise ReadError("err_encoding") from None
    return unicodedata.normalize("NFC", text)


@dataclass
class Table:
    """A table read as text: header, rows of strings, and where each row came from.

    For a CSV file ``line_numbers`` are its lines (header = 1). For a workbook sheet ``sheet``
    is set and ``cells`` maps each row's columns to cell addresses (``D7``), so problems name
    the exact cell (``so_cuoc_hop!D7``).
    """

    file: str
    columns: list[str]
    rows: list[dict[str, str]]
    line_numbers: list[int]
    delimiter: str = ","
    sheet: str | None = None
    cells: list[dict[str, str]] | None = None

    @property
    def decimal_comma(self) -> bool:
        """Semicolon-separated files come from locales that write a decimal comma."""
        return self.delimiter == ";"

    def where(self, i: int, column: str | None = None) -> dict:
        """Location of row ``i`` (and ``column``) as :class:`Problem` fields."""
        if self.sheet is not None:
            cell = self.cells[i].get(column) if (self.cells and column) else None
            if cell:
                return {"file": self.file, "sheet": self.sheet, "cell": f"{self.sheet}!{cell}"}
            return {
                "file": self.file,
                "sheet": self.sheet,
                "row": self.line_numbers[i],
                "column": column,
            }
        return {"file": self.file, "row": self.line_numbers[i], "column": column}

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


def read_table(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    problems: list[Problem] | None = None,
) -> Table | None:
    """Read a CSV file into strings, appending every problem to ``problems``.

    Returns None when the file cannot be read at all (encoding, empty, header)."""
    problems = problems if problems is not None else []
    name = path.name
    try:
        text = decode_bytes(path.read_bytes())
    except ReadError as exc:
        problems.append(Problem(*both(exc.key, **exc.fields), file=name))
        return None
    lines = text.splitlines()
    if not lines or all(not ln.strip() for ln in lines):
        problems.append(Problem(*both("err_empty_file"), file=name))
        return None
    delimiter = _sniff_delimiter(lines[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        problems.append(Problem(*both("err_csv_syntax", detail=str(exc)), file=name))
        return None
    header = [h.strip().lower() for h in records[0]]
    ok = True
    missing = [c for c in required if c not in header]
    for col in missing:
        problems.append(Problem(*both("err_missing_column", column=col), file=name, row=1))
        ok = False
    known = set(required) | set(optional)
    for col in header:
        if col not in known:
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
    rows, numbers = [], []
    for i, rec in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in rec):
            continue
        if len(rec) != len(header):
            problems.append(
                Problem(
                    *both("err_row_length", found=len(rec), expected=len(header)), file=name, row=i
                )
            )
            ok = False
            continue
        rows.append({h: unicodedata.normalize("NFC", v).strip() for h, v in zip(header, rec)})
        numbers.append(i)
    if not rows and ok:
        problems.append(Problem(*both("err_no_rows"), file=name))
        return None
    if not ok:
        return None
    return Table(name, header, rows, numbers, delimiter)


_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]")
_GROUPED = re.compile(r"^\d{1,3}([.,]\d{3})+$")


def parse_number(text: str, decimal_comma: bool = False) -> float | None:
    """A number as typed: ``1.234,5``, ``1,234.5``, ``12,5``, ``45 %`` (to 0.45). Blank is None.

    ``decimal_comma`` is the file's convention (semicolon-separated files come from locales with
    a decimal comma); it decides only the otherwise ambiguous ``1,234`` and ``1.234``.
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
        raise ReadError("err_not_number", value=text)
    has_dot, has_comma = "." in s, "," in s
    if has_dot and has_comma:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        thousands = "." if dec == "," else ","
        int_part, _, frac = s.rpartition(dec)
        if not _GROUPED.match(int_part) or thousands not in int_part or dec in int_part:
            raise ReadError("err_not_number", value=text)
        value = float(int_part.replace(thousands, "") + "." + frac)
    elif has_dot or has_comma:
        mark = "." if has_dot else ","
        parts = s.split(mark)
        if len(parts) > 2:
            if not _GROUPED.match(s):
                raise ReadError("err_not_number", value=text)
            value = float(s.replace(mark, ""))
        elif len(parts[1]) != 3 or parts[0] == "" or parts[0] == "0":
            if parts[0] == "" or parts[1] == "":
                raise ReadError("err_not_number", value=text)
            value = float(parts[0] + "." + parts[1])
        else:
            # "1,234" or "1.234": a decimal mark or a thousands separator. The file's
            # convention decides: the mark that is its decimal mark is read as decimal.
            is_decimal = (mark == ",") == decimal_comma
            value = float(parts[0] + "." + parts[1]) if is_decimal else float(parts[0] + parts[1])
    else:
        value = float(s)
    value *= sign
    return value / 100.0 if percent else value


_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_MY = re.compile(r"^(\d{1,2})[/.](\d{4})$")
_Y = re.compile(r"^(\d{4})$")
_SERIAL = re.compile(r"^\d{5}(\.0+)?$")


def parse_date(text: str) -> tuple[date, str]:
    """A date as typed, with the precision it carries: ("day", "month" or "year").

    ISO (``2018-08-15``, ``2018-08``), ``dd/mm/yyyy``, ``mm/yyyy``, ``yyyy`` and Excel serials
    (``43327``, day precision). Never month-first: ``08/15/2018`` is an error.
    """
    s = str(text).strip()
    try:
        if m := _ISO.match(s):
            return date(int(m[1]), int(m[2]), int(m[3])), "day"
        if m := _DMY.match(s):
            return date(int(m[3]), int(m[2]), int(m[1])), "day"
        if m := _ISO_MONTH.match(s):
            return date(int(m[1]), int(m[2]), 1), "month"
        if m := _MY.match(s):
            return date(int(m[2]), int(m[1]), 1), "month"
        if m := _Y.match(s):
            return date(int(m[1]), 1, 1), "year"
        if _SERIAL.match(s):
            return _EXCEL_EPOCH + timedelta(days=int(float(s))), "day"
    except ValueError:
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
