"""The asset the lead wires into the definitions sends a partition's notices."""

import dagster as dg

from assets.resources import Warehouse
from pipelines.alerts.dagster_asset import alerts_asset
from tests.recon.alerts.conftest import DAY


def test_the_asset_runs_the_alerts_of_its_partition(shop, tmp_path):
    (tmp_path / "alerts.yaml").write_text(
        f"""
channels:
  - {{name: audit, type: jsonl, options: {{path: "{tmp_path / "audit.jsonl"}"}}}}
rules:
  - {{channels: [audit], severities: [critical], mode: each}}
"""
    )
    database = str(tmp_path / "warehouse.duckdb")
    shop.con.close()  # the asset opens the file itself
    asset = alerts_asset(
        dg.DailyPartitionsDefinition(start_date="2026-02-01"), tmp_path / "alerts.yaml"
    )

    result = dg.materialize(
        [asset],
        partition_key=DAY.isoformat(),
        resources={"warehouse": Warehouse(database=database)},
    )

    assert result.success
    [materialization] = result.asset_materializations_for_node("alerts__discrepancy_notices")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata == {
        "new": 3,
        "resolved": 0,
        "escalated": 0,
        "delivered": 1,
        "failed": 0,
        "rejected": 0,
        "pending": 0,
    }
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == 1
