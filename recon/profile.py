"""Column summaries of landing rows, each from one aggregate pass.

Two uses. On a Parquet landing file, the summary decides whether every row already meets the
contract as the file stores it: no value missing, padded with spaces, unknown, too wide or below its
minimum, and every column in its contract type. Such a file is *read in place*: the row-by-row
validation (`validation.py`), its quarantine and a copy of the rows into the warehouse are never
needed, because they would change nothing. Any doubt sends the file down the row-by-row path, which
is exact for every row.

On the rows a partition loaded, the summary is what the contract suite checks
(`recon/contract_suites.py`): each enum's distinct values with their counts, minima and maxima,
so Great Expectations judges a few values instead of every row, and the cost is one aggregate
pass in DuckDB."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import duckdb

from recon.contract import IDEMPOTENCY_STEPS, Column, Kind, Source
from recon.currencies import ISO_4217
from recon.raw_rows import describe_parquet, in_place_files
from recon.validation import native_kind, typed
from recon.validation import quote_ident as _q

# Server-side instants must fall inside the partition's read window; the browser's own clock
# (occurred_at) is not held to it.
WINDOW_CHECKED = ("created_at", "updated_at", "received_at", "settled_at")
READER_COLUMNS = ("filename", "file_row_number")


def canonical_values(col: Column) -> list[str]:
    """The spellings of an enum or currency that staging leaves as they are."""
    return sorted(col.values) if col.kind is Kind.ENUM else sorted(ISO_4217)


def summarised(col: Column) -> bool:
    """Whether the contract suite checks this column's values (beyond the DDL's constraints)."""
    return (
        col.kind in (Kind.ENUM, Kind.CURRENCY)
        or (col.kind is Kind.INTEGER and col.minimum is not None)
        or (col.kind is Kind.TIMESTAMP and col.name in WINDOW_CHECKED)
    )


def normalised(col: Column, expression: str) -> str:
    """The value as staging compares it: enums lower-cased, currencies upper-cased."""
    if col.kind is Kind.ENUM:
        return f"lower({expression})"
    if col.kind is Kind.CURRENCY:
        return f"upper({expression})"
    return expression


def key_breaks_rule(key: str = "idempotency_key", checkout: str = "checkout_id") -> str:
    """SQL condition: the key is not `{checkout_id}:{step}` for a known step."""
    steps = ", ".join(f"'{s}'" for s in IDEMPOTENCY_STEPS)
    return (
        f"not (starts_with({key}, {checkout} || ':') "
        f"and substr({key}, length({checkout}) + 2) in ({steps}))"
    )


@dataclass
class ColumnSummary:
    values: Counter = field(default_factory=Counter)  # enums, currencies: value → rows
    minimum: object = None
    maximum: object = None

    def merge(self, other: "ColumnSummary") -> None:
        self.values.update(other.values)
        self.minimum = _pick(min, self.minimum, other.minimum)
        self.maximum = _pick(max, self.maximum, other.maximum)


def _pick(choose, a, b):
    if a is None:
        return b
    if b is None:
        return a
    return choose(a, b)


@dataclass
class Summary:
    """What the contract suite needs to know of a set of loaded rows."""

    rows: int = 0
    columns: dict[str, ColumnSummary] = field(default_factory=dict)
    keys_breaking_rule: int = 0

    def merge(self, other: "Summary") -> None:
        self.rows += other.rows
        self.keys_breaking_rule += other.keys_breaking_rule
        for name, column in other.columns.items():
            self.columns.setdefault(name, ColumnSummary()).merge(column)


@dataclass(frozen=True)
class FileCheck:
    in_place: bool
    # Why the file goes row by row instead (the first doubt found), for the run's log.
    why_not: str | None
    summary: Summary


class _Aggregates:
    """Named aggregate expressions evaluated in one query."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, name: str, expression: str) -> None:
        self.items.append((name, expression))

    def run(self, con: duckdb.DuckDBPyConnection, relation: str, params=None) -> dict:
        select = ", ".join(f"{expr} as {_q(name)}" for name, expr in self.items)
        # On the connection itself, not a cursor: a cursor is another connection, blind to the
        # rows the caller's open transaction just stored.
        [row] = con.execute(f"select {select} from {relation}", params).fetchall()
        return {name: value for (name, _), value in zip(self.items, row, strict=True)}


def check_parquet_file(
    con: duckdb.DuckDBPyConnection, source: Source, path: str, described: dict[str, str]
) -> FileCheck:
    """One pass over a Parquet landing file: can it be read in place, and its summary.

    `described` maps the file's columns to their DuckDB types."""
    # The scan that reads files in place adds these columns itself.
    doubts = [f"a column is named {n}" for n in READER_COLUMNS if n in described]
    agg = _Aggregates()
    agg.add("rows", "count(*)")
    zero_when_clean: list[tuple[str, str]] = []  # (aggregate, doubt it raises when non-zero)
    for col in source.columns:
        file_type = described.get(col.name)
        if file_type is None:
            # Only optional columns can be absent (a missing required one fails the source).
            if col.required_when:
                name = f"absent:{col.name}"
                agg.add(name, f"count(*) filter (where {col.required_when})")
                zero_when_clean.append((name, f"column {col.name} is absent but required"))
            continue
        doubt = _type_doubt(col, file_type)
        if doubt:
            doubts.append(doubt)
            continue
        zero_when_clean += _clean_aggregates(agg, col, native_kind(file_type))
    if doubts:
        return FileCheck(False, doubts[0], Summary())
    _summary_aggregates(agg, source, {c: native_kind(t) for c, t in described.items()}, raw=True)
    literal = "'" + path.replace("'", "''") + "'"
    found = agg.run(con, f"read_parquet({literal})")
    for name, doubt in zero_when_clean:
        if found[name]:
            return FileCheck(False, f"{doubt} ({found[name]} rows)", Summary())
    return FileCheck(True, None, _summary_of(found, source))


def _type_doubt(col: Column, file_type: str) -> str | None:
    native = native_kind(file_type)
    if col.kind in (Kind.TEXT, Kind.ENUM, Kind.CURRENCY):
        ok = file_type == "VARCHAR"
    elif col.kind is Kind.INTEGER:
        ok = native == "integer"
    else:
        ok = native in ("timestamp", "timestamptz")
    return None if ok else f"column {col.name} is stored as {file_type}"


def _clean_aggregates(agg: _Aggregates, col: Column, native: str | None) -> list[tuple[str, str]]:
    """Aggregates that are zero when no row breaks the column's rules and no value would be changed
    by loading it (text trimmed of spaces, blanks made null): the same rules `validation.py` applies
    row by row, in aggregate."""
    name = _q(col.name)
    checks: list[tuple[str, str, str]] = []  # (aggregate name, expression, doubt)
    if col.required:
        checks.append((f"nulls:{col.name}", f"count(*) - count({name})", "missing values"))
    elif col.required_when:
        checks.append(
            (
                f"nulls:{col.name}",
                # The condition only where the value is missing: it normalises another column
                # (lower(trim(...))), a copy of every value when an AND evaluates it on each row.
                f"count(*) filter (where case when {name} is null "
                f"then {col.required_when} else false end)",
                "missing values",
            )
        )
    if col.kind in (Kind.TEXT, Kind.ENUM, Kind.CURRENCY):
        checks.append(
            (
                f"padded:{col.name}",
                # What trim() would change: it also strips Unicode spaces (U+00A0, U+3000...),
                # so a value with a non-ASCII character (more bytes than characters) is trimmed
                # to see; an ASCII one changes only with a space at either end, which `like`
                # finds without copying it. trim() on every value cost three times as much (the
                # CASE, not an AND: an aggregate's filter evaluates both sides of an AND).
                f"count(*) filter (where case when strlen({name}) = length({name}) "
                f"then {name} = '' or {name} like ' %' or {name} like '% ' "
                f"else trim({name}) <> {name} end)",
                "blank or space-padded values",
            )
        )
    if col.kind is Kind.TEXT:
        checks.append(
            (
                f"wide:{col.name}",
                f"count(*) filter (where strlen({name}) > {col.max_bytes})",
                f"values above {col.max_bytes} bytes",
            )
        )
    elif col.kind in (Kind.ENUM, Kind.CURRENCY):
        allowed = ", ".join("'" + v + "'" for v in canonical_values(col))
        checks.append(
            (
                f"unknown:{col.name}",
                # A cast to the enum of the allowed values, not `not in`: on the 20.1M
                # currencies of a dictionary-encoded Parquet file (as writers store such a
                # column) the list took 1.9 s, the cast 0.02 s, the same count; DuckDB seems to
                # cast such a column once per distinct value.
                f"count({name}) filter (where try_cast({name} as enum({allowed})) is null)",
                "values not spelled as the contract lists them",
            )
        )
    elif col.kind is Kind.INTEGER and col.minimum is not None:
        checks.append(
            (
                f"small:{col.name}",
                f"count(*) filter (where {name} < {col.minimum})",
                f"values below {col.minimum}",
            )
        )
    if col.consistent_when is not None:
        condition, says = col.consistent_when
        checks.append(
            (
                f"inconsistent:{col.name}",
                f"count({name}) filter (where not coalesce({condition}, false))",
                f"values that {says}",
            )
        )
    for aggregate, expression, _ in checks:
        agg.add(aggregate, expression)
    return [(aggregate, f"column {col.name}: {doubt}") for aggregate, _, doubt in checks]


def _summary_aggregates(
    agg: _Aggregates, source: Source, natives: dict[str, str | None], raw: bool
) -> None:
    """The summary's aggregates, over a landing file's own values (`raw`) or over loaded rows."""
    for col in source.columns:
        if not summarised(col) or (raw and col.name not in natives):
            continue
        name = _q(col.name)
        if col.kind in (Kind.ENUM, Kind.CURRENCY):
            if raw:
                # Only canonical spellings: a file of millions of distinct wrong values must not
                # build a map of them (it is not read in place anyway).
                allowed = ", ".join("'" + v + "'" for v in canonical_values(col))
                agg.add(
                    f"values:{col.name}", f"histogram({name}) filter (where {name} in ({allowed}))"
                )
            else:
                agg.add(f"values:{col.name}", f"histogram({normalised(col, name)})")
            continue
        value = typed(col, natives.get(col.name)) if raw else name
        agg.add(f"min:{col.name}", f"min({value})")
        agg.add(f"max:{col.name}", f"max({value})")
    if "idempotency_key" in source.column_names and (not raw or "idempotency_key" in natives):
        agg.add("keys_breaking_rule", f"count(*) filter (where {key_breaks_rule()})")


def _summary_of(found: dict, source: Source) -> Summary:
    summary = Summary(int(found["rows"]), keys_breaking_rule=found.get("keys_breaking_rule") or 0)
    for col in source.columns:
        if not summarised(col):
            continue
        column = ColumnSummary(
            values=Counter(found.get(f"values:{col.name}") or {}),
            minimum=found.get(f"min:{col.name}"),
            maximum=found.get(f"max:{col.name}"),
        )
        summary.columns[col.name] = column
    return summary


def partition_summary(con: duckdb.DuckDBPyConnection, source: Source, day: date) -> Summary:
    """The summary of every row partition `day` loaded from `source`: the files read in place,
    summarised again, and the stored rows. (Ingestion hands the summary it made on the way to
    the checks it runs; this is for checking a partition afterwards.)"""
    summary = Summary()
    for path in in_place_files(con, source, day):
        described, _ = describe_parquet(con, source, path)
        summary.merge(check_parquet_file(con, source, str(path), described).summary)
    summary.merge(stored_rows_summary(con, source, day))
    return summary


def stored_rows_summary(con: duckdb.DuckDBPyConnection, source: Source, day: date) -> Summary:
    """The summary of the rows a partition stored in `raw.<source>` (those of text files, service
    snapshots, and Parquet files that could not be read in place)."""
    agg = _Aggregates()
    agg.add("rows", "count(*)")
    _summary_aggregates(agg, source, {}, raw=False)
    found = agg.run(con, f"{source.table} where _partition_date = ?", [day])
    return _summary_of(found, source)
