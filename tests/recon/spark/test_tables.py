"""The Spark engine's tables: a partition is replaced by INSERT OVERWRITE and nothing else is
touched; an empty result empties it; a new column set replaces the table; another process finds
the partitions on disk."""

from datetime import date

import duckdb
import pytest

from recon.spark.catalog import publish, require_readable
from recon.spark.tables import SparkTables

pytestmark = pytest.mark.slow

MONDAY, TUESDAY = date(2026, 3, 9), date(2026, 3, 10)


def _rows(spark, query: str):
    return spark.sql(query)


def _ids(tables: SparkTables, day: date) -> list:
    return sorted(r[0] for r in tables.read_partition("marts.things", day).collect())


def test_a_partition_is_replaced_and_the_other_dates_are_not_touched(spark, tmp_path):
    tables = SparkTables(spark, str(tmp_path / "spark"))
    tables.overwrite_partition("marts.things", _rows(spark, "select 1 as id"), MONDAY)
    tables.overwrite_partition(
        "marts.things", _rows(spark, "select 2 as id union all select 3"), TUESDAY
    )
    written = tables.overwrite_partition("marts.things", _rows(spark, "select 4 as id"), TUESDAY)
    assert written == 1
    assert _ids(tables, MONDAY) == [1]
    assert _ids(tables, TUESDAY) == [4]


def test_an_empty_result_empties_its_partition_and_duckdb_still_reads_the_table(spark, tmp_path):
    tables = SparkTables(spark, str(tmp_path / "spark"))
    tables.overwrite_partition("marts.things", _rows(spark, "select 1 as id"), MONDAY)
    tables.overwrite_partition("marts.things", _rows(spark, "select 5 as id"), TUESDAY)
    empty = _rows(spark, "select 5 as id where false")
    assert tables.overwrite_partition("marts.things", empty, TUESDAY) == 0
    assert _ids(tables, TUESDAY) == []
    with duckdb.connect(str(tmp_path / "catalog.duckdb")) as con:
        publish(con, tables, "marts.things")
        rows = con.execute("select _partition_date, id from marts.things").fetchall()
    assert rows == [(MONDAY, 1)]


def test_new_columns_replace_the_table_built_by_an_older_model(spark, tmp_path):
    tables = SparkTables(spark, str(tmp_path / "spark"))
    tables.overwrite_partition("marts.things", _rows(spark, "select 1 as id"), MONDAY)
    tables.overwrite_partition("marts.things", _rows(spark, "select 2 as id, 'x' as note"), TUESDAY)
    # Monday's rows came from the older model: they are gone, not padded with nulls.
    assert tables.read_partition("marts.things", MONDAY).count() == 0
    assert [tuple(r) for r in tables.read_partition("marts.things", TUESDAY).collect()] == [
        (2, "x")
    ]


def test_another_process_finds_the_partitions_on_disk(spark, tmp_path):
    root = str(tmp_path / "spark")
    SparkTables(spark, root).overwrite_partition(
        "marts.things", _rows(spark, "select 7 as id"), MONDAY
    )
    spark.sql("drop table if exists marts__things")  # what a new process's catalog knows
    fresh = SparkTables(spark, root)
    assert _ids(fresh, MONDAY) == [7]
    fresh.overwrite_partition("marts.things", _rows(spark, "select 8 as id"), TUESDAY)
    assert _ids(fresh, MONDAY) == [7] and _ids(fresh, TUESDAY) == [8]


def test_a_warehouse_duckdb_cannot_read_is_refused_before_spark_writes():
    tables = SparkTables(spark=None, root="s3://bucket/recon")  # nothing may reach Spark
    with pytest.raises(ValueError, match="RECON_SPARK_WAREHOUSE_DIR"):
        require_readable(tables)
