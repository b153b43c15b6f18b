"""Opening the DuckDB warehouse, creating its landing tables from `sql/`, and writing to it in
transactions."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

import sql


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """The block's writes as one transaction: committed when it ends, rolled back when anything
    in it fails (an interrupt included), so that a failed load leaves the warehouse as it was."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    # Outside the try: a commit that fails (a write-write conflict) has ended the transaction
    # itself, and a rollback then would raise "no transaction is active" over the real error.
    con.execute("commit")


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, **tables: pa.Table) -> Iterator[None]:
    """Arrow tables visible to SQL by name for the block. Registering writes nothing to the
    warehouse, so a dry run can plan with them too."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield
    finally:
        # A failed insert aborts the transaction, and then unregistering fails too: that error
        # would hide the one that matters (the next register replaces the name).
        for name in tables:
            with suppress(duckdb.Error):
                con.unregister(name)


def has_tables(con: duckdb.DuckDBPyConnection, *tables: str, views: bool = True) -> bool:
    """Whether every one of `tables` (`schema.table`) exists in the connection's own database
    (not an attached one), as a table or, with `views`, a view: on the Spark engine the models'
    tables are views of its files. Looked up rather than tried: a failed query inside a
    transaction would abort it. The names are written into the query as literals: a lookup
    with them as parameters, or of every name, takes twice as long, and it runs in every
    session (`engine_of`)."""
    wanted = set(tables)
    pairs = [name.split(".", 1) for name in sorted(wanted)]

    def lookup(catalog: str, column: str) -> str:
        match = " or ".join(
            f"(schema_name = {_quoted(schema)} and {column} = {_quoted(name)})"
            for schema, name in pairs
        )
        return (
            f"select schema_name || '.' || {column} from {catalog} "
            f"where database_name = current_database() and ({match})"
        )

    query = lookup("duckdb_tables()", "table_name")
    if views:
        query += " union all " + lookup("duckdb_views()", "view_name")
    return wanted <= {name for (name,) in con.execute(query).fetchall()}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_reconciled(con: duckdb.DuckDBPyConnection, day: date) -> bool:
    """Whether a run has built `day`'s partition here: acting on one never built (planning its
    alerts, syncing its cases) would take its empty findings for resolved ones."""
    # Every result is read to its end (fetchall): the connection then takes the next query.
    return has_tables(con, "marts.discrepancies", "meta.run_params") and con.execute(
        "select count(*) from meta.run_params where _partition_date = ?", [day]
    ).fetchall() != [(0,)]


RAW_DDL = (
    "schemas",
    "raw_orders",
    "raw_payments",
    "raw_inventory_moves",
    "raw_fulfillments",
    "raw_analytics_events",
    "raw_settlements",
    "raw_payouts",
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


# The models group and join by `surrogate_key(<text ID>)`, a 128-bit integer, instead of the text:
# at 10M checkouts grouping by the text cost 2.5 times as much. Two independent 64-bit hashes (of
# the ID, and of the ID with a character appended; a hash of two values would be a function of the
# first), so two IDs of one partition share a key with a probability near 10^-25. Null stays null.
SURROGATE_KEY_MACRO = """
create or replace temp macro surrogate_key(id) as
    case when id is null then null
    else (hash(id)::uhugeint << 64) | hash(id || '~')::uhugeint end
"""
# `key_hash(surrogate_key(id)) = hash(id)`: the first of the key's two hashes. A fingerprint can
# then sum `hash(id)` over IDs and `key_hash(key)` over keys and compare the two, without packing
# every ID into a key again (`checkouts_traced` at 10M checkouts, 99M IDs: 5.8-6.2 s against
# 7.4-9.3 s).
KEY_HASH_MACRO = "create or replace temp macro key_hash(key) as (key >> 64)::ubigint"


# On a warehouse the Spark engine builds, the key is the ID itself (Spark has no 128-bit integer;
# see `recon.spark.dialect`): DuckDB's own queries over Spark's tables (checks, ephemeral models)
# must key the same way to join them.
TEXT_KEY_MACRO = "create or replace temp macro surrogate_key(id) as id"
TEXT_KEY_HASH_MACRO = "create or replace temp macro key_hash(key) as hash(key)"

ENGINES = ("duckdb", "spark")
ENGINE_TABLE = "meta.engine"


class EngineMismatch(RuntimeError):
    """The warehouse was built by the other engine."""


def engine_of(con: duckdb.DuckDBPyConnection) -> str:
    """The engine that builds the warehouse: `duckdb` unless the Spark engine claimed it."""
    if not has_tables(con, ENGINE_TABLE, views=False):
        return "duckdb"
    rows = con.execute(f"select engine from {ENGINE_TABLE}").fetchall()
    return rows[0][0] if rows else "duckdb"


def claim(con: duckdb.DuckDBPyConnection, engine: str) -> None:
    """Record which engine builds this warehouse, and refuse the other one: their key columns
    differ (128-bit integers on DuckDB, text on Spark), so a mix would join nothing."""
    owner = engine_of(con)
    if owner == engine:
        return
    if engine == "duckdb" or _has_model_tables(con):
        raise EngineMismatch(
            f"this warehouse was built by the {owner} engine and cannot be reconciled with the "
            f"{engine} engine (their tables differ); give the {engine} engine a warehouse of "
            "its own (--warehouse or RECON_WAREHOUSE_PATH)"
        )
    con.execute("create schema if not exists meta")
    con.execute(f"create or replace table {ENGINE_TABLE} as select ? as engine", [engine])
    configure_keys(con)


def _has_model_tables(con: duckdb.DuckDBPyConnection) -> bool:
    [(count,)] = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and (schema_name in ('staging', 'intermediate', 'marts') "
        "or (schema_name = 'raw' and table_name <> 'quarantine'))"
    ).fetchall()
    return count > 0


def configure_keys(con: duckdb.DuckDBPyConnection) -> None:
    """`surrogate_key` and `key_hash` as the engine that built the warehouse keys its tables."""
    spark = engine_of(con) == "spark"
    con.execute(TEXT_KEY_MACRO if spark else SURROGATE_KEY_MACRO)
    con.execute(TEXT_KEY_HASH_MACRO if spark else KEY_HASH_MACRO)


def configure_session(con: duckdb.DuckDBPyConnection) -> None:
    """Everything is UTC: naive timestamps read from files are taken as UTC too. And the macros
    the models use (`surrogate_key`).

    TimeZone needs the icu extension, which ships inside the duckdb wheel (no download)."""
    con.execute("load icu")
    con.execute("set TimeZone = 'UTC'")
    configure_keys(con)


def ensure_schema(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...] = RAW_DDL) -> None:
    """Create `tables` (names of `sql/*.sql` DDL files) where missing: the DuckDB engine's landing
    tables by default."""
    for name in tables:
        con.execute(sql.ddl(name))


def create_without_keys(
    con: duckdb.DuckDBPyConnection, ddl: str, schema: str, unkeyed: tuple[str, ...]
) -> None:
    """Run a schema's `create ... if not exists` DDL, first moving aside any of its `unkeyed`
    tables that an earlier version created with a primary key (DuckDB cannot drop a constraint)
    and copying their rows into the table the DDL creates now. One transaction."""
    keyed = [
        table
        for (table,) in con.execute(
            "select table_name from duckdb_constraints() where database_name = current_database() "
            "and schema_name = $schema and constraint_type = 'PRIMARY KEY' "
            "and list_contains($tables, table_name)",
            {"schema": schema, "tables": list(unkeyed)},
        ).fetchall()
    ]
    if not keyed:
        con.execute(ddl)
        return
    with transaction(con):
        for table in keyed:
            con.execute(f"alter table {schema}.{table} rename to {table}__keyed")
        con.execute(ddl)
        for table in keyed:
            old = f"{schema}.{table}__keyed"
            con.execute(f"insert into {schema}.{table} by name select * from {old}")
            con.execute(f"drop table {old}")
