"""The `cases/sync` asset: the daily job opens, clears and reopens cases by itself, after the
discrepancies and before the alerts, and records the log's head outside the warehouse."""

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.cases import CASES, cases_asset
from assets.resources import Warehouse
from pipelines.alerts.dagster_asset import NOTICES
from pipelines.definitions import build_definitions
from pipelines.jobs import RECONCILE_JOB
from pipelines.local_run import run_partition
from recon.cases.chain import verify
from recon.settings import ReconSettings
from testdata.synthetic import generate_landing
from tests.recon.cases.conftest import CHARGE, DAY, MISMATCH, open_shop

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-02-01")


def _materialize(path: Path, day: date = DAY) -> dict:
    result = dg.materialize(
        [cases_asset(PARTITIONS)],
        partition_key=day.isoformat(),
        resources={"warehouse": Warehouse(database=str(path))},
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("cases__sync")
    return {key: value.value for key, value in materialization.metadata.items()}


def _head(path: Path) -> tuple[int, str]:
    with duckdb.connect(str(path)) as con:
        report = verify(con)
    assert report.ok
    return report.events, report.head


def test_the_asset_syncs_its_partition_and_records_the_head(tmp_path):
    with open_shop(tmp_path / "warehouse.duckdb") as shop:
        shop.reconciled(DAY, CHARGE, MISMATCH)
    path = tmp_path / "warehouse.duckdb"

    first = _materialize(path)
    assert first == {
        "opened": 2,
        "cleared": 0,
        "reopened": 0,
        "amount_updated": 0,
        "unchanged": 0,
        "elsewhere": 0,
        "log_events": 2,
        "log_head": _head(path)[1],
    }

    again = _materialize(path)  # a rerun of the job on the same data
    assert (again["opened"], again["unchanged"]) == (0, 2)
    assert (again["log_events"], again["log_head"]) == (2, first["log_head"])

    with open_shop(path) as shop:
        shop.reconciled(DAY, CHARGE)  # late data made MISMATCH disappear
    cleared = _materialize(path)
    assert (cleared["cleared"], cleared["unchanged"], cleared["log_events"]) == (1, 1, 3)
    assert cleared["log_head"] == _head(path)[1]


def test_the_job_syncs_cases_after_the_discrepancies_and_before_the_alerts(tmp_path):
    settings = ReconSettings(landing_dir=tmp_path, warehouse_path=tmp_path / "wh.duckdb")
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    assert graph.get(CASES).parent_keys == {dg.AssetKey(["marts", "discrepancies"])}
    assert CASES in graph.get(NOTICES).parent_keys
    job = defs.resolve_job_def(RECONCILE_JOB)
    assert CASES in job.asset_layer.selected_asset_keys


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    generate_landing(root, date(2026, 3, 10), checkouts=60, seed=5)
    return root


def test_recon_run_opens_a_case_per_discrepancy_and_a_rerun_adds_nothing(tmp_path, landing):
    day = date(2026, 3, 10)
    settings = ReconSettings(
        landing_dir=landing, warehouse_path=tmp_path / "wh.duckdb", out_dir=str(tmp_path / "out")
    )
    assert run_partition(settings, day).success
    with duckdb.connect(str(settings.warehouse_path)) as con:
        found = con.execute(
            "select discrepancy_id from marts.discrepancies where _partition_date = ? "
            "except select case_id from cases.cases",
            [day],
        ).fetchall()
        [(cases,)] = con.execute("select count(*) from cases.cases").fetchall()
    assert found == [] and cases > 0
    events, head = _head(settings.warehouse_path)
    assert events == cases

    assert run_partition(settings, day).success
    assert _head(settings.warehouse_path) == (events, head)
