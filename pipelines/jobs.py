"""The daily reconciliation job and its schedule."""

import dagster as dg

RECONCILE_JOB = "reconcile_daily"


def reconcile_job():
    # In process: one writer at a time on the DuckDB file, and no per-step process start-up.
    return dg.define_asset_job(
        RECONCILE_JOB,
        selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor,
        description="Ingest, model and export one business date: the whole reconciliation.",
    )


def daily_schedule(job) -> dg.ScheduleDefinition:
    # Targets the previous day's partition, at 02:00 UTC when yesterday's exports have landed.
    return dg.build_schedule_from_partitioned_job(job, hour_of_day=2, minute_of_hour=0)
