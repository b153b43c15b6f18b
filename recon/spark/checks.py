"""A source's landing checks on the Spark engine, computed by Spark on the partition's stored
rows: the rows per file (for `rows_conserved`), the contract (Great Expectations' Spark data
source) and the idempotency keys that break the rule. The DuckDB engine computes the same from
its own tables and ingestion's summary (`checks.landing`)."""

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from recon.contract import Source
from recon.contract_suites import ROW_ADDRESS, ContractResult, validate_contract_rows
from recon.profile import key_breaks_rule, normalised, summarised
from recon.spark.dialect import spark_sql
from recon.spark.tables import SparkTables, partition_view

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass
class LandingFacts:
    stored_per_file: dict[str, int]
    contract: ContractResult
    rows: int
    keys_breaking_rule: int


def landing_facts(
    tables: SparkTables, source: Source, day: date, lookback_days: int
) -> LandingFacts:
    """What the landing checks judge of the source's stored partition, each counted by Spark."""
    # One pass: rows per file and, where the source carries keys, those breaking the rule.
    broken = (
        f"count(*) filter (where {key_breaks_rule()})"
        if "idempotency_key" in source.column_names
        else "0"
    )
    counted = _rows(
        tables, source, day, f"select _source_file, count(*), {broken} from {{table}} group by 1"
    )
    per_file = {file: int(rows) for file, rows, _ in counted}
    keys = sum(int(n) for _, _, n in counted)
    loaded = sum(per_file.values())
    contract = validate_contract_rows(
        contract_rows(tables, source, day), source, day, lookback_days, loaded
    )
    return LandingFacts(per_file, contract, loaded, keys)


def contract_rows(tables: SparkTables, source: Source, day: date) -> "DataFrame":
    """The partition's rows as the contract judges them: its columns, enums and currencies as
    staging compares them, and where each row came from."""
    checked = [
        f"{normalised(col, col.name)} as {col.name}" if summarised(col) else col.name
        for col in source.columns
    ]
    return _frame(tables, source, day, f"select {', '.join(ROW_ADDRESS + checked)} from {{table}}")


def _frame(tables: SparkTables, source: Source, day: date, template: str) -> "DataFrame":
    """A DuckDB query of the source's partition (`{table}` in `template`), run by Spark."""
    view = partition_view(source.table)
    tables.read_partition(source.table, day).createOrReplaceTempView(view)
    query = spark_sql(template.format(table=source.table), {source.table: view}, "landing check")
    return tables.spark.sql(query)


def _rows(tables: SparkTables, source: Source, day: date, template: str) -> list[tuple]:
    return [tuple(row) for row in _frame(tables, source, day, template).collect()]
