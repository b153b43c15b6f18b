"""The Spark engine end to end: the same landing day reconciled on Spark and on DuckDB gives the
same discrepancies (IDs, types, amounts, details), the same quarantine, the same rows in every
model table and the same report figures."""

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from checkout_service.db import DatabaseSettings
from checks import invariants
from checks.invariants import MODEL_CHECKS
from dbt_like_models import MODELS_DIR
from pipelines.local_run import run_partition
from pipelines.resources import build_resources
from recon.contract import ORDERS
from recon.settings import ReconSettings
from recon.spark import ingest as spark_ingest
from recon.spark.models import SparkRelations
from recon.sql_models import discover, project_relations
from recon.warehouse import claim, configure_session, connect
from testdata.settlement import REFERENCE_FEE_SCHEDULE
from testdata.simulator import simulate
from testdata.synthetic import generate_landing
from tests.recon.spark.conftest import VOLATILE, differences, key_columns, stored_tables

pytestmark = pytest.mark.slow

DAY = date(2026, 3, 10)


def _settings(root: Path, landing: Path, engine: str) -> ReconSettings:
    return ReconSettings(
        landing_dir=landing,
        warehouse_path=root / engine / "wh.duckdb",
        out_dir=str(root / engine / "out"),
        engine=engine,
        spark_master="local[2]",
        fee_schedule=REFERENCE_FEE_SCHEDULE,
    )


def _reconcile_on_both(root: Path, landing: Path):
    duck = _settings(root, landing, "duckdb")
    spark = _settings(root, landing, "spark")
    on_duckdb = run_partition(duck, DAY)
    on_spark = run_partition(spark, DAY)
    assert on_duckdb.success, on_duckdb.report()
    assert on_spark.success, on_spark.report()
    return duck, spark, on_duckdb, on_spark


def _assert_same_results(duck: ReconSettings, spark: ReconSettings, on_duckdb, on_spark) -> None:
    assert on_spark.rows == on_duckdb.rows  # the summary: count and amount per type
    assert on_spark.quarantined == on_duckdb.quarantined
    assert [c[:3] for c in on_spark.checks] == [c[:3] for c in on_duckdb.checks]
    con = duckdb.connect()
    con.execute(f"attach '{duck.warehouse_path}' as d (read_only)")
    con.execute(f"attach '{spark.warehouse_path}' as s (read_only)")
    tables = stored_tables(duck.warehouse_path)
    assert "marts.discrepancies" in tables
    for table in tables:
        keys = key_columns(con, f"d.{table}")
        assert differences(con, f"d.{table}", f"s.{table}", keys | VOLATILE) == [], table
    # Spark reads no file in place, so the ledger has no fingerprints to compare.
    in_place = {"read_in_place", "file_bytes", "file_mtime_ns"}
    for table in ("raw.quarantine", "meta.ingested_files"):
        assert differences(con, f"d.{table}", f"s.{table}", VOLATILE | in_place) == [], table
    # Exports and the reports' figures, file by file.
    out_d, out_s = duck.out_for(DAY), spark.out_for(DAY)
    exported = sorted(p.relative_to(out_d) for p in out_d.rglob("*.parquet"))
    assert exported == sorted(p.relative_to(out_s) for p in out_s.rglob("*.parquet"))
    for path in exported:
        left, right = pq.read_table(out_d / path), pq.read_table(out_s / path)
        con.register("left_rows", left)
        con.register("right_rows", right)
        assert differences(con, "left_rows", "right_rows", VOLATILE) == [], path


def test_a_day_is_the_same_on_spark_and_a_reload_replaces_it(spark, tmp_path):
    """One day holding both generators' checkouts (in files of their own): the synthetic
    generator's bad rows and every discrepancy type, and the simulator's chaos profile, which
    makes them the way the reference service does. One day, not two: on a small day nearly all
    of a Spark run's time is its fixed cost (a few jobs per model), not the rows."""
    landing = tmp_path / "landing"
    generate_landing(landing, DAY, checkouts=300, seed=11)
    simulate(landing, DAY, 60, seed=5, profile="chaos", data_dir=tmp_path / "services")
    duck, spark_settings, on_duckdb, on_spark = _reconcile_on_both(tmp_path, landing)
    assert on_spark.quarantined > 0  # the synthetic day's bad rows are quarantined on Spark too
    _assert_same_results(duck, spark_settings, on_duckdb, on_spark)
    _assert_invariants_say_the_same(duck, spark_settings)
    _assert_a_reload_replaces_the_partition(landing, spark_settings)


def _assert_invariants_say_the_same(duck: ReconSettings, spark: ReconSettings) -> None:
    """The models' invariants, run by Spark on its tables, find what DuckDB's find (figures
    included, not only the verdict), and fail on Spark when a record goes missing."""
    relations = SparkRelations(
        _tables(spark), discover(MODELS_DIR), DAY, build_resources(spark)["recon"].run_params
    )
    with duckdb.connect(str(duck.warehouse_path)) as con:
        configure_session(con)
        on_duckdb = project_relations(con, DAY)
        for table, checks in MODEL_CHECKS.items():
            for _, evaluate in checks:
                key = dg.AssetKey(table.split("."))
                expected = evaluate(on_duckdb, key, DAY)
                found = evaluate(relations, key, DAY)
                assert (found.passed, found.metadata) == (expected.passed, expected.metadata)
        totals = invariants._independent_totals(on_duckdb, DAY)
    assert totals and invariants._independent_totals(relations, DAY) == totals

    spine = "intermediate.int_checkout_spine"
    rows = relations.tables.read_partition(spine, DAY)
    lost = rows.first()["checkout_key"]
    # Checkpointed: the partition is rewritten from rows already read, not from its own files.
    relations.tables.overwrite_partition(
        spine, rows.where(rows.checkout_key != lost).localCheckpoint(), DAY
    )
    relations.refresh(spine)
    traced = invariants.checkouts_traced(relations, dg.AssetKey(spine.split(".")), DAY)
    assert not traced.passed
    assert traced.metadata["spine_records"].value < traced.metadata["staged_records"].value


def _tables(settings: ReconSettings):
    return build_resources(settings)["engine"].spark_tables()


def _assert_a_reload_replaces_the_partition(landing: Path, spark_settings: ReconSettings) -> None:
    # Orders ingested again after one export was withdrawn: the partition is replaced, the
    # ledger too; nothing of the withdrawn file is left, and nothing is doubled.
    withdrawn = sorted((landing / "orders" / DAY.isoformat()).iterdir())[0]
    withdrawn.unlink()
    with duckdb.connect(str(spark_settings.warehouse_path)) as con:
        configure_session(con)
        report = spark_ingest.ingest_source(
            _tables(spark_settings), con, ORDERS, landing, DAY, spark_settings.lookback_days
        )
        files = {
            f
            for (f,) in con.execute(
                "select _source_file from meta.ingested_files where source = 'orders'"
            ).fetchall()
        }
        [(rows, distinct, from_withdrawn)] = con.execute(
            "select count(*), count(distinct (_source_file, _line)), "
            "count(*) filter (where _source_file = ?) from raw.orders",
            [str(withdrawn)],
        ).fetchall()
    assert str(withdrawn) not in files and from_withdrawn == 0
    assert rows == distinct == report.rows_loaded


def _contract_rows(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = ", ".join(ORDERS.column_names)
        return con.execute(f"select {names} from raw.orders order by all").fetchall()


def test_orders_read_from_the_service_database_on_spark_are_the_landing_files_rows(spark, tmp_path):
    landing = tmp_path / "landing"
    simulate(landing, DAY, 40, seed=7, profile="chaos", data_dir=tmp_path / "services")
    from_files = _settings(tmp_path / "files", landing, "spark")
    from_database = _settings(tmp_path / "database", landing, "spark")
    for settings, services in (
        (from_files, None),
        (from_database, DatabaseSettings(data_dir=tmp_path / "services")),
    ):
        with connect(settings.warehouse_path) as con:
            claim(con, "spark")
            spark_ingest.ingest_source(
                _tables(settings), con, ORDERS, landing, DAY, 3, services=services
            )
    assert _contract_rows(from_database.warehouse_path) == _contract_rows(from_files.warehouse_path)
