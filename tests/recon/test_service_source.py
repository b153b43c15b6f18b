"""The second source mode: the pipeline reads the reference service's databases directly and finds
exactly what it finds in the landing files exported from them."""

import shutil
from datetime import date

import duckdb
import polars as pl
import pytest

from checkout_service.db import DatabaseSettings
from pipelines.local_run import run_partition
from recon.contract import SOURCES
from recon.ingest import ingest_source
from recon.reconcile import discrepancies, reconcile_partition
from recon.run_params import RunParams
from recon.service_source import ServiceDatabaseError
from recon.settings import ReconSettings
from testdata.settlement import REFERENCE_FEE_SCHEDULE
from testdata.simulator import simulate

DAY = date(2026, 3, 10)
SETTLED = RunParams(fee_schedule=REFERENCE_FEE_SCHEDULE)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A realistic simulated day: its landing export, and the service databases kept."""
    root = tmp_path_factory.mktemp("simulated")
    summary = simulate(
        root / "landing", DAY, 60, seed=11, profile="chaos", data_dir=root / "services"
    )
    assert summary.ground_truth, "the chaos profile injects anomalies"
    return root


def reconciled(landing, services=None) -> tuple[list[dict], dict[str, tuple[int, int]]]:
    con = duckdb.connect()
    try:
        reports = reconcile_partition(con, landing, DAY, SETTLED, services=services)
        counts = {n: (r.rows_loaded, r.rows_quarantined) for n, r in reports.items()}
        return discrepancies(con, DAY), counts
    finally:
        con.close()


def test_reading_the_service_databases_finds_what_the_landing_files_do(simulated, tmp_path):
    # Only the browsers' events and the provider's reports stay landing files in services mode.
    events_only = tmp_path / "landing"
    for source in ("analytics_events", "settlements", "payouts"):
        shutil.copytree(simulated / "landing" / source, events_only / source)

    from_files, file_counts = reconciled(simulated / "landing")
    from_databases, db_counts = reconciled(
        events_only, DatabaseSettings(data_dir=simulated / "services")
    )

    assert from_databases == from_files
    assert db_counts == file_counts
    truth = pl.read_parquet(simulated / "landing" / "_ground_truth.parquet")
    assert {(d["checkout_id"] or d["subject_id"], d["type"]) for d in from_databases} == set(
        truth.select(pl.coalesce("checkout_id", "subject_id"), "type").iter_rows()
    )


def test_the_dagster_job_reads_the_service_databases_in_services_mode(simulated, tmp_path):
    settings = ReconSettings(
        landing_dir=simulated / "landing",
        warehouse_path=tmp_path / "warehouse.duckdb",
        out_dir=str(tmp_path / "out"),
        source_mode="services",
        services_data_dir=simulated / "services",
        fee_schedule=REFERENCE_FEE_SCHEDULE,
    )
    outcome = run_partition(settings, DAY)
    assert outcome.success
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        files = con.execute(
            "select distinct source, _source_file from meta.ingested_files "
            "where _partition_date = ?",
            [DAY],
        ).fetchall()
    finally:
        con.close()
    by_source = {source: file for source, file in files}
    assert by_source["payments"].startswith("sqlite:///")
    assert "payment.sqlite3#payments@" in by_source["payments"]
    assert by_source["analytics_events"].endswith(".jsonl")
    # As many as the landing files give (the first test proves they are the same rows).
    from_files, _ = reconciled(simulated / "landing")
    assert sum(n for _, _, n, _ in outcome.rows) == len(from_files)
    assert outcome.quarantined == 0
    # Blocking checks pass; the unsafe clients' fresh keys only warn (idempotency_keys).
    assert [c for c in outcome.checks if not c[1] and c[2] != "WARN"] == []


def test_a_missing_service_database_fails_the_source_and_keeps_the_warehouse(simulated, tmp_path):
    con = duckdb.connect()
    try:
        payments = SOURCES["payments"]
        ingest_source(con, payments, simulated / "landing", DAY, 3)
        before = con.execute(f"select count(*) from {payments.table}").fetchall()
        missing = DatabaseSettings(data_dir=tmp_path / "nowhere")
        with pytest.raises(ServiceDatabaseError, match="no payment service database at"):
            ingest_source(con, payments, simulated / "landing", DAY, 3, services=missing)
        assert con.execute(f"select count(*) from {payments.table}").fetchall() == before
        assert not (tmp_path / "nowhere").exists()
    finally:
        con.close()
