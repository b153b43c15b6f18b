"""The cases as a Dagster asset: after each partition's reconciliation, open, clear and reopen the
cases of its discrepancies (`recon.cases.sync`), so nobody has to remember `recon cases sync`."""

from datetime import UTC, date, datetime

import dagster as dg

from assets.resources import Warehouse
from recon.cases.events import head
from recon.cases.sync import sync

DISCREPANCIES = dg.AssetKey(["marts", "discrepancies"])
CASES = dg.AssetKey(["cases", "sync"])


def cases_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=CASES,
        deps=[DISCREPANCIES],
        partitions_def=partitions_def,
        group_name="cases",
        pool="duckdb",
        kinds={"duckdb"},
        description="One case per discrepancy of the partition: new ones opened, gone ones "
        "cleared, returned ones reopened, in the hash-chained log cases.events.",
    )
    def cases_sync(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        # A database of its own: the sync chains its events' hashes in Python, a partition's
        # worth of rows on a first sync (1.7M at 10M checkouts), and the run's database would
        # keep the models' pages in memory beside them (3.7 GiB instead of 2.8 at that size).
        with warehouse.reopening_each_session(), warehouse.session() as con:
            result = sync(con, day, datetime.now(UTC))
            events, head_hash = head(con)
        context.log.info(result.describe())
        return dg.MaterializeResult(
            metadata={
                "opened": result.opened,
                "cleared": result.cleared,
                "reopened": result.reopened,
                "amount_updated": result.amount_updated,
                "unchanged": result.unchanged,
                "elsewhere": result.elsewhere,
                # The run log is outside the warehouse: the place `recon cases verify --head`
                # needs a head recorded in, to notice the newest events being deleted.
                "log_events": events,
                "log_head": head_hash,
            }
        )

    return cases_sync
