"""Running one partition of the daily job in this process, as `recon run` does."""

import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

import dagster as dg

from pipelines.definitions import build_definitions
from pipelines.jobs import RECONCILE_JOB
from pipelines.progress import progress_logger, root_message
from pipelines.summary import at_or_above, format_table, summary_rows
from recon.alerts import enqueue_check_failures, load_config
from recon.alerts.delivery import deliver_pending
from recon.run_lock import warehouse_lock
from recon.settings import ReconSettings
from recon.warehouse import connect


@dataclass
class RunOutcome:
    day: date
    success: bool
    out: Path
    warehouse: Path
    rows: list[tuple] = field(default_factory=list)
    quarantined: int = 0
    checks: list[tuple[str, bool, str, str]] = field(
        default_factory=list
    )  # name, passed, severity, why
    errors: list[str] = field(default_factory=list)
    run_id: str = ""

    def count_at_or_above(self, severity: str) -> int:
        return at_or_above(self.rows, severity)

    def report(self) -> str:
        if not self.success:
            lines = [
                f"reconciliation of {self.day} FAILED (failed steps left their tables as they were)"
            ]
            lines += [f"  {e}" for e in self.errors]
            return "\n".join([*lines, "", self.check_summary()])
        total = sum(n for _, _, n, _ in self.rows)
        lines = [
            f"reconciliation of {self.day}: {total} discrepancies, "
            f"{self.quarantined} rows quarantined",
            "",
            format_table(self.rows) if self.rows else "no discrepancies",
            "",
            f"discrepancies: {self.out / 'discrepancies.parquet'}",
            f"quarantine:    {self.out / 'quarantine.parquet'}",
            f"reports:       {self.out / 'reports' / 'index.html'}",
            f"warehouse:     {self.warehouse}",
        ]
        return "\n".join([*lines, "", self.check_summary()])

    def check_summary(self) -> str:
        failed = [c for c in self.checks if not c[1] and c[2] == "ERROR"]
        warned = [c for c in self.checks if not c[1] and c[2] != "ERROR"]
        lines = [
            f"checks: {len(self.checks) - len(failed) - len(warned)} passed, "
            f"{len(failed)} failed, {len(warned)} warnings"
        ]
        for name, _, severity, why in failed + warned:
            lines.append(f"  {'FAILED' if severity == 'ERROR' else 'warning'} {name}: {why}")
        return "\n".join(lines)


def _metadata_text(metadata: dict) -> str:
    shown = []
    for name, value in metadata.items():
        raw = getattr(value, "value", value)
        if raw not in (None, [], 0, ""):
            shown.append(f"{name}={_figure(raw)}")
    return ", ".join(shown)[:300]


def _figure(value: object) -> str:
    # A rate reads as 0.034, not 0.03398058252427184; a large float keeps its integer digits
    # (three significant ones would print 1234.5 as 1.23e+03).
    if isinstance(value, float) and abs(value) < 1000:
        return f"{value:.3g}"
    return str(value)


def _alert_on_failed_checks(con, settings: ReconSettings, day: date, outcome: RunOutcome) -> None:
    """Failed blocking checks go to the alert channels as `check_failed` notices, now: the run
    stopped before its own alerts step, and on-call must hear why today's numbers are missing."""
    failures = [
        (name, why)
        for name, passed, severity, why in outcome.checks
        if not passed and severity == "ERROR"
    ]
    if not failures:
        return
    config = load_config(settings.alerts_config)
    enqueue_check_failures(con, day, failures, config)
    deliver_pending(con, config, datetime.now(UTC))


def run_partition(
    settings: ReconSettings,
    day: date,
    progress: TextIO | None = None,
    instance: dg.DagsterInstance | None = None,
) -> RunOutcome:
    """Materialise every asset of `day`'s partition in this process, one run per warehouse at a
    time (a second run waits for the first; see `recon.run_lock`)."""
    stream = progress or sys.stderr

    def notice(text: str) -> None:
        print(text, file=stream, flush=True)

    with warehouse_lock(settings.warehouse_path, notice=notice):
        return _run_partition(settings, day, progress, instance)


def _run_partition(
    settings: ReconSettings,
    day: date,
    progress: TextIO | None,
    instance: dg.DagsterInstance | None,
) -> RunOutcome:
    if day < settings.partitions_start:
        settings = settings.model_copy(update={"partitions_start": day})
    defs = build_definitions(settings)
    job = defs.resolve_job_def(RECONCILE_JOB)
    partition_key = day.isoformat()
    if not job.partitions_def.has_partition_key(partition_key):
        raise ValueError(f"{day} is not a finished UTC day yet: reconcile dates up to yesterday")
    run_config: dict = {}
    if progress is not None:
        steps = len(job.nodes_in_topological_order)
        defs = dg.Definitions.merge(
            defs, dg.Definitions(loggers={"progress": progress_logger(steps, progress)})
        )
        job = defs.resolve_job_def(RECONCILE_JOB)
        run_config = {"loggers": {"progress": {}}}
    else:
        run_config = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    if instance is None and os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
    result = job.execute_in_process(
        partition_key=partition_key,
        run_config=run_config,
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    outcome = RunOutcome(day, result.success, settings.out_for(day), settings.warehouse_path)
    outcome.run_id = result.run_id
    outcome.checks = [
        (
            f"{e.asset_key.to_user_string()}:{e.check_name}",
            e.passed,
            e.severity.value,
            e.description or _metadata_text(e.metadata),
        )
        for e in result.get_asset_check_evaluations()
    ]
    if not result.success:
        with connect(settings.warehouse_path, settings.duckdb_memory_limit) as con:
            _alert_on_failed_checks(con, settings, day, outcome)
        outcome.errors = [
            f"{event.step_key.replace('__', '/')}: {root_message(event.event_specific_data.error)}"
            for event in result.all_events
            if event.is_step_failure
        ]
        return outcome
    with connect(settings.warehouse_path, settings.duckdb_memory_limit) as con:
        outcome.rows = summary_rows(con, day)
        _alert_on_failed_checks(con, settings, day, outcome)
        outcome.quarantined = con.execute(
            "select count(*) from raw.quarantine where _partition_date = ?", [day]
        ).fetchone()[0]
    return outcome
