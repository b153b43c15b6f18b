"""Every Dagster definition of the project, assembled in one place (loaded by workspace.yaml)."""

import dagster as dg

from assets.cases import cases_asset
from assets.exports import export_assets
from assets.ingestion_assets import ingestion_assets
from assets.model_assets import model_assets
from assets.report_assets import report_assets
from pipelines.alerts.dagster_asset import alerts_asset
from pipelines.jobs import daily_schedule, reconcile_job
from pipelines.partitions import daily_partitions
from pipelines.resources import build_resources
from pipelines.sensors import new_landing_files_sensor
from recon.settings import ReconSettings


def build_definitions(settings: ReconSettings | None = None) -> dg.Definitions:
    settings = settings or ReconSettings()
    partitions = daily_partitions(settings)
    job = reconcile_job()
    return dg.Definitions(
        assets=[
            *ingestion_assets(partitions),
            *model_assets(partitions),
            *export_assets(partitions),
            *report_assets(partitions),
            cases_asset(partitions),
            alerts_asset(partitions, settings.alerts_config),
        ],
        jobs=[job],
        schedules=[daily_schedule(job)],
        sensors=[
            new_landing_files_sensor(partitions, settings.landing_dir, settings.lookback_days)
        ],
        resources=build_resources(settings),
        executor=dg.in_process_executor,
    )


defs = build_definitions()
