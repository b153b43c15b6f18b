"""The Spark engine's tests: one local Spark session per test process (starting a JVM costs
seconds), and helpers comparing what the two engines wrote."""

import os
import shutil
from pathlib import Path

import duckdb
import pytest

VOLATILE = {"_loaded_at", "first_seen_at", "exported_at", "generated_at", "run_id"}

# Every JVM these tests start (the local session, a standalone master, worker and driver) runs
# a few seconds of small jobs, where the JIT's optimising compiler costs more CPU than it saves:
# C1 alone took 13 % less CPU for a whole small day on Spark. Their heaps are small, and G1's
# concurrent threads compete for the same two cores: the serial collector took the Spark/DuckDB
# comparison from 176-178 s to 153-164 s alone. The suite shares two cores between three
# workers, so CPU is its time. Only the tests' JVMs: the engine's own settings are untouched.
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")


def require_java() -> None:
    """Skip without Java, except in CI (`CI=true`), where `make test` installs it."""
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    message = "the Spark engine needs Java (a JRE 17); `make test` installs Debian's"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: the Spark tests must run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def spark():
    require_java()
    from recon.spark.session import spark_session

    return spark_session("local[2]")


def columns(con: duckdb.DuckDBPyConnection, relation: str, drop: set[str]) -> str:
    names = [r[0] for r in con.execute(f"describe {relation}").fetchall()]
    return ", ".join(f'"{n}"' for n in names if n not in drop)


def differences(con: duckdb.DuckDBPyConnection, left: str, right: str, drop: set[str]) -> list:
    """Rows of either relation the other lacks (as multisets), ignoring columns `drop`."""
    cols = columns(con, left, drop)
    assert cols == columns(con, right, drop), f"{left} and {right} have different columns"
    missing = con.execute(
        f"select 'only in {left}', * from (select {cols} from {left} "
        f"except all select {cols} from {right}) limit 5"
    ).fetchall()
    extra = con.execute(
        f"select 'only in {right}', * from (select {cols} from {right} "
        f"except all select {cols} from {left}) limit 5"
    ).fetchall()
    return missing + extra


def stored_tables(warehouse: Path) -> list[str]:
    """The model tables of a DuckDB-engine warehouse."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where schema_name in ('staging', 'intermediate', 'marts') order by 1"
        ).fetchall()
    return [r[0] for r in rows]


def key_columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    """Surrogate keys: 128-bit integers on DuckDB, the ID itself on Spark (by design)."""
    return {r[0] for r in con.execute(f"describe {relation}").fetchall() if r[0].endswith("_key")}
