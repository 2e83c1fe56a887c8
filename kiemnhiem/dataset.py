"""Datasets: load a folder (or workbook), validate everything, return a :class:`Dataset`.

Every problem found is gathered into one :class:`~kiemnhiem.exceptions.DatasetError`; nothing
is returned half-valid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from .catalog import (
    AGGREGATES,
    BETTERS,
    EVENT_COLUMNS,
    INDICATOR_COLUMNS,
    KINDS,
    MODEL_COLUMNS,
    RATING_WORDS,
    builtin_events,
    builtin_indicators,
    builtin_models,
    with_model_lists,
)
from .exceptions import DatasetError, Problem, UnitError
from .labels import both
from .readers import (
    ReadError,
    decode_bytes,
    format_period,
    parse_date,
    parse_number,
    parse_period,
    read_table,
)
from .units import Unit, UnitMatcher, fold


@dataclass(frozen=True)
class Dataset:
    """A validated dataset.

    Attributes
    ----------
    name, description, source : str
        From ``metadata.json``.
    province_code, province_name : str or None
        The dataset's province (None for a multi-province dataset).
    synthetic : bool
        True for made-up data; every page made from it says so.
    data_end : datetime.date or None
        Last day the data cover (e.g. 2025-06-30 when the district level ended).
    panel : DataFrame
        Long, one row per observation: ``unit_code`` (3-char str), ``period`` (str as given,
        normalized: ``YYYY``, ``YYYY-MM`` or ``YYYY-Qn``), ``freq`` ("year", "month",
        "quarter"), ``year`` (int), ``sub`` (int: month 1-12, quarter 1-4, 0 for a year),
        ``indicator`` (code), ``value`` (float; shares 0-1, ratings 1-4), ``note`` (str).
    pilots : DataFrame
        ``unit_code``, ``unit_name``, ``model``, ``start`` (datetime64), ``start_precision``
        ("day", "month", "year"), ``start_status`` ("documented", "approximate", "assumed"),
        ``end`` (datetime64, NaT when open), ``source`` (str).
    units : DataFrame
        Every unit present in the panel or the pilots: ``unit_code``, ``unit_name``,
        ``unit_short``, ``province_code``, ``province_name``; sorted by code.
    models, indicators : DataFrame
        Built-in catalogs extended by the dataset's own ``models.csv`` / ``indicators.csv``
        (columns as ``data/catalog/*.csv``); indicators also get ``models_list`` (tuple).
    events : DataFrame
        Timeline markers: ``date`` (datetime64), ``code``, ``label_vi``, ``label_en``.
    comments : DataFrame
        Analyst comments: ``unit_code``, ``model``, ``comment``, ``author``.
    path : Path or None
        Where it was read from (absolute).
    content_hash : str
        sha256 over the dataset's files, for incremental runs and manifests.
    """

    name: str
    province_code: str | None
    province_name: str | None
    synthetic: bool
    description: str
    source: str
    data_end: date | None
    panel: pd.DataFrame
    pilots: pd.DataFrame
    units: pd.DataFrame
    models: pd.DataFrame
    indicators: pd.DataFrame
    events: pd.DataFrame
    comments: pd.DataFrame
    path: Path | None = None
    content_hash: str = ""
    metadata: dict = field(default_factory=dict)

    def unit_name(self, code: str) -> str:
        hit = self.units.loc[self.units["unit_code"] == code, "unit_name"]
        return str(hit.iloc[0]) if len(hit) else code

    def indicator(self, code: str) -> pd.Series:
        return self.indicators.set_index("code").loc[code]


# ---------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------

PRECISIONS = ("day", "month", "year")
STATUSES = ("documented", "approximate", "assumed")
_PRECISION_RANK = {"year": 0, "month": 1, "day": 2}
_MIN_YEAR = 1945  # the first year of the Democratic Republic's district administration

PILOT_COLUMNS = ("unit", "model", "start", "start_precision", "start_status")
PILOT_OPTIONAL = ("end", "source")
PANEL_COLUMNS = ("unit", "period", "indicator", "value")
PANEL_OPTIONAL = ("note",)
COMMENT_COLUMNS = ("unit", "model", "comment")
COMMENT_OPTIONAL = ("author", "date")


def load_dataset(path: str | Path | None = None, *, today: date | None = None) -> Dataset:
    """Load and validate a dataset folder; ``None`` means the bundled demo dataset.

    Parameters
    ----------
    path : str, Path or None
        A dataset folder (``metadata.json``, ``pilots.csv``, ``panel.csv``, optional
        ``indicators.csv``, ``models.csv``, ``events.csv``, ``comments.csv``).
    today : date, optional
        The date after which years count as "future" (default: the current date).

    Raises
    ------
    DatasetError
        Listing every problem found, each with file, row and column.
    """
    from .resources import demo_dir

    folder = Path(path) if path is not None else demo_dir()
    folder = folder.expanduser().resolve()
    if folder.is_file() and folder.suffix.lower() in (".xlsx", ".xlsm"):
        from .workbook import read_workbook

        return read_workbook(folder, today=today)
    if not folder.is_dir():
        raise DatasetError([Problem(*both("err_no_dataset", path=str(folder)))], str(folder))
    return _Loader(folder, today or date.today()).load()


class _Loader:
    def __init__(self, folder: Path, today: date):
        self.folder = folder
        self.today = today
        self.problems: list[Problem] = []

    def add(
        self,
        key: str,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        **fields: object,
    ) -> None:
        self.problems.append(Problem(*both(key, **fields), file=file, row=row, column=column))

    # -- metadata ------------------------------------------------------------------------------
    def _metadata(self) -> dict:
        path = self.folder / "metadata.json"
        if not path.is_file():
            self.add("err_missing_file", file="metadata.json")
            return {}
        try:
            meta = json.loads(decode_bytes(path.read_bytes()))
        except (ReadError, json.JSONDecodeError) as exc:
            self.add("err_metadata_json", file="metadata.json", detail=str(exc))
            return {}
        if not isinstance(meta, dict):
            self.add("err_metadata_json", file="metadata.json", detail="not an object")
            return {}
        known = {"name", "province", "synthetic", "description", "source", "data_end"}
        for key in meta:
            if key not in known:
                self.add(
                    "err_metadata_key",
                    file="metadata.json",
                    column=key,
                    known=", ".join(sorted(known)),
                )
        if not isinstance(meta.get("name"), str) or not meta.get("name", "").strip():
            self.add("err_metadata_name", file="metadata.json", column="name")
        if not isinstance(meta.get("synthetic"), bool):
            self.add("err_metadata_synthetic", file="metadata.json", column="synthetic")
        if meta.get("data_end") not in (None, ""):
            try:
                end, precision = parse_date(str(meta["data_end"]))
                if precision != "day":
                    raise ReadError("err_bad_date", value=meta["data_end"])
                meta["data_end"] = end
            except ReadError as exc:
                self.add(exc.key, file="metadata.json", column="data_end", **exc.fields)
                meta["data_end"] = None
        else:
            meta["data_end"] = None
        return meta

    # -- catalogs ------------------------------------------------------------------------------
    def _catalog(self, name: str, builtin: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
        path = self.folder / name
        if not path.is_file():
            return builtin
        table = read_table(path, tuple(columns), (), self.problems)
        if table is None:
            return builtin
        extra = pd.DataFrame(table.rows, columns=list(columns)).astype(str)
        if name == "indicators.csv":
            for line, rec in zip(table.line_numbers, table.rows):
                for col, allowed in (
                    ("kind", KINDS),
                    ("aggregate", AGGREGATES),
                    ("better", BETTERS),
                ):
                    if rec[col] not in allowed:
                        self.add(
                            "err_bad_choice",
                            file=name,
                            row=line,
                            column=col,
                            value=rec[col],
                            allowed=", ".join(allowed),
                        )
        return pd.concat([builtin[~builtin["code"].isin(extra["code"])], extra], ignore_index=True)

    # -- main ----------------------------------------------------------------------------------
    def load(self) -> Dataset:
        meta = self._metadata()
        matcher = None
        province_code = province_name = None
        if meta.get("province") not in (None, ""):
            try:
                matcher = UnitMatcher(meta["province"])
                province_code, province_name = matcher.province_code, matcher.province_name
            except UnitError as exc:
                self.problems.append(
                    Problem(exc.message_vi, exc.message_en, file="metadata.json", column="province")
                )
        if matcher is None:
            matcher = UnitMatcher(None)

        models = self._catalog("models.csv", builtin_models(), MODEL_COLUMNS)
        indicators = with_model_lists(
            self._catalog(
                "indicators.csv",
                builtin_indicators().drop(columns="models_list"),
                INDICATOR_COLUMNS,
            )
        )
        events = self._events()
        model_codes = set(models["code"])
        kinds = dict(zip(indicators["code"], indicators["kind"]))

        units: dict[str, Unit] = {}

        def unit_of(raw: str, file: str, line: int) -> str | None:
            try:
                u = matcher.resolve(raw)
            except UnitError as exc:
                self.problems.append(
                    Problem(exc.message_vi, exc.message_en, file=file, row=line, column="unit")
                )
                return None
            units[u.code] = u
            return u.code

        panel = self._panel(unit_of, kinds, meta.get("data_end"))
        pilots = self._pilots(unit_of, model_codes, panel)
        comments = self._comments(unit_of, model_codes)

        if self.problems:
            raise DatasetError(self.problems, str(self.folder))

        unit_frame = pd.DataFrame(
            [
                {
                    "unit_code": u.code,
                    "unit_name": u.name,
                    "unit_short": u.short,
                    "province_code": u.province_code,
                    "province_name": u.province_name,
                }
                for u in sorted(units.values(), key=lambda u: u.code)
            ]
        )
        name_by_code = dict(zip(unit_frame["unit_code"], unit_frame["unit_name"]))
        pilots.insert(1, "unit_name", pilots["unit_code"].map(name_by_code))
        meta_out = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in meta.items()}
        return Dataset(
            name=str(meta.get("name", "")),
            province_code=province_code,
            province_name=province_name,
            synthetic=bool(meta.get("synthetic")),
            description=str(meta.get("description", "") or ""),
            source=str(meta.get("source", "") or ""),
            data_end=meta.get("data_end"),
            panel=panel,
            pilots=pilots,
            units=unit_frame,
            models=models,
            indicators=indicators,
            events=events,
            comments=comments,
            path=self.folder,
            content_hash=content_hash(self.folder),
            metadata=meta_out,
        )

    def _events(self) -> pd.DataFrame:
        builtin = builtin_events()
        path = self.folder / "events.csv"
        if not path.is_file():
            return builtin
        table = read_table(path, EVENT_COLUMNS, (), self.problems)
        if table is None:
            return builtin
        rows = []
        for line, rec in zip(table.line_numbers, table.rows):
            try:
                day, _ = parse_date(rec["date"])
            except ReadError as exc:
                self.add(exc.key, file="events.csv", row=line, column="date", **exc.fields)
                continue
            rows.append({**rec, "date": pd.Timestamp(day)})
        extra = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
        out = pd.concat([builtin[~builtin["code"].isin(extra["code"])], extra], ignore_index=True)
        return out.sort_values("date").reset_index(drop=True)

    def _panel(self, unit_of, kinds: dict[str, str], data_end: date | None) -> pd.DataFrame:
        name = "panel.csv"
        path = self.folder / name
        columns = ["unit_code", "period", "freq", "year", "sub", "indicator", "value", "note"]
        if not path.is_file():
            self.add("err_missing_file", file=name)
            return pd.DataFrame(columns=columns)
        table = read_table(path, PANEL_COLUMNS, PANEL_OPTIONAL, self.problems)
        if table is None:
            return pd.DataFrame(columns=columns)
        decimal_comma = table.delimiter == ";"
        out = []
        seen: dict[tuple, int] = {}
        freq_seen: dict[tuple, tuple[str, int]] = {}
        last_year = self.today.year
        for line, rec in zip(table.line_numbers, table.rows):
            code = unit_of(rec["unit"], name, line)
            ind = rec["indicator"]
            kind = kinds.get(ind)
            if kind is None:
                self.add(
                    "err_unknown_indicator",
                    file=name,
                    row=line,
                    column="indicator",
                    value=ind,
                    known=", ".join(sorted(kinds)),
                )
            try:
                freq, year, sub = parse_period(rec["period"])
            except ReadError as exc:
                self.add(exc.key, file=name, row=line, column="period", **exc.fields)
                continue
            if not _MIN_YEAR <= year <= last_year:
                self.add(
                    "err_year_range",
                    file=name,
                    row=line,
                    column="period",
                    value=rec["period"],
                    low=_MIN_YEAR,
                    high=last_year,
                )
                continue
            if data_end is not None and (year, _period_start_month(freq, sub)) > (
                data_end.year,
                data_end.month,
            ):
                self.add(
                    "err_after_data_end",
                    file=name,
                    row=line,
                    column="period",
                    value=rec["period"],
                    end=data_end.isoformat(),
                )
            value = self._value(rec["value"], kind, decimal_comma, name, line)
            if code is None or kind is None:
                continue
            key = (code, freq, year, sub, ind)
            if key in seen:
                self.add("err_duplicate_row", file=name, row=line, first=seen[key])
                continue
            seen[key] = line
            fkey = (code, year, ind)
            if fkey in freq_seen and freq_seen[fkey][0] != freq:
                self.add(
                    "err_mixed_freq", file=name, row=line, column="period", first=freq_seen[fkey][1]
                )
            freq_seen.setdefault(fkey, (freq, line))
            out.append(
                (
                    code,
                    format_period(freq, year, sub),
                    freq,
                    year,
                    sub,
                    ind,
                    value,
                    rec.get("note", ""),
                )
            )
        frame = pd.DataFrame(out, columns=columns)
        frame["value"] = frame["value"].astype(float)
        frame["year"] = frame["year"].astype(int)
        frame["sub"] = frame["sub"].astype(int)
        return frame.sort_values(["unit_code", "indicator", "year", "sub"]).reset_index(drop=True)

    def _value(
        self, text: str, kind: str | None, decimal_comma: bool, file: str, line: int
    ) -> float:
        if text.strip() == "":
            return float("nan")
        if kind == "rating":
            word = fold(text)
            if word in RATING_WORDS:
                return float(RATING_WORDS[word])
        try:
            value = parse_number(text, decimal_comma)
        except ReadError as exc:
            self.add(exc.key, file=file, row=line, column="value", **exc.fields)
            return float("nan")
        assert value is not None
        if kind is None:
            return value
        if value < 0:
            self.add("err_negative", file=file, row=line, column="value", value=text)
        elif kind in ("count", "stock") and value != int(value):
            self.add("err_not_whole", file=file, row=line, column="value", value=text)
        elif kind == "rating" and (value not in (1, 2, 3, 4)):
            self.add("err_rating", file=file, row=line, column="value", value=text)
        elif kind == "share" and value > 1:
            self.add("err_share", file=file, row=line, column="value", value=text)
        return value

    def _pilots(self, unit_of, model_codes: set[str], panel: pd.DataFrame) -> pd.DataFrame:
        name = "pilots.csv"
        columns = [
            "unit_code",
            "model",
            "start",
            "start_precision",
            "start_status",
            "end",
            "source",
        ]
        path = self.folder / name
        if not path.is_file():
            self.add("err_missing_file", file=name)
            return pd.DataFrame(columns=columns)
        table = read_table(path, PILOT_COLUMNS, PILOT_OPTIONAL, self.problems)
        if table is None:
            return pd.DataFrame(columns=columns)
        years = panel["year"] if len(panel) else pd.Series([], dtype=int)
        first_year = int(years.min()) if len(years) else None
        last_year = int(years.max()) if len(years) else None
        out, seen = [], {}
        for line, rec in zip(table.line_numbers, table.rows):
            code = unit_of(rec["unit"], name, line)
            model = rec["model"]
            if model not in model_codes:
                self.add(
                    "err_unknown_model",
                    file=name,
                    row=line,
                    column="model",
                    value=model,
                    known=", ".join(sorted(model_codes)),
                )
            precision = rec["start_precision"].lower()
            status = rec["start_status"].lower()
            if precision not in PRECISIONS:
                self.add(
                    "err_bad_choice",
                    file=name,
                    row=line,
                    column="start_precision",
                    value=rec["start_precision"],
                    allowed=", ".join(PRECISIONS),
                )
            if status not in STATUSES:
                self.add(
                    "err_bad_choice",
                    file=name,
                    row=line,
                    column="start_status",
                    value=rec["start_status"],
                    allowed=", ".join(STATUSES),
                )
            start = end = None
            try:
                start, typed = parse_date(rec["start"])
                if precision in PRECISIONS and _PRECISION_RANK[typed] < _PRECISION_RANK[precision]:
                    self.add(
                        "err_precision_mismatch",
                        file=name,
                        row=line,
                        column="start",
                        value=rec["start"],
                        precision=precision,
                    )
            except ReadError as exc:
                self.add(exc.key, file=name, row=line, column="start", **exc.fields)
            if rec.get("end", ""):
                try:
                    end, _ = parse_date(rec["end"])
                except ReadError as exc:
                    self.add(exc.key, file=name, row=line, column="end", **exc.fields)
            if start is not None:
                if first_year is not None and not first_year <= start.year <= last_year:
                    self.add(
                        "err_start_outside",
                        file=name,
                        row=line,
                        column="start",
                        value=rec["start"],
                        first=first_year,
                        last=last_year,
                    )
                if start.year > self.today.year:
                    self.add(
                        "err_year_range",
                        file=name,
                        row=line,
                        column="start",
                        value=rec["start"],
                        low=_MIN_YEAR,
                        high=self.today.year,
                    )
                if end is not None and end <= start:
                    self.add(
                        "err_end_before_start",
                        file=name,
                        row=line,
                        column="end",
                        value=rec["end"],
                        start=rec["start"],
                    )
            if code is not None:
                key = (code, model)
                if key in seen:
                    self.add("err_duplicate_pilot", file=name, row=line, first=seen[key])
                seen.setdefault(key, line)
            if precision in PRECISIONS and start is not None:
                # A start given by month or year is stored as its first day; `start_precision`
                # keeps it from ever being read as 1 January (contract: time conventions).
                start = {
                    "year": date(start.year, 1, 1),
                    "month": date(start.year, start.month, 1),
                }.get(precision, start)
            out.append((code, model, start, precision, status, end, rec.get("source", "")))
        frame = pd.DataFrame(out, columns=columns)
        frame["start"] = pd.to_datetime(frame["start"])
        frame["end"] = pd.to_datetime(frame["end"])
        return frame.sort_values(["model", "unit_code"]).reset_index(drop=True)

    def _comments(self, unit_of, model_codes: set[str]) -> pd.DataFrame:
        name = "comments.csv"
        columns = ["unit_code", "model", "comment", "author", "date"]
        path = self.folder / name
        if not path.is_file():
            return pd.DataFrame(columns=columns)
        table = read_table(path, COMMENT_COLUMNS, COMMENT_OPTIONAL, self.problems)
        if table is None:
            return pd.DataFrame(columns=columns)
        out = []
        for line, rec in zip(table.line_numbers, table.rows):
            code = unit_of(rec["unit"], name, line)
            if rec["model"] not in model_codes:
                self.add(
                    "err_unknown_model",
                    file=name,
                    row=line,
                    column="model",
                    value=rec["model"],
                    known=", ".join(sorted(model_codes)),
                )
            out.append(
                (code, rec["model"], rec["comment"], rec.get("author", ""), rec.get("date", ""))
            )
        return pd.DataFrame(out, columns=columns)


def _period_start_month(freq: str, sub: int) -> int:
    if freq == "month":
        return sub
    if freq == "quarter":
        return 3 * (sub - 1) + 1
    return 1


def content_hash(folder: Path) -> str:
    """sha256 over the names and bytes of a dataset folder's files (not sub-folders)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _DATA_SUFFIXES):
        digest.update(file.name.encode("utf-8") + b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


_DATA_SUFFIXES = (".csv", ".json")
