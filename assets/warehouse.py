"""Opening the DuckDB warehouse and creating its landing tables from `sql/`."""

from pathlib import Path

import duckdb

import sql

RAW_DDL = (
    "schemas",
    "raw_orders",
    "raw_payments",
    "raw_inventory_moves",
    "raw_fulfillments",
    "raw_analytics_events",
    "quarantine",
    "ingested_files",
)


def connect(path: Path | str, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    config = {"memory_limit": memory_limit} if memory_limit else {}
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), config=config)
    configure_session(con)
    return con


def configure_session(con: duckdb.DuckDBPyConnection) -> None:
    """Everything is UTC (DESIGN.md): naive timestamps read from files are taken as UTC too.

    TimeZone needs the icu extension, which ships inside the duckdb wheel (no download)."""
    con.execute("load icu")
    con.execute("set TimeZone = 'UTC'")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for name in RAW_DDL:
        con.execute(sql.ddl(name))
