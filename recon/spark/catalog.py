"""The DuckDB warehouse as the Spark engine's catalog.

The Spark engine keeps its tables as Parquet folders (`tables.SparkTables`); the DuckDB file keeps
what is small and transactional (the ingestion ledger, the quarantine, run parameters, alert
state) and a view per Spark table, so that checks, exports, reports and alerts read the Spark
engine's results with the same SQL as DuckDB's own tables. A warehouse belongs to one engine
(`warehouse.claim`)."""

from pathlib import Path

import duckdb

from recon.raw_rows import literal
from recon.spark.tables import PARTITION, SparkTables, local_path

# What the Spark engine's catalog holds as DuckDB tables (`warehouse.ensure_schema`): the raw
# tables are Spark's.
CATALOG_DDL = ("schemas", "quarantine", "ingested_files")


def require_readable(tables: SparkTables) -> None:
    """Fail before Spark writes anything when DuckDB could not read what it writes."""
    if local_path(tables.root) is None:
        # DuckDB reads folders on a local or mounted file system only (httpfs cannot be had).
        raise ValueError(
            f"the Spark warehouse {tables.root} is not a local or mounted path: the checks, "
            "exports and reports read Spark's tables from there; set RECON_SPARK_WAREHOUSE_DIR "
            "to a folder this machine and the executors share"
        )


def publish(con: duckdb.DuckDBPyConnection, tables: SparkTables, qualified: str) -> None:
    """The DuckDB view of a Spark table: its Parquet folder, the partition column first as in
    DuckDB's own tables."""
    require_readable(tables)
    schema, _ = qualified.split(".")
    folder = Path(tables.path(qualified))
    pattern = literal(f"{folder}/{PARTITION}=*/*.parquet")
    con.execute(f"create schema if not exists {schema}")
    con.execute(
        f"create or replace view {qualified} as "
        f"select {PARTITION}, * exclude ({PARTITION}) from read_parquet({pattern}, "
        f"hive_partitioning = true, hive_types = {{'{PARTITION}': date}})"
    )
