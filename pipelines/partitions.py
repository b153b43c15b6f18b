"""Daily partitions by business date (UTC)."""

import dagster as dg

from recon.settings import ReconSettings


def daily_partitions(settings: ReconSettings) -> dg.DailyPartitionsDefinition:
    # The last partition is yesterday: a day is reconciled once it has ended.
    return dg.DailyPartitionsDefinition(
        start_date=settings.partitions_start.isoformat(), timezone="UTC"
    )
