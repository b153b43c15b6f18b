"""The landing-data contract of DESIGN.md as Great Expectations suites, one per source, run on the
rows a partition just loaded.

GX 1.x has no DuckDB or Polars data source that works here (see STACK-NOTES), so each suite runs on
a pandas frame holding only the columns its expectations need, normalised the way ingestion compares
them. Great Expectations is imported inside the functions: it takes seconds to import."""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from assets.contract import IDEMPOTENCY_STEPS, Column, Kind, Source
from assets.currencies import ISO_4217
from assets.landing import window

# Server-side instants must fall inside the partition's read window; the browser's own clock
# (occurred_at) is not held to it.
WINDOW_CHECKED = ("created_at", "updated_at", "received_at")
SAMPLE_ROWS = 5
# Rows handed to pandas and GX at a time: about 100 MiB of frame for the widest source.
CHUNK_ROWS = 1 << 22


@dataclass
class Failure:
    expectation: str
    column: str | None
    observed: str
    sample: list[str] = field(default_factory=list)  # "file:line value"


@dataclass
class ContractResult:
    source: str
    rows: int
    failures: list[Failure] = field(default_factory=list)
    expectations: int = 0

    @property
    def passed(self) -> bool:
        return not self.failures


def _normalised(col: Column) -> str:
    if col.kind is Kind.ENUM:
        return f"lower({col.name})"
    if col.kind is Kind.CURRENCY:
        return f"upper({col.name})"
    return col.name


def _value_columns(source: Source) -> list[Column]:
    """Columns whose values the suite checks beyond what the raw table's DDL already enforces
    (NOT NULL and CHECK constraints rejected those rows at load)."""
    return [
        col
        for col in source.columns
        if col.kind in (Kind.ENUM, Kind.CURRENCY)
        or (col.kind is Kind.INTEGER and col.minimum is not None)
        or (col.kind is Kind.TIMESTAMP and col.name in WINDOW_CHECKED)
    ]


def _frame_sql(source: Source, columns: list[Column], limit: str = "") -> str:
    selected = ", ".join(f"{_normalised(c)} as {c.name}" for c in columns)
    return f"select {selected} from {source.table} where _partition_date = $day {limit}".rstrip()


def _window(day: date, lookback_days: int) -> tuple[datetime, datetime]:
    dates = window(day, lookback_days)
    return datetime.combine(dates[0], time.min), datetime.combine(
        dates[-1] + timedelta(days=1), time.min
    )


def _schema_expectations(source: Source) -> list:
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnToExist(column=col.name) for col in source.columns]


def _value_expectations(source: Source, day: date, lookback_days: int) -> list:
    import great_expectations.expectations as gxe

    start, end = _window(day, lookback_days)
    found = []
    for col in _value_columns(source):
        if col.kind is Kind.ENUM:
            found.append(
                gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.values))
            )
        elif col.kind is Kind.CURRENCY:
            found.append(
                gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=sorted(ISO_4217))
            )
        elif col.kind is Kind.INTEGER:
            found.append(gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.minimum))
        else:
            # The column's min and max, not every row: a row-wise datetime comparison in GX
            # cost 2 s per 400k rows; the offending rows are looked up only on failure.
            found.append(
                gxe.ExpectColumnMinToBeBetween(column=col.name, min_value=start, max_value=end)
            )
            found.append(
                gxe.ExpectColumnMaxToBeBetween(
                    column=col.name, min_value=start, max_value=end, strict_max=True
                )
            )
    return found


@dataclass
class _Outcome:
    """One expectation's result over every chunk of the partition's rows."""

    config: Any
    success: bool = True
    details: dict = field(default_factory=dict)
    exception: Any = None

    @classmethod
    def of(cls, item) -> "_Outcome":
        outcome = cls(item.expectation_config)
        outcome.add(item)
        return outcome

    def add(self, item) -> None:
        """Fold in the same expectation's result on the next chunk."""
        self.success = self.success and item.success
        self.exception = self.exception or (item.exception_info if not item.success else None)
        new = item.result or {}
        if "unexpected_count" in new:
            for name in ("unexpected_count", "element_count"):
                self.details[name] = self.details.get(name, 0) + (new.get(name) or 0)
            total = self.details["element_count"]
            self.details["unexpected_percent"] = (
                100 * self.details["unexpected_count"] / total if total else 0
            )
        elif "observed_value" in new:
            seen = self.details.get("observed_value")
            value = new["observed_value"]
            pick = max if "max_to_be_between" in self.config.type else min
            self.details["observed_value"] = value if seen is None else pick(seen, value)


def validate_contract(
    con: duckdb.DuckDBPyConnection, source: Source, day: date, lookback_days: int
) -> ContractResult:
    """Run the source's suite on the partition's loaded rows; failures carry offending rows.

    Two batches: the table's columns (a zero-row frame is enough to see them) and the values of
    the columns with value rules, so the frame handed to pandas holds only what is checked. The
    values go to pandas CHUNK_ROWS at a time, so memory stays flat however large the day."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

    with con.cursor() as cursor:
        shape = cursor.sql(
            _frame_sql(source, list(source.columns), "limit 0"), params={"day": day}
        ).to_arrow_table()
        # Through Arrow: DuckDB's own .df() took 3 s where this takes 0.03 s (400k rows).
        chunks = cursor.sql(_frame_sql(source, _value_columns(source)), params={"day": day})
        reader = _chunked(chunks.to_arrow_reader(CHUNK_ROWS), CHUNK_ROWS)
        result = ContractResult(source.name, 0)
        suites: _Suites | None = None
        outcomes: list[_Outcome] = []  # the columns suite's, then the values suite's
        values: list[_Outcome] = []
        for table in reader:
            if table.num_rows == 0:
                continue
            if suites is None:
                suites = _Suites(source, day, lookback_days)
                outcomes = [_Outcome.of(item) for item in suites.run("columns", shape.to_pandas())]
            result.rows += table.num_rows
            # Text columns as pandas categoricals: a Python string object per row cost about
            # 5 GiB at 40M analytics events; the codes cost a byte a row, and GX's set
            # checks read them as they are.
            chunk = suites.run("values", table.to_pandas(strings_to_categorical=True))
            if not values:
                values = [_Outcome(item.expectation_config) for item in chunk]
                outcomes += values
            for outcome, item in zip(values, chunk, strict=True):
                outcome.add(item)
    result.expectations = len(outcomes)
    result.failures = [
        _failure(con, source, outcome, result.rows, day, lookback_days)
        for outcome in outcomes
        if not outcome.success
    ]
    return result


def _chunked(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.Table]:
    """The reader's record batches regrouped into tables of `rows` rows (the last one smaller).
    DuckDB hands out batches of about 120k rows whatever size is asked for, and each GX run costs
    10-50 ms of framework work: one run per batch made the checks at 10M checkouts 88 s, not 47."""
    held: list[pa.Table] = []
    count = 0
    for batch in reader:
        held.append(pa.Table.from_batches([batch]))
        count += batch.num_rows
        while count >= rows:
            table = pa.concat_tables(held)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            held, count = [rest], rest.num_rows
    if count:
        yield pa.concat_tables(held)


class _Suites:
    """The source's two Great Expectations suites in an ephemeral context, run per frame."""

    def __init__(self, source: Source, day: date, lookback_days: int) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        # GX draws tqdm progress bars, which land in run logs as noise.
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        data_source = context.data_sources.add_pandas(f"raw_{source.name}")
        expectations = {
            "columns": _schema_expectations(source),
            "values": _value_expectations(source, day, lookback_days),
        }
        self.validations = {}
        for name, listed in expectations.items():
            asset = data_source.add_dataframe_asset(name)
            batch = asset.add_batch_definition_whole_dataframe(name)
            suite = context.suites.add(gx.ExpectationSuite(name=f"{source.name}_{name}"))
            for expectation in listed:
                suite.add_expectation(expectation)
            self.validations[name] = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"{source.name}_{name}_{day}", data=batch, suite=suite)
            )

    def run(self, name: str, frame) -> list:
        outcome = self.validations[name].run(
            batch_parameters={"dataframe": frame},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS},
        )
        return list(outcome.results)


def _failure(
    con, source: Source, outcome: _Outcome, rows: int, day: date, lookback_days: int
) -> Failure:
    config = outcome.config
    column = config.kwargs.get("column")
    details = outcome.details
    observed = (
        f"{details.get('unexpected_count')} of {rows} rows "
        f"({details.get('unexpected_percent', 0):.2f} %)"
        if "unexpected_count" in details
        else str(details.get("observed_value", outcome.exception or "failed"))
    )
    col = next((c for c in source.columns if c.name == column), None)
    if col is None or "to_exist" in config.type:
        return Failure(config.type, column, observed)
    if "min_to_be_between" in config.type or "max_to_be_between" in config.type:
        start, end = _window(day, lookback_days)
        where, params = f"({col.name} < $start or {col.name} >= $end)", {"start": start, "end": end}
    elif "in_set" in config.type:
        where = f"{_normalised(col)} not in (select unnest($allowed))"
        allowed = list(col.values) if col.kind is Kind.ENUM else sorted(ISO_4217)
        params = {"allowed": allowed}
    else:
        where, params = f"{col.name} < $minimum", {"minimum": col.minimum}
    return Failure(
        config.type, column, observed, _offending_rows(con, source, col, day, where, params)
    )


def _offending_rows(
    con, source: Source, col: Column, day: date, where: str, params: dict
) -> list[str]:
    """Where the failing values sit, as `file:line value`, read back from the warehouse."""
    rows = con.execute(
        f"select _source_file, _line, {col.name} from {source.table} "
        f"where _partition_date = $day and {where} "
        f"order by _source_file, _line limit {SAMPLE_ROWS}",
        {"day": day, **params},
    ).fetchall()
    return [f"{file}:{line} {col.name}={value!r}" for file, line, value in rows]


def idempotency_key_rate(
    con: duckdb.DuckDBPyConnection, source: Source, day: date
) -> tuple[int, int]:
    """(rows, rows whose key breaks `{checkout_id}:{step}`) for a source that carries keys."""
    steps = ", ".join(f"'{s}'" for s in IDEMPOTENCY_STEPS)
    [(rows, broken)] = con.execute(
        f"""
        select
            count(*),
            count(*) filter (
                where not (
                    starts_with(idempotency_key, checkout_id || ':')
                    and substr(idempotency_key, length(checkout_id) + 2) in ({steps})
                )
            )
        from {source.table} where _partition_date = ?
        """,
        [day],
    ).fetchall()
    return int(rows), int(broken)
