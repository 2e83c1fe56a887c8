"""Validation: every check on what a source provides, and the :class:`Dataset` it builds.

Every problem found is gathered into one :class:`~kiemnhiem.exceptions.DatasetError`; nothing
is returned half-valid. Sources (:mod:`.sources`, :mod:`.workbook`) only read; the checks are
all here, the same for a folder and a workbook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DatasetError, Problem, UnitError
from ..labels import both
from .catalog import (
    AGGREGATES,
    BETTERS,
    EVENT_COLUMNS,
    INDICATOR_COLUMNS,
    KINDS,
    MODEL_COLUMNS,
    builtin_events,
    builtin_indicators,
    builtin_models,
    with_model_lists,
)
from .cells import (
    clean_text,
    date_order,
    find_outliers,
    is_confirmed,
    outlier_messages,
    parse_rating,
    share_hint,
)
from .choices import (
    PRECISION_WORDS,
    STATUS_WORDS,
    allowed,
    model_aliases,
    read_model,
    read_precision,
    read_status,
    read_synthetic,
)
from .issuing import DOCUMENT_KEYS, read_document_settings
from .readers import (
    ReadError,
    Table,
    decimal_mark,
    format_period,
    parse_date,
    parse_number,
    parse_period,
)
from .sources import (
    COMMENT_COLUMNS,
    COMMENT_OPTIONAL,
    META_KEYS,
    PANEL_COLUMNS,
    PANEL_OPTIONAL,
    PILOT_COLUMNS,
    PILOT_OPTIONAL,
    PRECISIONS,
    Source,
)
from .units import Unit, UnitMatcher


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
    notes: tuple[Problem, ...] = ()

    def unit_name(self, code: str) -> str:
        hit = self.units.loc[self.units["unit_code"] == code, "unit_name"]
        return str(hit.iloc[0]) if len(hit) else code

    def indicator(self, code: str) -> pd.Series:
        return self.indicators.set_index("code").loc[code]


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

_PRECISION_RANK = {"year": 0, "month": 1, "day": 2}
_MIN_YEAR = 1945  # the first year of the Democratic Republic's district administration


def validate_source(source: Source, today: date | None = None) -> Dataset:
    """Validate what a source provides and build the :class:`Dataset` (or raise)."""
    return _Loader(source, today or date.today()).load()


class _Loader:
    def __init__(self, source: Source, today: date):
        self.source = source
        self.today = today
        self.problems: list[Problem] = []
        self.notes: list[Problem] = []

    def add(self, key: str, where: dict | None = None, **fields: object) -> None:
        self.problems.append(Problem(*both(key, **fields), **(where or {})))

    def _table(self, kind, required, optional=(), must_exist=False) -> Table | None:
        table = self.source.table(kind, required, optional, self.problems, must_exist)
        if table is not None:
            self.notes.extend(table.notes)
        return table

    # -- metadata ------------------------------------------------------------------------------
    def _metadata(self) -> tuple[dict, dict]:
        meta, places = self.source.metadata(self.problems)
        if meta is None:
            return {}, {}
        default = {"file": "metadata.json"}

        def at(key: str) -> dict:
            return places.get(key, {**default, "column": key})

        for key in meta:
            if key not in META_KEYS:
                self.add("err_metadata_key", at(key), known=", ".join(META_KEYS))
            elif isinstance(meta[key], str) and not meta[key].isascii():
                # The dataset's name heads every report: legacy-encoded text is converted (with
                # a note) or refused, never printed as "Bé d÷ liÖu".
                cleaned = clean_text(meta[key])
                if cleaned.unsure:
                    self.add("err_legacy_unsure", at(key), value=meta[key])
                elif cleaned.changed:
                    self._note_cleaned(cleaned, at(key))
                    meta[key] = cleaned.text
        if not isinstance(meta.get("name"), str) or not meta.get("name", "").strip():
            self.add("err_metadata_name", at("name"))
        if meta.get("synthetic") is not None and not isinstance(meta["synthetic"], bool):
            read = read_synthetic(meta["synthetic"])  # "có"/"không" as well as true/false
            meta["synthetic"] = meta["synthetic"] if read is None else read
        if not isinstance(meta.get("synthetic"), bool):
            self.add("err_metadata_synthetic", at("synthetic"))
        if meta.get("data_end") not in (None, ""):
            try:
                end, precision = parse_date(str(meta["data_end"]))
                if precision != "day":
                    raise ReadError("err_bad_date", value=meta["data_end"])
                meta["data_end"] = end
            except ReadError as exc:
                self.add(exc.key, at("data_end"), **exc.fields)
                meta["data_end"] = None
        else:
            meta["data_end"] = None
        # Who issues the documents, their number, signature and recipients: checked here so
        # that a wrong date or number is a dataset problem, located like the others.
        settings = read_document_settings(
            meta, lambda key, label_key, **fields: self.add(label_key, at(key), **fields)
        )
        for key, name in DOCUMENT_KEYS.items():
            value = getattr(settings, name)
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = list(value) if isinstance(value, tuple) else value
        return meta, {k: at(k) for k in META_KEYS}

    def _note_cleaned(self, cleaned, where: dict) -> None:
        from .readers import ENCODING_NAMES

        if cleaned.encoding:
            vi_name, en_name = ENCODING_NAMES[cleaned.encoding]
            fields = {"count": 1, "before": cleaned.original, "after": cleaned.text}
            vi = both("note_legacy_converted", encoding=vi_name, **fields)[0]
            en = both("note_legacy_converted", encoding=en_name, **fields)[1]
            self.notes.append(Problem(vi, en, **where))
        if cleaned.removed:
            what = ", ".join(cleaned.removed)
            self.notes.append(Problem(*both("note_invisible_removed", what=what, count=1), **where))

    # -- catalogs ------------------------------------------------------------------------------
    def _catalog(self, kind: str, builtin: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
        table = self._table(kind, tuple(columns))
        if table is None:
            return builtin
        extra = pd.DataFrame(table.rows, columns=list(columns)).astype(str)
        if kind == "indicators":
            checks = (("kind", KINDS), ("aggregate", AGGREGATES), ("better", BETTERS))
            for i, rec in enumerate(table.rows):
                for col, allowed in checks:
                    if rec[col] not in allowed:
                        self.add(
                            "err_bad_choice",
                            table.where(i, col),
                            value=rec[col],
                            allowed=", ".join(allowed),
                        )
        return pd.concat([builtin[~builtin["code"].isin(extra["code"])], extra], ignore_index=True)

    # -- main ----------------------------------------------------------------------------------
    def load(self) -> Dataset:
        meta, meta_at = self._metadata()
        matcher = None
        province_code = province_name = None
        if meta.get("province") not in (None, ""):
            try:
                matcher = UnitMatcher(meta["province"])
                province_code, province_name = matcher.province_code, matcher.province_name
            except UnitError as exc:
                self.problems.append(Problem(exc.message_vi, exc.message_en, **meta_at["province"]))
        if matcher is None:
            matcher = UnitMatcher(None)

        models = self._catalog("models", builtin_models(), MODEL_COLUMNS)
        indicators = with_model_lists(
            self._catalog(
                "indicators", builtin_indicators().drop(columns="models_list"), INDICATOR_COLUMNS
            )
        )
        events = self._events()
        measures = zip(indicators["unit_vi"], indicators["unit_en"])
        self._measures = dict(zip(indicators["code"], measures))
        model_codes = set(models["code"])
        self._aliases = model_aliases(models)
        kinds = dict(zip(indicators["code"], indicators["kind"]))

        units: dict[str, Unit] = {}

        def resolve(raw: str) -> Unit | UnitError:
            try:
                u = matcher.resolve(raw)
            except UnitError as exc:
                return exc
            units[u.code] = u
            return u

        def unit_of(raw: str, table: Table, i: int) -> str | None:
            u = resolve(raw)
            if not isinstance(u, UnitError):
                table.unit_names[raw] = _display(u)
            if isinstance(u, UnitError):
                self.problems.append(Problem(u.message_vi, u.message_en, **table.where(i, "unit")))
                return None
            return u.code

        panel = self._panel(resolve, kinds, meta.get("data_end"))
        pilots = self._pilots(unit_of, model_codes, panel)
        comments = self._comments(unit_of, model_codes)

        self.notes.extend(self.source.notes())
        if self.problems:
            notes = tuple(dict.fromkeys(self.notes))
            raise DatasetError(self.problems, self.source.label, notes)

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
            ],
            columns=["unit_code", "unit_name", "unit_short", "province_code", "province_name"],
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
            path=self.source.path,
            content_hash=self.source.content_hash(),
            metadata=meta_out,
            notes=tuple(dict.fromkeys(self.notes)),
        )

    def _events(self) -> pd.DataFrame:
        builtin = builtin_events()
        table = self._table("events", EVENT_COLUMNS)
        if table is None:
            return builtin
        rows = []
        day_first = date_order(table.column("date")) == "day_first"
        for i, rec in enumerate(table.rows):
            try:
                day, _ = parse_date(rec["date"], day_first)
            except ReadError as exc:
                self.add(exc.key, table.where(i, "date"), **exc.fields)
                continue
            rows.append({**rec, "date": pd.Timestamp(day)})
        extra = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
        out = pd.concat([builtin[~builtin["code"].isin(extra["code"])], extra], ignore_index=True)
        return out.sort_values("date").reset_index(drop=True)

    def _panel(self, resolve, kinds: dict[str, str], data_end: date | None) -> pd.DataFrame:
        """The panel, checked column by column: units, periods and indicators once per
        distinct text, plain numbers (``12``, ``0.45``) at once, the rest one by one.

        Problems are those of a row-by-row reading, in the same order: for each row its unit,
        indicator, period, data end, value, duplicate and mixed frequencies.
        """
        columns = ["unit_code", "period", "freq", "year", "sub", "indicator", "value", "note"]
        table = self._table("panel", PANEL_COLUMNS, PANEL_OPTIONAL, must_exist=True)
        if table is None:
            return pd.DataFrame(columns=columns)
        n = len(table.line_numbers)
        found: list[tuple[int, int, Problem]] = []  # (row, step, problem), sorted at the end

        def add(i: int, step: int, key: str, column: str | None, **fields: object) -> None:
            found.append((i, step, Problem(*both(key, **fields), **table.where(i, column))))

        # Units, periods and indicators: each distinct text once.
        unit_idx, unit_texts = pd.factorize(np.asarray(table.column("unit"), dtype=object))
        resolved = [resolve(raw) for raw in unit_texts]
        for raw, u in zip(unit_texts, resolved):
            if not isinstance(u, UnitError):
                table.unit_names[raw] = _display(u)
        unit_codes = np.array(
            [None if isinstance(u, UnitError) else u.code for u in resolved], dtype=object
        )
        unit_bad = pd.isna(unit_codes)
        for i in np.flatnonzero(unit_bad[unit_idx]):
            u = resolved[unit_idx[i]]
            found.append((i, 0, Problem(u.message_vi, u.message_en, **table.where(i, "unit"))))
        ind_idx, ind_texts = pd.factorize(np.asarray(table.column("indicator"), dtype=object))
        ind_kinds = np.array([kinds.get(code) for code in ind_texts], dtype=object)
        known = ", ".join(sorted(kinds))
        for i in np.flatnonzero(pd.isna(ind_kinds)[ind_idx]):
            value = ind_texts[ind_idx[i]]
            add(i, 1, "err_unknown_indicator", "indicator", value=value, known=known)
        per_idx, per_texts = pd.factorize(np.asarray(table.column("period"), dtype=object))
        m = len(per_texts)
        freqs, normal = np.empty(m, dtype=object), np.empty(m, dtype=object)
        years, subs = np.zeros(m, dtype=np.int64), np.zeros(m, dtype=np.int64)
        per_ok = np.zeros(m, dtype=bool)  # rows with these periods reach their value
        per_problem: list[tuple[int, str, dict] | None] = [None] * m
        last_year = self.today.year
        for j, text in enumerate(per_texts):
            try:
                freq, year, sub = parse_period(text)
            except ReadError as exc:
                per_problem[j] = (2, exc.key, exc.fields)
                continue
            if not _MIN_YEAR <= year <= last_year:
                fields = {"value": text, "low": _MIN_YEAR, "high": last_year}
                per_problem[j] = (2, "err_year_range", fields)
                continue
            per_ok[j] = True
            freqs[j], years[j], subs[j] = freq, year, sub
            normal[j] = format_period(freq, year, sub)
            if data_end is not None and (year, _period_start_month(freq, sub)) > (
                data_end.year,
                data_end.month,
            ):
                fields = {"value": text, "end": data_end.isoformat()}
                per_problem[j] = (3, "err_after_data_end", fields)
        has_problem = np.array([p is not None for p in per_problem], dtype=bool)
        for i in np.flatnonzero(has_problem[per_idx]):
            step, key, fields = per_problem[per_idx[i]]
            add(i, step, key, "period", **fields)

        # Values, for the rows whose period was read.
        reached = per_ok[per_idx]
        row_kinds = ind_kinds[ind_idx]
        texts = table.column("value")
        convention: list[bool | None] = []  # the file's decimal mark, found when first needed

        # Number cells of a workbook hold their value exactly: only numbers typed as text
        # ("2.150", "12,5") need the file's decimal mark, and only they show it.
        numeric = np.zeros(n, dtype=bool)
        if table.numeric is not None:
            numeric = np.asarray(table.numeric, dtype=bool)

        def decimal_comma() -> bool | None:
            if not convention:
                typed = [t for t, is_number in zip(texts, numeric) if not is_number]
                convention.append(decimal_mark(typed, table.decimal_comma))
            return convention[0]

        values = np.full(n, np.nan)
        text_series = pd.Series(texts, dtype="str")
        # Plain numbers read the same whatever the file's convention: all but "1.234"
        # (3 digits after a lone dot, 1-3 before, not "0"), which it decides.
        plain = text_series.str.fullmatch(_PLAIN_NUMBER).to_numpy(dtype=bool, na_value=False)
        plain = plain & ~(
            text_series.str.fullmatch(_GROUP_LIKE).to_numpy(dtype=bool, na_value=False)
            & ~text_series.str.fullmatch(_ZERO_POINT).to_numpy(dtype=bool, na_value=False)
        )
        plain = plain | numeric
        fast = plain & reached
        values[fast] = text_series[fast].astype(float).to_numpy()
        del text_series
        checks = (
            (values < 0, "err_negative"),
            (
                np.isin(row_kinds, ("count", "stock")) & (values != np.floor(values)),
                "err_not_whole",
            ),
            ((row_kinds == "rating") & ~np.isin(values, (1.0, 2.0, 3.0, 4.0)), "err_rating"),
            ((row_kinds == "share") & (values > 1), "err_share_fix"),
        )
        flagged = np.zeros(n, dtype=bool)
        for mask, key in checks:  # the first check that applies, as _read_value does
            hit = fast & mask & ~flagged & ~pd.isna(row_kinds)
            flagged |= hit
            for i in np.flatnonzero(hit):
                hint = share_hint(values[i]) if key == "err_share_fix" else {}
                add(i, 4, key, "value", value=texts[i], **hint)
        for i in np.flatnonzero(reached & ~plain):
            # Without a convention only "1,234" and "1.234" are refused; they need the file's.
            values[i], problem = _read_value(texts[i], row_kinds[i], None)
            if problem is not None and problem[0] == "err_ambiguous_number":
                values[i], problem = _read_value(texts[i], row_kinds[i], decimal_comma())
            if problem is not None:
                add(i, 4, problem[0], "value", **problem[1])

        # Duplicates and mixed frequencies, among rows with a unit, indicator and period.
        valid = reached & ~pd.isna(unit_codes[unit_idx]) & ~pd.isna(row_kinds)
        code_idx, _ = pd.factorize(unit_codes[unit_idx])
        norm_idx, _ = pd.factorize(normal[per_idx])
        rows = np.flatnonzero(valid)
        keys = pd.DataFrame(
            {"unit": code_idx[rows], "period": norm_idx[rows], "indicator": ind_idx[rows]}
        )
        dup = keys.duplicated(keep="first").to_numpy()
        if dup.any():
            keys["row"] = rows
            first = keys.groupby(["unit", "period", "indicator"], sort=False)["row"]
            first_row = first.transform("first").to_numpy()
            for i, f in zip(rows[dup], first_row[dup]):
                add(i, 5, "err_duplicate_row", None, first=table.ref(f))
        kept = rows[~dup]
        row_freqs = freqs[per_idx]
        if len(set(row_freqs[kept])) > 1:
            by = pd.DataFrame(
                {
                    "unit": code_idx[kept],
                    "year": years[per_idx][kept],
                    "indicator": ind_idx[kept],
                    "freq": row_freqs[kept],
                    "row": kept,
                }
            )
            groups = by.groupby(["unit", "year", "indicator"], sort=False)
            first_freq = groups["freq"].transform("first").to_numpy()
            first_row = groups["row"].transform("first").to_numpy()
            for k in np.flatnonzero(by["freq"].to_numpy() != first_freq):
                add(kept[k], 6, "err_mixed_freq", "period", first=table.ref(first_row[k]))

        # Values in the wrong unit of measure (đồng for triệu đồng): far from the other units'.
        if len(kept):
            confirmed = table.column("confirmed")
            check = pd.DataFrame(
                {
                    "unit": unit_codes[unit_idx][kept],
                    "indicator": ind_texts[ind_idx[kept]],
                    "value": values[kept],
                }
            )
            for outlier in find_outliers(check, kinds):
                i = kept[outlier.row]
                if is_confirmed(confirmed[i]):
                    continue
                unit_vi, unit_en = self._measures.get(ind_texts[ind_idx[i]], ("", ""))
                vi, en = outlier_messages(outlier, texts[i], unit_vi, unit_en)
                found.append((i, 7, Problem(vi, en, **table.where(i, "value"))))

        found.sort(key=lambda t: (t[0], t[1]))
        self.problems.extend(p for _, _, p in found)
        note_idx, note_texts = pd.factorize(np.asarray(table.column("note"), dtype=object))

        frame = pd.DataFrame(
            {
                "unit_code": _take_strings(np.where(unit_bad, "", unit_codes), unit_idx[kept]),
                "period": _take_strings(np.where(per_ok, normal, ""), per_idx[kept]),
                "freq": _take_strings(np.where(per_ok, freqs, ""), per_idx[kept]),
                "year": years[per_idx][kept],
                "sub": subs[per_idx][kept],
                "indicator": _take_strings(ind_texts, ind_idx[kept]),
                "value": values[kept],
                "note": _take_strings(note_texts, note_idx[kept]),
            },
            columns=columns,
        )
        frame["value"] = frame["value"].astype(float)
        frame["year"] = frame["year"].astype(int)
        frame["sub"] = frame["sub"].astype(int)
        return frame.sort_values(["unit_code", "indicator", "year", "sub"]).reset_index(drop=True)

    def _pilots(self, unit_of, model_codes: set[str], panel: pd.DataFrame) -> pd.DataFrame:
        columns = [
            "unit_code",
            "model",
            "start",
            "start_precision",
            "start_status",
            "end",
            "source",
        ]
        table = self._table("pilots", PILOT_COLUMNS, PILOT_OPTIONAL, must_exist=True)
        if table is None:
            return pd.DataFrame(columns=columns)
        years = panel["year"] if len(panel) else pd.Series([], dtype=int)
        first_year = int(years.min()) if len(years) else None
        last_year = int(years.max()) if len(years) else None
        out, seen = [], {}
        # dd/mm or mm/dd: read day first only when the file's own dates show that order
        day_first = date_order([*table.column("start"), *table.column("end")]) == "day_first"
        for i, rec in enumerate(table.rows):
            code = unit_of(rec["unit"], table, i)
            model = self._model(rec["model"], table, i, model_codes)
            # Vietnamese words or the codes; a blank precision is the date's own as typed
            # ("08/2019": month, "2019": year, a full date: day).
            typed_precision = rec.get("start_precision", "")
            precision = read_precision(typed_precision) if typed_precision.strip() else ""
            status = read_status(rec["start_status"])
            if precision is None:
                self.add(
                    "err_bad_choice",
                    table.where(i, "start_precision"),
                    value=typed_precision,
                    allowed=allowed(PRECISION_WORDS),
                )
            if status is None:
                self.add(
                    "err_bad_choice",
                    table.where(i, "start_status"),
                    value=rec["start_status"],
                    allowed=allowed(STATUS_WORDS),
                )
            start = end = None
            try:
                start, typed = parse_date(rec["start"], day_first)
                if precision == "":
                    precision = typed
                elif precision and _PRECISION_RANK[typed] < _PRECISION_RANK[precision]:
                    self.add(
                        "err_precision_mismatch",
                        table.where(i, "start"),
                        value=rec["start"],
                        precision=precision,
                    )
            except ReadError as exc:
                self.add(exc.key, table.where(i, "start"), **exc.fields)
            if rec.get("end", ""):
                try:
                    end, _ = parse_date(rec["end"], day_first)
                except ReadError as exc:
                    self.add(exc.key, table.where(i, "end"), **exc.fields)
            if start is not None:
                if first_year is not None and not first_year <= start.year <= last_year:
                    self.add(
                        "err_start_outside",
                        table.where(i, "start"),
                        value=rec["start"],
                        first=first_year,
                        last=last_year,
                    )
                if start.year > self.today.year:
                    self.add(
                        "err_year_range",
                        table.where(i, "start"),
                        value=rec["start"],
                        low=_MIN_YEAR,
                        high=self.today.year,
                    )
                if end is not None and end <= start:
                    self.add(
                        "err_end_before_start",
                        table.where(i, "end"),
                        value=rec["end"],
                        start=rec["start"],
                    )
            if code is not None:
                key = (code, model)
                if key in seen:
                    self.add("err_duplicate_pilot", table.where(i), first=seen[key])
                seen.setdefault(key, table.ref(i))
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

    def _model(self, text: str, table: Table, i: int, model_codes: set[str]) -> str:
        """The model code of a cell typed as its code, short form or name (else a problem)."""
        code = read_model(text, self._aliases)
        if code is None:
            self.add(
                "err_unknown_model",
                table.where(i, "model"),
                value=text,
                known=", ".join(sorted(model_codes)),
            )
            return text
        return code

    def _comments(self, unit_of, model_codes: set[str]) -> pd.DataFrame:
        columns = ["unit_code", "model", "comment", "author", "date"]
        table = self._table("comments", COMMENT_COLUMNS, COMMENT_OPTIONAL)
        if table is None:
            return pd.DataFrame(columns=columns)
        out = []
        for i, rec in enumerate(table.rows):
            code = unit_of(rec["unit"], table, i)
            model = self._model(rec["model"], table, i, model_codes)
            out.append((code, model, rec["comment"], rec.get("author", ""), rec.get("date", "")))
        return pd.DataFrame(out, columns=columns)


def _display(unit: Unit) -> str:
    """A unit's name in messages: short ("Mường La"), in full where the short name is also
    the province's ("Thành phố Sơn La")."""
    return unit.name if unit.short == unit.province_short else unit.short


def _take_strings(uniques: np.ndarray, idx: np.ndarray):
    """A string column from its few distinct values, without a str object per row."""
    return pd.array(list(uniques), dtype="str").take(idx)


_PLAIN_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
_GROUP_LIKE = r"-?[0-9]{1,3}\.[0-9]{3}"  # "1.234": a decimal or a thousands dot
_ZERO_POINT = r"-?0\.[0-9]{3}"  # "0.234": always a decimal


def _read_value(
    text: str, kind: str | None, decimal_comma: bool | None
) -> tuple[float, tuple[str, dict] | None]:
    """One value as typed, and the problem with it as (label key, fields), if any."""
    if text.strip() == "":
        return float("nan"), None
    if kind == "rating":
        rating = parse_rating(text)
        if rating is not None:
            return float(rating), None
    try:
        value = parse_number(text, decimal_comma)
    except ReadError as exc:
        return float("nan"), (exc.key, exc.fields)
    assert value is not None
    if kind is None:
        return value, None
    if value < 0:
        return value, ("err_negative", {"value": text})
    if kind in ("count", "stock") and value != int(value):
        return value, ("err_not_whole", {"value": text})
    if kind == "rating" and value not in (1, 2, 3, 4):
        return value, ("err_rating", {"value": text})
    if kind == "share" and value > 1:
        return value, ("err_share_fix", {"value": text, **share_hint(value)})
    return value, None


def _period_start_month(freq: str, sub: int) -> int:
    if freq == "month":
        return sub
    if freq == "quarter":
        return 3 * (sub - 1) + 1
    return 1
