"""A warehouse belongs to the engine that built it: the other engine is refused with what to do,
and DuckDB's own queries key rows as the owning engine does. Writes are all or nothing."""

import duckdb
import pytest

from recon.warehouse import (
    EngineMismatch,
    claim,
    configure_session,
    create_without_keys,
    engine_of,
    has_tables,
    transaction,
)


def _surrogate_type(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select typeof(surrogate_key('chk_1'))").fetchone()[0]


def test_a_new_warehouse_is_duckdb_and_keys_by_128_bit_integers(tmp_path):
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        configure_session(con)
        assert engine_of(con) == "duckdb"
        claim(con, "duckdb")
        assert _surrogate_type(con) == "UHUGEINT"


def test_a_spark_warehouse_keys_by_the_id_in_every_later_session(tmp_path):
    path = str(tmp_path / "wh.duckdb")
    with duckdb.connect(path) as con:
        configure_session(con)
        claim(con, "spark")
        assert _surrogate_type(con) == "VARCHAR"
    with duckdb.connect(path) as con:
        configure_session(con)
        assert engine_of(con) == "spark"
        assert _surrogate_type(con) == "VARCHAR"


def test_the_other_engine_is_refused_with_what_to_do(tmp_path):
    spark_built = str(tmp_path / "spark.duckdb")
    with duckdb.connect(spark_built) as con:
        configure_session(con)
        claim(con, "spark")
        with pytest.raises(EngineMismatch, match=r"built by the spark engine.*--warehouse"):
            claim(con, "duckdb")
    duckdb_built = str(tmp_path / "duckdb.duckdb")
    with duckdb.connect(duckdb_built) as con:
        configure_session(con)
        con.execute("create schema marts")
        con.execute("create table marts.discrepancies (id varchar)")
        with pytest.raises(EngineMismatch, match="built by the duckdb engine"):
            claim(con, "spark")


def test_looking_up_the_engine_inside_a_transaction_does_not_abort_it(tmp_path):
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        con.execute("create table t (x int)")
        con.execute("begin transaction")
        con.execute("insert into t values (1)")
        configure_session(con)  # looks up meta.engine, which does not exist
        con.execute("insert into t values (2)")
        con.execute("commit")
        assert con.execute("select count(*) from t").fetchone()[0] == 2


def test_a_transaction_keeps_every_write_or_none(tmp_path):
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        con.execute("create table t (n int)")
        with transaction(con):
            con.execute("insert into t values (1)")
        with pytest.raises(KeyboardInterrupt), transaction(con):
            con.execute("delete from t")
            con.execute("insert into t values (2)")
            raise KeyboardInterrupt  # an interrupted load, not only a failed query
        assert con.execute("select n from t").fetchall() == [(1,)]


def test_a_commit_that_conflicts_raises_the_conflict_and_keeps_the_other_write(tmp_path):
    """Two writers insert the same key; the second commit fails. The caller must see that
    conflict (to retry), not a failed rollback of a transaction the commit already ended."""
    first = duckdb.connect(str(tmp_path / "w.duckdb"))
    first.execute("create table t (id integer primary key, v varchar)")
    other = first.cursor()
    other.execute("begin transaction")
    other.execute("insert into t values (2, 'other')")
    with pytest.raises(duckdb.TransactionException, match="duplicate key"), transaction(first):
        first.execute("insert into t values (2, 'mine')")
        other.execute("commit")
    assert first.execute("select v from t").fetchall() == [("other",)]
    first.execute("insert into t values (3, 'next')")  # no transaction left open


KEYLESS_DDL = """
create schema if not exists s;
create table if not exists s.state (id varchar not null, n integer not null check (n > 0));
"""


def test_a_table_an_earlier_version_keyed_is_rebuilt_without_its_key_keeping_its_rows(tmp_path):
    path = str(tmp_path / "wh.duckdb")
    with duckdb.connect(path) as con:
        con.execute("create schema s")
        con.execute("create table s.state (id varchar primary key, n integer not null)")
        con.execute("insert into s.state values ('a', 1), ('b', 2)")
    with duckdb.connect(path) as con:
        create_without_keys(con, KEYLESS_DDL, "s", ("state",))
        create_without_keys(con, KEYLESS_DDL, "s", ("state",))  # once is enough

        assert con.execute("select * from s.state order by id").fetchall() == [("a", 1), ("b", 2)]
        kinds = con.execute(
            "select constraint_type from duckdb_constraints() where table_name = 'state'"
        ).fetchall()
        assert ("PRIMARY KEY",) not in kinds and ("CHECK",) in kinds  # the DDL's table now
        assert [t for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()] == [
            "state"
        ]


def test_has_tables_sees_the_own_database_views_included_unless_asked_not_to(tmp_path):
    """What every "has this warehouse been reconciled" test asks: a table of an attached
    database is not the warehouse's, and the Spark engine's marts are views."""
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.discrepancies (discrepancy_id varchar)")
        con.execute("create view marts.finance_daily as select 1 as x")
        con.execute(f"attach '{tmp_path / 'other.duckdb'}' as other")
        con.execute("create schema other.meta")
        con.execute("create table other.meta.run_params (x integer)")

        assert has_tables(con, "marts.discrepancies")
        assert has_tables(con, "marts.discrepancies", "marts.finance_daily")
        assert not has_tables(con, "marts.finance_daily", views=False)
        assert not has_tables(con, "marts.discrepancies", "meta.run_params")
        assert not has_tables(con, "meta.run_params")
        assert not has_tables(con, "marts.it's")  # quoted, not a syntax error
