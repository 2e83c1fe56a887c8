"""How a table is laid out when an office made it for printing, not for reading.

Report sheets carry a title above the header, a totals row ("Tổng cộng", "Toàn tỉnh"), a
signature block ("Người lập biểu", "Thủ trưởng đơn vị", "(Ký, ghi rõ họ tên)") and a notes
column; files joined by copy and paste repeat their header. None of these are data: each is
recognized here so that its refusal can say what to delete.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Literal


def fold(text: str) -> str:
    """Lower case, no diacritics (đ to d), punctuation kept, spaces collapsed."""
    text = unicodedata.normalize("NFD", str(text).casefold().replace("đ", "d"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text).strip()


_TOTALS = re.compile(
    r"^(?:tong cong|tong so|tong|cong|toan tinh|toan thanh pho|ca tinh|tong toan tinh|"
    r"cong toan tinh|tong cong toan tinh|total|grand total|sum)\b[\s:.]*(?:toan tinh)?[\s:.]*$"
)
_SIGNATURE = re.compile(
    r"nguoi lap bieu|nguoi lap bang|nguoi lap|thu truong don vi|thu truong co quan|"
    r"ky,? (?:va )?ghi ro ho ten|ky ten,? dong dau|ky,? dong dau|ke toan truong|"
    r"^(?:t/m|tm\.?|k/t|kt\.?) |"
    r"\bngay\s*\S*\s*thang\s*\S*\s*nam\b"
)

Label = Literal["totals", "signature"]


def classify_label(text: str) -> Label | None:
    """What a row label is when it is not a unit: a totals row or a line of the signature
    block ("Người lập biểu", "(Ký, ghi rõ họ tên)", "Sơn La, ngày 05 tháng 01 năm 2021")."""
    folded = fold(text).strip("()[]* ")
    if not folded:
        return None
    if _TOTALS.match(folded):
        return "totals"
    if _SIGNATURE.search(folded):
        return "signature"
    return None


def row_label(cells: Sequence[str]) -> Label | None:
    """:func:`classify_label` of a row: its first cell that says something."""
    for cell in cells:
        if str(cell).strip():
            return classify_label(cell)
    return None


HEADER_SCAN = 15  # lines searched for the header below a title


def find_header(rows: Sequence[Sequence[str]], required: Sequence[str]) -> int | None:
    """Index of the first of ``rows`` (at most :data:`HEADER_SCAN`) naming every required
    column; None when no row does."""
    need = {c.lower() for c in required}
    for i, row in enumerate(rows[:HEADER_SCAN]):
        names = {str(c).strip().lower() for c in row}
        if need <= names:
            return i
    return None


def is_repeated_header(cells: Sequence[str], header: Sequence[str]) -> bool:
    """A data row that repeats the header (files joined by copy and paste): at least half of
    its non-blank cells, and two or more, are the column names where they stand."""
    same = filled = 0
    for cell, name in zip(cells, header):
        text = str(cell).strip().lower()
        if text:
            filled += 1
            same += text == name
    return same >= 2 and same * 2 >= filled


_NOTES = {"ghi chu", "ghichu", "ghi_chu", "chu thich", "note", "notes", "ghi chu / note"}


def is_notes_column(name: str) -> bool:
    """A column of free remarks under another name than ``note`` ("Ghi chú", "Chú thích")."""
    return fold(name).replace("_", " ") in _NOTES
