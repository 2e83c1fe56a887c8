"""The workbook layout: what the template writes and the reader expects, in one place.

``DESIGN.md`` ("Workbook layout"); row numbers as written by :mod:`.template`, while the reader
(:mod:`.workbook`) finds header rows by their marker:

- ``huong_dan``: instructions, Vietnamese then English; never read.
- ``thong_tin``: a ``key`` / ``value`` / ``description`` header row, then one row per metadata key.
- ``thi_diem``: display labels in row 1, the column codes of ``pilots.csv`` in row 2 (``unit``
  marks the header row), one pilot per row below.
- one sheet per indicator, named by its code: label, unit of measure, better direction and
  entry hint in rows 1-4; header row 5 with ``unit``, ``code`` and one year per column; one unit
  per row below.
- ``nhan_xet`` (optional): analysts' comments, laid out like ``thi_diem``.
- sheets whose names start with ``_`` are ignored (the template keeps its drop-down lists in
  the hidden ``_danh_muc``). Only the name decides: visibility is display, so hidden and very
  hidden sheets (and hidden rows and columns) are read like visible ones, and a hidden sheet
  with an unknown name is reported like a visible one.
"""

from __future__ import annotations

from .sources import COMMENT_COLUMNS, COMMENT_OPTIONAL, PILOT_COLUMNS, PILOT_OPTIONAL

SHEET_GUIDE = "huong_dan"
SHEET_META = "thong_tin"
SHEET_PILOTS = "thi_diem"
SHEET_COMMENTS = "nhan_xet"
SHEET_LISTS = "_danh_muc"
TABLE_SHEETS = {"pilots": SHEET_PILOTS, "comments": SHEET_COMMENTS}
FIXED_SHEETS = (SHEET_GUIDE, SHEET_META, SHEET_PILOTS, SHEET_COMMENTS)

HEADER_SCAN = 20  # rows searched for a sheet's header row
GRID_HEADER_ROW = 5  # where the template puts an indicator sheet's header row
PILOT_HEADER = (*PILOT_COLUMNS, *PILOT_OPTIONAL)
COMMENT_HEADER = (*COMMENT_COLUMNS, *COMMENT_OPTIONAL)
