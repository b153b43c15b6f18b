"""The landing-data contract as Great Expectations suites, one per source, run on the rows a
partition just loaded.

On the Spark engine the suites run on the partition's rows themselves, through Great Expectations'
Spark data source: the rows stay in the cluster, and Great Expectations counts the rows breaking
each expectation and names some of them by file and line.

On DuckDB, GX 1.x has no DuckDB or Polars data source that works here, and 100M rows should not
travel to pandas to be checked. So each suite runs on what the rows reduce to
(`recon/profile.Summary`, one aggregate pass in DuckDB): each enum column's distinct values, each
ordered column's minimum and maximum. Every expectation used passes on those values exactly when
it passes on every row (a set check on the distinct values, a range check on the extremes); how
many rows break one, and where, is counted in the warehouse, on failure only.

Great Expectations is imported inside the functions: it takes seconds to import."""

import functools
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from recon.contract import Column, Kind, Source
from recon.landing import window
from recon.profile import (
    ColumnSummary,
    Summary,
    canonical_values,
    key_breaks_rule,
    normalised,
    partition_summary,
    summarised,
)
from recon.raw_rows import raw_rows_sql
from recon.spark.session import ignore_pandas_support_warning

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Great Expectations, imported below, imports pyspark's modules when the Spark extra is installed.
ignore_pandas_support_warning()

SAMPLE_ROWS = 5
# The columns naming a row in the warehouse: its landing file and line (or Parquet row).
ROW_ADDRESS = ["_source_file", "_line"]


@dataclass
class Failure:
    expectation: str
    column: str | None
    observed: str
    sample: list[str] = field(default_factory=list)  # "file:line value"
    # A server instant before the read window on a row whose own instant is inside it (an order
    # cancelled today, created two weeks ago): late news of an earlier date, not a broken export.
    late: bool = False


@dataclass
class ContractResult:
    source: str
    rows: int
    failures: list[Failure] = field(default_factory=list)
    expectations: int = 0

    @property
    def passed(self) -> bool:
        """No failure but late rows (see `Failure.late`): those warn, they do not block."""
        return not self.blocking

    @property
    def blocking(self) -> list[Failure]:
        return [f for f in self.failures if not f.late]

    @property
    def late(self) -> list[Failure]:
        return [f for f in self.failures if f.late]


# Marks the expectation whose failure is late news rather than a broken export (`Failure.late`).
LATE = "late_beyond_window"


def _window(day: date, lookback_days: int) -> tuple[datetime, datetime]:
    dates = window(day, lookback_days)
    return datetime.combine(dates[0], time.min), datetime.combine(
        dates[-1] + timedelta(days=1), time.min
    )


SCHEMA_EXPECTATION = "expect_table_columns_to_match_set"


def _schema_expectations(source: Source) -> list:
    """Every contract column is there (others may be too). One expectation rather than one per
    column: each costs Great Expectations ~5 ms to plan, whatever it checks, and the columns
    were a third of a small partition's contract time."""
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[col.name for col in source.columns], exact_match=False
        )
    ]


def _value_expectations(source: Source, day: date, lookback_days: int, aware: bool = False) -> list:
    """`aware`: the window's bounds in UTC rather than naive (pyspark reads a naive datetime in
    the driver's local time zone)."""
    import great_expectations.expectations as gxe

    start, end = _window(day, lookback_days)
    if aware:
        start, end = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    found = []
    for col in source.columns:
        if not summarised(col):
            continue
        if col.kind in (Kind.ENUM, Kind.CURRENCY):
            found.append(
                gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=canonical_values(col))
            )
        elif col.kind is Kind.INTEGER:
            found.append(gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.minimum))
        elif col.name == source.landing_time:
            # The row's own instant: what put it in this window's folders.
            found.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=col.name, min_value=start, max_value=end, strict_max=True
                )
            )
        else:
            # Another server instant: never after the window (a wrong clock, a misfiled row),
            # and before it only as late news of an earlier date (`Failure.late`).
            found.append(
                gxe.ExpectColumnValuesToBeBetween(column=col.name, max_value=end, strict_max=True)
            )
            found.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=col.name, min_value=start, meta={LATE: True}
                )
            )
    return found


def _reduced_frame(source: Source, summary: Summary, loaded: list[str]) -> pd.DataFrame:
    """The loaded table's contract columns (`loaded`: the table's column names), each
    summarised one holding its distinct values (enums) or its minimum and maximum, padded with
    nulls, which every value expectation ignores; the others all null. One frame carries both
    the table's shape and its values: one suite, one validation run per source."""
    columns: dict[str, list] = {}
    for col in source.columns:
        if not summarised(col):
            continue
        seen = summary.columns.get(col.name, ColumnSummary())
        if col.kind in (Kind.ENUM, Kind.CURRENCY):
            columns[col.name] = sorted(seen.values)
        else:
            columns[col.name] = [v for v in (seen.minimum, seen.maximum) if v is not None]
    length = max((len(v) for v in columns.values()), default=0)
    frame = {}
    for col in source.columns:
        if col.name not in loaded:
            continue
        listed = columns.get(col.name, [])
        values = listed + [None] * (length - len(listed))
        frame[col.name] = pd.Series(values, dtype=_dtype(col))
    return pd.DataFrame(frame)


def _dtype(col: Column) -> str:
    return {Kind.INTEGER: "Int64", Kind.TIMESTAMP: "datetime64[us]"}.get(col.kind, "object")


def validate_contract(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    day: date,
    lookback_days: int,
    summary: Summary | None = None,
) -> ContractResult:
    """Run the source's suite on the partition's loaded rows; failures carry offending rows.

    `summary` is what ingestion summarised of those rows on its way; without it the partition is
    summarised again. One batch: the values the rows reduce to, in the columns the loaded table
    has."""
    summary = summary if summary is not None else partition_summary(con, source, day)
    result = ContractResult(source.name, summary.rows)
    if summary.rows == 0:
        return result
    expectations = _schema_expectations(source) + _value_expectations(source, day, lookback_days)
    suite = _Suite(source, day, expectations, spark=False)
    with con.cursor() as cursor:
        loaded = [r[0] for r in cursor.execute(f"describe {source.table}").fetchall()]
    frame = _reduced_frame(source, summary, loaded)
    outcomes = suite.run(frame)
    result.expectations = len(outcomes)
    result.failures = [
        _failure(con, source, item, summary, day, lookback_days, frame)
        for item in outcomes
        if not item.success
    ]
    return result


class _Suite:
    """A source's Great Expectations suite, validating the batch handed to `run`: a pandas frame on
    DuckDB, a Spark DataFrame on Spark.

    Validated through the batch itself (`Batch.validate`), not a stored validation definition:
    that one also writes the suite, the definition and every result into the context's stores,
    half of a small partition's contract time, for results nobody reads back."""

    def __init__(self, source: Source, day: date, expectations: list, spark: bool):
        import great_expectations as gx

        self.suite = gx.ExpectationSuite(name=f"{source.name}_{day}", expectations=expectations)
        self.source_name = source.name
        self.spark_batches = _spark_batches(source.name) if spark else None

    def run(self, frame, result_format: dict | None = None) -> list:
        if self.spark_batches is not None:
            return self._validate(self.spark_batches, frame, result_format)
        with _PANDAS_LOCK:
            return self._validate(_pandas_batches(self.source_name), frame, result_format)

    def _validate(self, batches, frame, result_format: dict | None) -> list:
        batch = batches.get_batch(batch_parameters={"dataframe": frame})
        outcome = batch.validate(
            self.suite, result_format=result_format or {"result_format": "BASIC"}
        )
        return list(outcome.results)


# One ephemeral context for the pandas suites of a process, with a data source per contract
# source: a context costs ~0.1 s to make and every data source added to it rewrites its config.
# Its batches hold nothing between runs (each is the frame handed to `run`); the lock keeps two
# threads' runs (and the data sources' creation) apart.
_PANDAS_LOCK = threading.Lock()


@functools.cache
def _pandas_batches(source_name: str):
    return _batch_definition(_pandas_context().data_sources.add_pandas(f"raw_{source_name}"))


@functools.cache
def _pandas_context():
    return _ephemeral_context()


def _spark_batches(source_name: str):
    # A context of its own each time: a data source keeps its execution engine, which would hold
    # on to a Spark session that a later run (or test) has stopped.
    # Not persisted: a partition can be larger than the executors' memory, and a suite reads it
    # in a few aggregate passes.
    data_source = _ephemeral_context().data_sources.add_spark(f"raw_{source_name}", persist=False)
    return _batch_definition(data_source)


def _ephemeral_context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    context = gx.get_context(mode="ephemeral")
    # GX draws tqdm progress bars, which land in run logs as noise.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _batch_definition(data_source):
    return data_source.add_dataframe_asset("rows").add_batch_definition_whole_dataframe("rows")


def validate_contract_rows(
    rows: "DataFrame", source: Source, day: date, lookback_days: int, count: int | None = None
) -> ContractResult:
    """Run the source's suite on a Spark DataFrame of the partition's loaded rows: the contract's
    columns (enums and currencies as staging compares them, `profile.normalised`) and the row's
    address, `_source_file` and `_line`. `count`: the rows, when the caller counted them."""
    result = ContractResult(source.name, rows.count() if count is None else count)
    if result.rows == 0:
        return result
    expectations = _schema_expectations(source) + _value_expectations(
        source, day, lookback_days, aware=True
    )
    suite = _Suite(source, day, expectations, spark=True)
    outcomes = suite.run(rows)
    if not all(item.success for item in outcomes):
        # Again, naming rows: Spark jobs that cost a third of the suite's time when all passes.
        outcomes = suite.run(
            rows,
            {
                "result_format": "SUMMARY",
                "unexpected_index_column_names": ROW_ADDRESS,
                "partial_unexpected_count": SAMPLE_ROWS,
            },
        )
    result.expectations = len(outcomes)
    result.failures = [_counted_failure(item, result.rows) for item in outcomes if not item.success]
    return result


def _counted_failure(item, rows: int) -> Failure:
    """A failure as Great Expectations counted it on the rows themselves."""
    config = item.expectation_config
    column = config.kwargs.get("column")
    found = item.result or {}
    if config.type == SCHEMA_EXPECTATION:
        return _schema_failure(item)
    if "unexpected_count" not in found:
        return Failure(config.type, column, str(item.exception_info or "failed"))
    where = sorted(
        (str(r["_source_file"]), int(r["_line"]), r.get(column))
        for r in found.get("partial_unexpected_index_list") or []
    )
    sample = [f"{file}:{line} {column}={value!r}" for file, line, value in where]
    observed = _share(int(found["unexpected_count"]), rows)
    return Failure(config.type, column, observed, sample, late=_is_late(config))


def _is_late(config) -> bool:
    return bool((config.meta or {}).get(LATE))


def _schema_failure(item) -> Failure:
    mismatched = (item.result or {}).get("details", {}).get("mismatched", {})
    missing = sorted(mismatched.get("missing", []))
    observed = f"missing columns: {', '.join(missing)}" if missing else str(item.result)
    return Failure(item.expectation_config.type, None, observed)


def _failure(
    con, source: Source, item, summary: Summary, day: date, lookback_days: int, frame: pd.DataFrame
) -> Failure:
    """A failure on the reduced values, counted and located in the warehouse."""
    config = item.expectation_config
    column = config.kwargs.get("column")
    col = next((c for c in source.columns if c.name == column), None)
    if config.type == SCHEMA_EXPECTATION:
        return _schema_failure(item)
    if col is None or column not in frame.columns:
        return Failure(config.type, column, str(item.exception_info or "failed"))
    value = normalised(col, col.name)
    if col.kind is Kind.TIMESTAMP:
        start, end = _window(day, lookback_days)
        # The sides of the window this expectation holds the column to: both for the row's own
        # instant, one for another server instant (`_value_expectations`).
        tests, params = [], {}
        if config.kwargs.get("min_value") is not None:
            tests.append(f"{col.name} < $start")
            params["start"] = start
        if config.kwargs.get("max_value") is not None:
            tests.append(f"{col.name} >= $end")
            params["end"] = end
        where = f"({' or '.join(tests)})"
        observed = _share(_count(con, source, day, where, params), summary.rows)
    elif col.kind in (Kind.ENUM, Kind.CURRENCY):
        allowed = canonical_values(col)
        where, params = f"{value} not in (select unnest($allowed))", {"allowed": allowed}
        values = summary.columns.get(col.name, ColumnSummary()).values
        breaking = sum(n for v, n in values.items() if v not in allowed)
        observed = _share(breaking, summary.rows)
    else:
        where, params = f"{col.name} < $minimum", {"minimum": col.minimum}
        observed = _share(_count(con, source, day, where, params), summary.rows)
    return Failure(
        config.type,
        column,
        observed,
        _offending_rows(con, source, col, day, where, params),
        late=_is_late(config),
    )


def _share(count: int, rows: int) -> str:
    return f"{count} of {rows} rows ({100 * count / rows if rows else 0:.2f} %)"


def _count(con, source: Source, day: date, where: str, params: dict) -> int:
    relation = raw_rows_sql(con, source, day)
    return con.execute(f"select count(*) from ({relation}) where {where}", params).fetchone()[0]


def _offending_rows(
    con, source: Source, col: Column, day: date, where: str, params: dict
) -> list[str]:
    """Where the failing values sit, as `file:line value` (the value as checked), read back from
    the loaded rows."""
    relation = raw_rows_sql(con, source, day)
    rows = con.execute(
        f"select _source_file, _line, {normalised(col, col.name)} from ({relation}) "
        f"where {where} order by _source_file, _line limit {SAMPLE_ROWS}",
        params,
    ).fetchall()
    return [f"{file}:{line} {col.name}={value!r}" for file, line, value in rows]


def idempotency_key_rate(
    con: duckdb.DuckDBPyConnection, source: Source, day: date
) -> tuple[int, int]:
    """(rows, rows whose key breaks `{checkout_id}:{step}`) for a source that carries keys."""
    relation = raw_rows_sql(con, source, day)
    [(rows, broken)] = con.execute(
        f"select count(*), count(*) filter (where {key_breaks_rule()}) from ({relation})"
    ).fetchall()
    return int(rows), int(broken)
