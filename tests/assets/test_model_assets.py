"""The `models` step: every stored model in one Dagster step, just the selected ones when a subset
is materialised, and the same rows whether the models share one open database (small partitions)
or each opens and closes it (large ones)."""

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets import model_assets
from pipelines.definitions import build_definitions
from pipelines.jobs import RECONCILE_JOB
from pipelines.local_run import run_partition
from recon.settings import ReconSettings
from testdata.synthetic import generate_landing

DAY = date(2026, 3, 10)
STORED_TABLES = ("intermediate.int_checkout_spine", "intermediate.int_payment_ledger")


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    generate_landing(root, DAY, checkouts=120, seed=5)
    return root


def _settings(root: Path, landing: Path) -> ReconSettings:
    return ReconSettings(
        landing_dir=landing, warehouse_path=root / "wh.duckdb", out_dir=str(root / "out")
    )


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory, landing) -> ReconSettings:
    """The day reconciled once with the models sharing one open database (a small partition)."""
    settings = _settings(tmp_path_factory.mktemp("shared"), landing)
    assert run_partition(settings, DAY).success
    return settings


def _rows(warehouse: Path, table: str) -> list[tuple]:
    """The table's rows but the run's ID, which names the run that wrote them."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"select columns(lambda c: c <> 'run_id') from {table} order by all"
        ).fetchall()


def test_selecting_some_models_builds_just_those(tmp_path, landing, reconciled):
    settings = _settings(tmp_path, landing)
    shutil.copy(reconciled.warehouse_path, settings.warehouse_path)
    before = {table: _rows(settings.warehouse_path, table) for table in STORED_TABLES}

    spine = dg.AssetKey(["intermediate", "int_checkout_spine"])
    ledger = dg.AssetKey(["intermediate", "int_payment_ledger"])
    job = build_definitions(settings).resolve_job_def(RECONCILE_JOB)
    result = job.execute_in_process(
        partition_key=DAY.isoformat(),
        asset_selection=[spine, ledger],
        instance=dg.DagsterInstance.ephemeral(),
    )

    built = [e.asset_key for e in result.get_asset_materialization_events()]
    assert built == [spine, ledger]  # in dependency order, nothing else
    checked = {(e.asset_key, e.check_name) for e in result.get_asset_check_evaluations()}
    assert {key for key, _ in checked} == {spine, ledger}
    # Rebuilt from the same files: the same rows.
    assert {table: _rows(settings.warehouse_path, table) for table in STORED_TABLES} == before


def test_models_give_the_same_rows_with_a_database_open_per_model(
    tmp_path, landing, reconciled, monkeypatch
):
    shared = reconciled
    monkeypatch.setattr(model_assets, "SHARED_INSTANCE_MAX_ROWS", 0)
    per_model = _settings(tmp_path / "per_model", landing)
    assert run_partition(per_model, DAY).success
    for table in (*STORED_TABLES, "marts.discrepancies", "marts.revenue_bridge"):
        assert _rows(per_model.warehouse_path, table) == _rows(shared.warehouse_path, table)


def test_a_model_that_fails_is_named_in_the_run_summary(tmp_path, landing, reconciled, monkeypatch):
    """The engine's own error (DuckDB out of memory, here) does not say which model it was
    building; the run's summary must, and the warehouse keeps the partition it had."""
    settings = _settings(tmp_path, landing)
    shutil.copy(reconciled.warehouse_path, settings.warehouse_path)
    before = _rows(settings.warehouse_path, "intermediate.int_payment_ledger")
    build = model_assets.materialize

    def out_of_memory_on_the_ledger(con, model, day, relations):
        if model.table == "intermediate.int_payment_ledger":
            raise duckdb.OutOfMemoryException("failed to allocate data of size 32.0 MiB")
        return build(con, model, day, relations)

    monkeypatch.setattr(model_assets, "materialize", out_of_memory_on_the_ledger)
    outcome = run_partition(settings, DAY)

    assert not outcome.success
    [error] = [e for e in outcome.errors if e.startswith("models:")]
    assert "intermediate.int_payment_ledger (int_payment_ledger.sql) failed" in error
    assert "OutOfMemoryException: failed to allocate" in error
    assert _rows(settings.warehouse_path, "intermediate.int_payment_ledger") == before
