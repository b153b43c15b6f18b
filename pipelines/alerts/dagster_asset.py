"""The Dagster asset that sends a partition's notices once its discrepancies are materialized."""

from datetime import date
from pathlib import Path

import dagster as dg

from assets.cases import CASES
from assets.resources import Warehouse
from recon.alerts.config import load_config
from recon.alerts.run import run_alerts

DISCREPANCIES = dg.AssetKey(["marts", "discrepancies"])
NOTICES = dg.AssetKey(["alerts", "discrepancy_notices"])


def alerts_asset(
    partitions_def: dg.PartitionsDefinition, config_path: Path | None = None
) -> dg.AssetsDefinition:
    """`config_path` None: console only. The config is read at run time so a changed routing
    file takes effect without reloading the code location."""

    @dg.asset(
        key=NOTICES,
        # After the cases: a case acknowledged or resolved is not notified again.
        deps=[DISCREPANCIES, CASES],
        partitions_def=partitions_def,
        group_name="alerts",
        pool="duckdb",
        kinds={"duckdb"},
        description="New and resolved discrepancies of the partition, sent to on-call channels.",
    )
    def discrepancy_notices(
        context: dg.AssetExecutionContext, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        config = load_config(config_path)
        with warehouse.session() as con:
            run = run_alerts(con, day, config)
        context.log.info(run.describe())
        kept = len(run.failed) - len(run.rejected)
        if kept:
            # Not an asset failure: the notices stay in the outbox and the next run sends them.
            context.log.warning(f"{kept} notice(s) undelivered, kept pending")
        if run.rejected:
            context.log.warning(
                f"{len(run.rejected)} notice(s) rejected by their channel, not sent again: "
                + "; ".join(f"{d.channel} {d.notice_id}: {d.error}" for d in run.rejected[:5])
            )
        return dg.MaterializeResult(
            metadata={
                "new": len(run.new),
                "resolved": len(run.resolved),
                "escalated": len(run.escalated),
                "delivered": len(run.delivered),
                "failed": len(run.failed),
                "rejected": len(run.rejected),
                "pending": run.pending,
            }
        )

    return discrepancy_notices
