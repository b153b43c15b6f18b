"""A sensor that reconciles again whenever landing files appear or change for a date."""

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from pipelines.jobs import RECONCILE_JOB
from recon.contract import SOURCES
from recon.landing import landing_dates


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def affected_partitions(changed: date, lookback_days: int) -> list[date]:
    """A file for `changed` is read by every partition whose window includes that day."""
    return [changed + timedelta(days=k) for k in range(-lookback_days, lookback_days + 1)]


def new_landing_files_sensor(
    partitions_def: dg.DailyPartitionsDefinition, landing_dir: Path, lookback_days: int
) -> dg.SensorDefinition:
    @dg.sensor(
        name="new_landing_files",
        job_name=RECONCILE_JOB,
        minimum_interval_seconds=60,
        description=(
            "Requests a reconciliation of each business date whose window gained or changed "
            "landing files since the last tick."
        ),
    )
    def new_landing_files(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        current = {
            day.isoformat(): _fingerprint(files)
            for day, files in landing_dates(landing_dir, list(SOURCES)).items()
        }
        existing = set(partitions_def.get_partition_keys())
        requested: dict[str, str] = {}
        for day, fingerprint in sorted(current.items()):
            if seen.get(day) == fingerprint:
                continue
            for partition in affected_partitions(date.fromisoformat(day), lookback_days):
                key = partition.isoformat()
                if key in existing:
                    requested[key] = f"{key}@{day}:{fingerprint}"
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=run_key, partition_key=key)
                for key, run_key in sorted(requested.items())
            ],
            cursor=json.dumps(current, sort_keys=True),
        )

    return new_landing_files
