"""Compare a partition's discrepancies with the alert state, route what changed to channels, and
enqueue the resulting notices in the outbox."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb
import pyarrow as pa

from pipelines.alerts.config import AlertConfig
from pipelines.alerts.notices import CheckFailure, Item, Notice, notice_id
from pipelines.alerts.schema import alerts_schema_exists


@dataclass(frozen=True)
class Change:
    item: Item
    generation: int


@dataclass
class Plan:
    business_date: date
    new: list[Change] = field(default_factory=list)
    resolved: list[Change] = field(default_factory=list)
    # New ones that were open before and had cleared: their state row is reopened, not inserted.
    reopened: set[str] = field(default_factory=set)
    notices: list[Notice] = field(default_factory=list)


class PartitionNotReconciled(LookupError):
    pass


def _require_reconciled(con: duckdb.DuckDBPyConnection, day: date) -> None:
    # Planning an empty, never-built partition would "resolve" every open discrepancy of it.
    tables = {
        row[0]
        for row in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('marts', 'meta')"
        ).fetchall()
    }
    built = {"marts.discrepancies", "meta.run_params"} <= tables and con.execute(
        "select count(*) from meta.run_params where _partition_date = ?", [day]
    ).fetchone() != (0,)
    if not built:
        raise PartitionNotReconciled(f"partition {day} has not been reconciled in this warehouse")


def current_discrepancies(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Item]:
    _require_reconciled(con, day)
    rows = con.execute(
        "select discrepancy_id, type, severity, checkout_id, amount_minor, currency "
        "from marts.discrepancies where _partition_date = ?",
        [day],
    ).fetchall()
    return {row[0]: Item(*row) for row in rows}


def plan_partition(con: duckdb.DuckDBPyConnection, day: date, config: AlertConfig) -> Plan:
    current = current_discrepancies(con, day)
    state = _state(con, day)
    plan = Plan(day)
    for discrepancy_id, item in sorted(current.items()):
        if discrepancy_id not in state:
            plan.new.append(Change(item, 1))
        elif state[discrepancy_id][1] == "resolved":
            plan.new.append(Change(item, state[discrepancy_id][2] + 1))
            plan.reopened.add(discrepancy_id)
    for discrepancy_id, (item, status, generation) in sorted(state.items()):
        if status == "open" and discrepancy_id not in current:
            plan.resolved.append(Change(item, generation))
    plan.notices = route(plan.new, "new", day, config) + route(
        plan.resolved, "resolve", day, config
    )
    return plan


def _state(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, tuple[Item, str, int]]:
    # A dry run before the first real run finds no schema: nothing has been notified yet.
    if not alerts_schema_exists(con):
        return {}
    rows = con.execute(
        "select discrepancy_id, type, severity, checkout_id, amount_minor, currency, "
        "status, generation from alerts.discrepancy_state where business_date = ?",
        [day],
    ).fetchall()
    return {row[0]: (Item(*row[:6]), row[6], row[7]) for row in rows}


def route(changes: list[Change], kind: str, day: date, config: AlertConfig) -> list[Notice]:
    each: dict[str, list[Change]] = defaultdict(list)
    digest: dict[str, list[Change]] = defaultdict(list)
    top: dict[str, int] = defaultdict(int)
    for change in changes:
        item = change.item
        rules = [r for r in config.rules if r.matches(item.type, item.severity, item.amount_minor)]
        for channel in dict.fromkeys(c for rule in rules for c in rule.channels):
            channel_rules = [rule for rule in rules if channel in rule.channels]
            # A per-discrepancy rule wins so a critical one is never buried in a digest.
            if any(rule.mode == "each" for rule in channel_rules):
                each[channel].append(change)
            else:
                digest[channel].append(change)
                top[channel] = max(top[channel], *(rule.digest_top for rule in channel_rules))
    notices = [
        Notice(
            notice_id=notice_id(channel, kind, day, c.item.discrepancy_id, c.generation),
            channel=channel,
            kind=kind,
            business_date=day,
            mode="each",
            items=(c.item,),
            total=1,
            total_minor=_totals([c]),
            discrepancy_ids=(c.item.discrepancy_id,),
        )
        for channel, channel_changes in each.items()
        for c in channel_changes
    ]
    for channel, channel_changes in digest.items():
        largest = sorted(
            channel_changes,
            key=lambda c: (-(c.item.amount_minor or -1), c.item.discrepancy_id),
        )
        keys = sorted(f"{c.item.discrepancy_id}:{c.generation}" for c in channel_changes)
        notices.append(
            Notice(
                notice_id=notice_id(channel, kind, day, *keys),
                channel=channel,
                kind=kind,
                business_date=day,
                mode="digest",
                items=tuple(c.item for c in largest[: top[channel]]),
                total=len(channel_changes),
                total_minor=_totals(channel_changes),
                discrepancy_ids=tuple(c.item.discrepancy_id for c in largest),
            )
        )
    return notices


def _totals(changes: list[Change]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for change in changes:
        if change.item.amount_minor is not None and change.item.currency:
            totals[change.item.currency] += change.item.amount_minor
    return dict(totals)


def check_failure_notices(
    day: date, failures: list[tuple[str, str]], config: AlertConfig
) -> list[Notice]:
    checks = tuple(CheckFailure(name, description) for name, description in sorted(failures))
    if not checks:
        return []
    channels = dict.fromkeys(
        c for rule in config.rules if rule.check_failures for c in rule.channels
    )
    return [
        Notice(
            notice_id=notice_id(channel, "check_failed", day, *(c.name for c in checks)),
            channel=channel,
            kind="check_failed",
            business_date=day,
            mode="digest",
            checks=checks,
        )
        for channel in channels
    ]


def apply_plan(con: duckdb.DuckDBPyConnection, plan: Plan, now: datetime) -> None:
    """Record the state changes and enqueue the notices in one transaction: a crash leaves either
    both or neither, so a discrepancy is never marked open without its notice queued."""
    day = plan.business_date
    con.execute("begin")
    try:
        first_seen = [c for c in plan.new if c.item.discrepancy_id not in plan.reopened]
        _insert_rows(
            con,
            "alerts.discrepancy_state",
            {
                "business_date": [day] * len(first_seen),
                "discrepancy_id": [c.item.discrepancy_id for c in first_seen],
                "type": [c.item.type for c in first_seen],
                "severity": [c.item.severity for c in first_seen],
                "checkout_id": [c.item.checkout_id for c in first_seen],
                "amount_minor": [c.item.amount_minor for c in first_seen],
                "currency": [c.item.currency for c in first_seen],
                "status": ["open"] * len(first_seen),
                "generation": [c.generation for c in first_seen],
                "first_seen_at": [now] * len(first_seen),
            },
        )
        for change in plan.new:
            item = change.item
            if item.discrepancy_id in plan.reopened:
                con.execute(
                    "update alerts.discrepancy_state set status = 'open', generation = ?, "
                    "resolved_at = null, type = ?, severity = ?, amount_minor = ?, currency = ? "
                    "where business_date = ? and discrepancy_id = ?",
                    [
                        change.generation,
                        item.type,
                        item.severity,
                        item.amount_minor,
                        item.currency,
                        day,
                        item.discrepancy_id,
                    ],
                )
        resolved = pa.table({"discrepancy_id": [c.item.discrepancy_id for c in plan.resolved]})
        con.register("_resolved_ids", resolved)
        try:
            con.execute(
                "update alerts.discrepancy_state set status = 'resolved', resolved_at = ? "
                "where business_date = ? and discrepancy_id in "
                "(select discrepancy_id from _resolved_ids)",
                [now, day],
            )
        finally:
            con.unregister("_resolved_ids")
        enqueue(con, plan.notices, now)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def enqueue(con: duckdb.DuckDBPyConnection, notices: list[Notice], now: datetime) -> int:
    """Insert notices not already in the outbox; returns how many were new."""
    added = 0
    for notice in notices:
        exists = con.execute(
            "select 1 from alerts.outbox where notice_id = ?", [notice.notice_id]
        ).fetchone()
        if exists:
            continue
        con.execute(
            "insert into alerts.outbox (notice_id, channel, kind, business_date, payload, "
            "created_at, next_attempt_at) values (?, ?, ?, ?, ?, ?, ?)",
            [
                notice.notice_id,
                notice.channel,
                notice.kind,
                notice.business_date,
                notice.to_json(),
                now,
                now,
            ],
        )
        ids = list(dict.fromkeys(notice.discrepancy_ids))
        _insert_rows(
            con,
            "alerts.notice_items",
            {"notice_id": [notice.notice_id] * len(ids), "discrepancy_id": ids},
        )
        added += 1
    return added


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list]) -> None:
    """One set-based insert: a statement per row took 18 s for a day of 12k discrepancies."""
    if not next(iter(columns.values())):
        return
    con.register("_alert_rows", pa.table(columns))
    try:
        names = ", ".join(columns)
        con.execute(f"insert into {table} ({names}) select {names} from _alert_rows")
    finally:
        con.unregister("_alert_rows")
