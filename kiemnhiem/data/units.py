"""District-level units: the legacy (pre-2025) list and a name matcher scoped to a province.

The list comes from the PyPI package ``vietnamadminunits`` (its bundled SQLite table
``admin_units_legacy``). We read the table but never its free-text parser: that parser maps
"Phù Yên" (a district of Sơn La) to Phú Yên province. Our matcher works only over district
names within the dataset's province, and refuses rather than guesses.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from ..exceptions import UnitError
from ..labels import both
from .table_layout import classify_label

# Longest first, so that "thanh pho" is dropped before a bare "tp".
_PREFIXES = ("thanh pho", "thi xa", "huyen", "quan", "tp.", "tp", "tx.", "tx")
_EXACT_PREFIXES = ("thành phố", "thị xã", "huyện", "quận", "tp.", "tp", "tx.", "tx")
_PROVINCE_PREFIXES = ("thanh pho", "tinh", "tp.", "tp")
_TYPE_BY_PREFIX = {
    "thanh pho": "Thành phố",
    "tp": "Thành phố",
    "tp.": "Thành phố",
    "thi xa": "Thị xã",
    "tx": "Thị xã",
    "tx.": "Thị xã",
    "huyen": "Huyện",
    "quan": "Quận",
}


def fold(text: str) -> str:
    """NFC-normalize, fold case and diacritics (đ to d), collapse spaces."""
    text = unicodedata.normalize("NFC", str(text)).casefold()
    text = text.replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("_", " ").replace("-", " ")
    return re.sub(r"\s+", " ", stripped).strip()


def _split_prefix(folded: str, prefixes: tuple[str, ...]) -> tuple[str | None, str]:
    for prefix in prefixes:
        if folded == prefix:
            return prefix, ""
        if folded.startswith(prefix + " "):
            return prefix, folded[len(prefix) + 1 :].strip()
        if prefix.endswith(".") and folded.startswith(prefix):
            return prefix, folded[len(prefix) :].strip()
    return None, folded


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    short: str
    type: str
    province_code: str
    province_name: str
    province_short: str


def _package_folder() -> Path:
    """The folder of the installed ``vietnamadminunits``, found without importing it."""
    from importlib.util import find_spec

    spec = find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("vietnamadminunits")
    return Path(next(iter(spec.submodule_search_locations)))


def _query(sql: str) -> list[dict]:
    """Rows of the SQLite table that ``vietnamadminunits`` ships, as its own
    ``database.query`` returns them (a list of dicts).

    Read here rather than through ``vietnamadminunits.database``: importing any part of that
    package runs its ``__init__``, which imports its address parsers (geopy, requests and two
    large JSON tables), about 0.4 CPU-seconds in every kernel and worker, none of it used.
    """
    import sqlite3
    from contextlib import closing

    path = _package_folder() / "data" / "dataset.db"
    with closing(sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql).fetchall()]


@cache
def unit_table() -> pd.DataFrame:
    """Every legacy district-level unit: code, name, short, type, province_code, province_name,
    province_short, key (folded short name), province_key."""
    rows = _query(
        "SELECT DISTINCT districtCode AS code, district AS name, districtShort AS short, "
        "districtType AS type, provinceCode AS province_code, province AS province_name, "
        "provinceShort AS province_short FROM admin_units_legacy "
        "WHERE districtCode IS NOT NULL ORDER BY districtCode"
    )
    frame = pd.DataFrame(rows).astype(str)
    frame["code"] = frame["code"].str.zfill(3)
    frame["province_code"] = frame["province_code"].str.zfill(2)
    frame = frame.drop_duplicates("code").reset_index(drop=True)
    # Numbered districts keep their prefix in the short name ("Quận 1"): strip it on both sides.
    frame["key"] = [_split_prefix(fold(v), _PREFIXES)[1] for v in frame["short"]]
    frame["exact"] = [
        _split_prefix(unicodedata.normalize("NFC", v).casefold(), _EXACT_PREFIXES)[1]
        for v in frame["short"]
    ]
    frame["province_key"] = frame["province_short"].map(fold)
    return frame


def _unit_from_row(row) -> Unit:
    return Unit(
        code=row["code"],
        name=row["name"],
        short=row["short"],
        type=row["type"],
        province_code=row["province_code"],
        province_name=row["province_name"],
        province_short=row["province_short"],
    )


@cache
def merged_2025() -> dict[str, tuple[str, str]]:
    """Legacy province code -> (code of the province it merged into in 2025, that province's
    name), for the provinces merged on 12 June 2025 (63 to 34), from the conversion table that
    ``vietnamadminunits`` ships (its ``DICT_PROVINCE``: new province -> old provinces)."""
    import json

    data = json.loads((_package_folder() / "data" / "converter_2025.json").read_text("utf-8"))
    new_names = {
        r["provinceKey"]: r["provinceShort"]
        for r in _query("SELECT DISTINCT provinceKey, provinceShort FROM admin_units")
    }
    by_key = {
        fold(name).replace(" ", ""): code
        for code, name in zip(_provinces()["province_code"], _provinces()["province_name"])
    }
    out = {}
    for new_key, old_keys in data["DICT_PROVINCE"].items():
        codes = [by_key[k] for k in old_keys if k in by_key]
        if len(old_keys) < 2 or not codes:
            continue  # unchanged in 2025
        # the new province is named after (and keyed by) one of the old ones
        new_code = by_key.get(new_key, codes[0])
        for code in codes:
            out[code] = (new_code, new_names.get(new_key, new_key))
    return out


@cache
def _provinces() -> pd.DataFrame:
    t = unit_table()
    return t[["province_code", "province_name", "province_short", "province_key"]].drop_duplicates(
        "province_code"
    )


def resolve_province(text: str | int) -> tuple[str, str]:
    """A province by name (any spelling the matcher folds) or code; returns (code, name)."""
    provinces = _provinces()
    raw = str(text).strip()
    if raw.isdigit():
        code = raw.zfill(2)
        hit = provinces[provinces["province_code"] == code]
    else:
        _, key = _split_prefix(fold(raw), _PROVINCE_PREFIXES)
        hit = provinces[provinces["province_key"] == key]
    if len(hit) == 1:
        row = hit.iloc[0]
        return row["province_code"], row["province_name"]
    names = provinces["province_short"].tolist()
    close = difflib.get_close_matches(raw, names, n=3, cutoff=0.5)
    vi, en = both("err_unknown_province", value=raw, candidates=", ".join(close) or "–")
    raise UnitError(vi, en, raw, close)


class UnitMatcher:
    """Resolve unit names or codes to legacy district-level units.

    Scoped to ``province`` (name or code) when given: names are then looked up only there, and
    "Thành phố" alone means the province's city. Without a province (a national dataset), a
    unit is named by code or as "name, province". Each distinct input is resolved once.
    """

    def __init__(self, province: str | int | None = None):
        table = unit_table()
        if province is not None and str(province).strip() != "":
            self.province_code, self.province_name = resolve_province(province)
            self.table = table[table["province_code"] == self.province_code]
        else:
            self.province_code, self.province_name = None, None
            self.table = table
        self._cache: dict[str, Unit] = {}

    def resolve(self, value: str | int) -> Unit:
        key = str(value)
        if key not in self._cache:
            self._cache[key] = self._resolve(key)
        return self._cache[key]

    def _fail(self, key: str, raw: str, candidates: list[str]):
        vi, en = both(
            key,
            value=raw,
            candidates=", ".join(candidates) or "–",
            province=self.province_name or "–",
        )
        raise UnitError(vi, en, raw, candidates)

    def _fail_named(self, key: str, raw: str, **fields: str):
        vi, en = both(key, value=raw, province=self.province_name or "–", **fields)
        raise UnitError(vi, en, raw, [])

    def _resolve(self, raw: str) -> Unit:
        text = unicodedata.normalize("NFC", raw).strip()
        if text == "":
            self._fail("err_unit_empty", raw, [])
        what = classify_label(text)
        if what == "totals":
            self._fail("err_totals_row", raw, [])
        if what == "signature":
            self._fail("err_signature_block", raw, [])
        if text.isdigit():
            code = text.zfill(3)
            hit = self.table[self.table["code"] == code]
            if len(hit) == 1:
                return _unit_from_row(hit.iloc[0])
            elsewhere = unit_table()[unit_table()["code"] == code]
            if len(elsewhere) == 1 and self.province_code is not None:
                row = elsewhere.iloc[0]
                self._fail(
                    "err_unit_other_province", raw, [f"{row['name']}, {row['province_name']}"]
                )
            self._fail("err_unknown_unit_code", raw, [])
        scope = self.table
        name_part = text
        if "," in text:
            name_part, province_part = (s.strip() for s in text.rsplit(",", 1))
            pcode, _ = resolve_province(province_part)
            if self.province_code is not None and pcode != self.province_code:
                self._fail("err_unit_other_province", raw, [])
            scope = unit_table()[unit_table()["province_code"] == pcode]
        prefix, key = _split_prefix(fold(name_part), _PREFIXES)
        # Diacritics typed are diacritics meant: "Phú Yên" is not "Phù Yên". Only a name typed
        # without any diacritics is matched on its folded form.
        typed = unicodedata.normalize("NFC", name_part).casefold()
        has_marks = (
            fold(typed) != re.sub(r"\s+", " ", typed.replace("_", " ").replace("-", " ")).strip()
        )
        if prefix is None and "," not in text and self.province_code is not None:
            province_key = _split_prefix(fold(self.province_name), _PROVINCE_PREFIXES)[1]
            if key == province_key:
                # A bare "Sơn La" is the province (its totals row), never silently the city.
                same = scope[scope["key"] == key]
                name = same.iloc[0]["name"] if len(same) else self.province_name
                self._fail_named("err_province_name_as_unit", raw, city=name)
        if key == "" and prefix in ("thanh pho", "tp", "tp."):
            cities = scope[scope["type"] == "Thành phố"]
            if self.province_code is not None or "," in text:
                if len(cities) == 1:
                    return _unit_from_row(cities.iloc[0])
                self._fail("err_unit_ambiguous", raw, self._labels(cities))
        hit = scope[scope["key"] == key]
        if has_marks:
            _, exact = _split_prefix(typed.strip(), _EXACT_PREFIXES)
            hit = hit[hit["exact"] == re.sub(r"\s+", " ", exact).strip()]
        if len(hit) > 1 and prefix is not None:
            typed = hit[hit["type"] == _TYPE_BY_PREFIX[prefix]]
            if len(typed) >= 1:
                hit = typed
        if len(hit) == 1:
            return _unit_from_row(hit.iloc[0])
        if len(hit) > 1:
            self._fail("err_unit_ambiguous", raw, self._labels(hit))
        close_keys = difflib.get_close_matches(key, scope["key"].unique().tolist(), n=3, cutoff=0.6)
        candidates = self._labels(scope[scope["key"].isin(close_keys)])
        scope_province = pcode if "," in text else self.province_code
        if scope_province is not None and not (scope["key"] == key).any():
            other = unit_table()[unit_table()["key"] == key]
            merged = merged_2025()
            ours = merged.get(scope_province, (scope_province, ""))[0]
            partner = other[[merged.get(c, (c, ""))[0] == ours for c in other["province_code"]]]
            if len(partner) == 1:
                # The district's old province merged with ours in 2025: say which and the fix.
                row = partner.iloc[0]
                self._fail_named(
                    "err_unit_merged_province",
                    raw,
                    old=row["province_short"],
                    new=merged[row["province_code"]][1],
                )
            if len(other) and self.province_code is not None:
                self._fail("err_unit_other_province", raw, self._labels(other))
        self._fail("err_unknown_unit", raw, candidates)

    def _labels(self, rows: pd.DataFrame) -> list[str]:
        if self.province_code is not None:
            return [f"{r['name']} ({r['code']})" for _, r in rows.iterrows()]
        return [f"{r['name']}, {r['province_name']} ({r['code']})" for _, r in rows.iterrows()]


def resolve_unit(value: str | int, province: str | int | None = None) -> Unit:
    """Resolve one unit name or code (see :class:`UnitMatcher`)."""
    return UnitMatcher(province).resolve(value)


def unit_by_code(code: str) -> Unit:
    t = unit_table()
    hit = t[t["code"] == str(code).zfill(3)]
    if len(hit) != 1:
        vi, en = both("err_unknown_unit_code", value=code, candidates="–", province="–")
        raise UnitError(vi, en, str(code), [])
    return _unit_from_row(hit.iloc[0])
