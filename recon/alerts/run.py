"""The entry point the CLI (`recon alerts`) and the Dagster asset call for one partition."""

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb

from recon.alerts.channels import Channel
from recon.alerts.config import AlertConfig, default_config
from recon.alerts.delivery import Delivery, Sleep, deliver_pending, due_notices, pending_count
from recon.alerts.notices import Discrepancies, Notice
from recon.alerts.planning import (
    apply_plan,
    check_failure_notices,
    enqueue,
    plan_partition,
)
from recon.alerts.schema import alerts_schema_exists, ensure_alerts_schema


@dataclass
class AlertRun:
    business_date: date
    dry_run: bool
    # Column-wise (a day can bring a million): `len()` for counts, `.largest(n)` for the top.
    new: Discrepancies = field(default_factory=Discrepancies)
    resolved: Discrepancies = field(default_factory=Discrepancies)
    # Cases open past their severity's SLA, escalated by this run.
    escalated: Discrepancies = field(default_factory=Discrepancies)
    # Notices planned by this run (in a dry run: what would be enqueued).
    planned: list[Notice] = field(default_factory=list)
    # Due notices from the outbox (in a dry run: what would be sent).
    to_send: list[Notice] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    pending: int = 0

    @property
    def delivered(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.delivered]

    @property
    def failed(self) -> list[Delivery]:
        """Not delivered: kept pending, or rejected (`rejected`)."""
        return [d for d in self.deliveries if not d.delivered]

    @property
    def rejected(self) -> list[Delivery]:
        """Refused by the receiver as such: never sent again."""
        return [d for d in self.deliveries if d.rejected]

    def describe(self) -> str:
        day = self.business_date.isoformat()
        head = "DRY RUN, nothing changed: " if self.dry_run else ""
        lines = [
            f"{head}alerts for {day}: {len(self.new)} new, {len(self.resolved)} resolved, "
            f"{len(self.escalated)} escalated, {len(self.planned)} notice(s) planned"
        ]
        if self.dry_run:
            lines.append(f"would send {len(self.to_send)} notice(s):")
            lines += [f"  -> {n.channel} [{n.kind}] {n.title}" for n in self.to_send]
            return "\n".join(lines)
        lines += [f"  {d.channel} [{d.kind}] {d.notice_id}: {_outcome(d)}" for d in self.deliveries]
        rejected = f" ({len(self.rejected)} rejected)" if self.rejected else ""
        lines.append(
            f"{len(self.delivered)} delivered, {len(self.failed)} failed{rejected}, "
            f"{self.pending} pending in the outbox"
        )
        return "\n".join(lines)


def _outcome(delivery: Delivery) -> str:
    if delivery.delivered:
        return f"sent ({delivery.attempts} attempt(s))"
    if delivery.rejected:
        return f"REJECTED, not sent again: {delivery.error}"
    return f"FAILED: {delivery.error}"


def run_alerts(
    con: duckdb.DuckDBPyConnection,
    day: date,
    config: AlertConfig | None = None,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    check_failures: list[tuple[str, str]] | None = None,
    sleep: Sleep = time.sleep,
    channels: dict[str, Channel] | None = None,
) -> AlertRun:
    """Plan partition `day` against the alert state, enqueue its notices, deliver everything due.

    `marts.discrepancies` must hold the partition. `check_failures` are (check name, description)
    pairs of failed data-quality checks. A dry run only reads: it shows what would be enqueued
    and sent. `sleep` and `channels` are seams for tests."""
    config = config or default_config()
    now = now or datetime.now(UTC)
    plan = plan_partition(con, day, config, now)
    checks = check_failure_notices(day, check_failures or [], config)
    run = AlertRun(
        business_date=day,
        dry_run=dry_run,
        new=plan.new,
        resolved=plan.resolved,
        escalated=plan.escalated,
        planned=plan.notices + checks,
    )
    if dry_run:
        queued = due_notices(con, now) if alerts_schema_exists(con) else []
        known = {n.notice_id for n in queued}
        fresh = [n for n in run.planned if n.notice_id not in known]
        outboxed = _in_outbox(con, [n.notice_id for n in fresh])
        run.to_send = queued + [n for n in fresh if n.notice_id not in outboxed]
        run.pending = len(run.to_send)
        return run
    ensure_alerts_schema(con)
    apply_plan(con, plan, now)
    enqueue(con, checks, now)
    run.to_send = due_notices(con, now)
    run.deliveries = deliver_pending(con, config, now, sleep=sleep, channels=channels)
    run.pending = pending_count(con)
    return run


def enqueue_check_failures(
    con: duckdb.DuckDBPyConnection,
    day: date,
    failures: list[tuple[str, str]],
    config: AlertConfig | None = None,
    now: datetime | None = None,
) -> list[Notice]:
    """Queue `check_failed` notices (to rules with `check_failures: true`); the next
    `run_alerts` delivers them. The same failures for the same day are queued only once."""
    config = config or default_config()
    ensure_alerts_schema(con)
    notices = check_failure_notices(day, failures, config)
    enqueue(con, notices, now or datetime.now(UTC))
    return notices


def _in_outbox(con: duckdb.DuckDBPyConnection, notice_ids: list[str]) -> set[str]:
    if not notice_ids or not alerts_schema_exists(con):
        return set()
    rows = con.execute(
        "select notice_id from alerts.outbox where notice_id in (select unnest($ids))",
        {"ids": notice_ids},
    ).fetchall()
    return {row[0] for row in rows}
