"""Deliver the outbox: retried with backoff within a run, channel by channel, so one channel that
stays down neither blocks the others nor loses its notices (they stay pending for a later run).
A notice the receiver refuses as such (`DeliveryError.rejected`: malformed, too large) is marked
rejected and never sent again, and its channel's next notices go on."""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import duckdb

from recon.alerts.channels import Channel, DeliveryError, build_channel
from recon.alerts.config import AlertConfig
from recon.alerts.notices import Notice
from recon.alerts.schema import outbox_has_rejections

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Delivery:
    notice_id: str
    channel: str
    kind: str
    delivered: bool
    attempts: int
    error: str | None = None
    rejected: bool = False  # refused as such: not sent again (`DeliveryError.rejected`)


def due_notices(
    con: duckdb.DuckDBPyConnection, now: datetime, channel: str | None = None
) -> list[Notice]:
    rows = con.execute(
        f"select payload from alerts.outbox where {_undelivered(con)} "
        "and next_attempt_at <= ? and (? is null or channel = ?) order by created_at, notice_id",
        [now, channel, channel],
    ).fetchall()
    return [Notice.from_json(row[0]) for row in rows]


def pending_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(f"select count(*) from alerts.outbox where {_undelivered(con)}").fetchone()
    return row[0] if row else 0


def _undelivered(con: duckdb.DuckDBPyConnection) -> str:
    """The outbox's notices still owed. An outbox an earlier version made has no `rejected_at`
    until a run (not a dry run, which only reads) adds it: none of its notices was rejected."""
    if outbox_has_rejections(con):
        return "delivered_at is null and rejected_at is null"
    return "delivered_at is null"


def deliver_pending(
    con: duckdb.DuckDBPyConnection,
    config: AlertConfig,
    now: datetime,
    *,
    sleep: Sleep = time.sleep,
    channels: dict[str, Channel] | None = None,
) -> list[Delivery]:
    """Send every due notice of every configured channel. Notices of a channel no longer in the
    config stay pending: renaming a channel must not silently drop what it owed."""
    senders = channels or {c.name: build_channel(c) for c in config.channels}
    deliveries = []
    for name, sender in senders.items():
        for notice in due_notices(con, now, name):
            if getattr(sender, "needs_discrepancy_ids", False):
                notice = with_discrepancy_ids(con, notice)
            delivery = _deliver(con, config, sender, notice, now, sleep)
            deliveries.append(delivery)
            if not delivery.delivered and not delivery.rejected:
                break  # the channel is down: leave the rest pending rather than hammer it
    return deliveries


def with_discrepancy_ids(con: duckdb.DuckDBPyConnection, notice: Notice) -> Notice:
    """The notice with every discrepancy it covers, for a channel that sends one event per
    discrepancy: a digest's payload lists only the largest, `alerts.notice_items` has them all.
    In digest order: the largest amount first, ties by ID, no amount last."""
    if notice.discrepancy_ids or notice.kind == "check_failed":
        return notice
    rows = con.execute(
        """
        select i.discrepancy_id from alerts.notice_items i
        left join alerts.discrepancy_state s
          on s.business_date = $day and s.discrepancy_id = i.discrepancy_id
        where i.notice_id = $notice_id
        order by coalesce(nullif(s.amount_minor, 0), -1) desc, i.discrepancy_id
        """,
        {"day": notice.business_date, "notice_id": notice.notice_id},
    ).fetchall()
    if not rows:  # not recorded (a notice built outside the outbox): what it lists
        return notice
    return replace(notice, discrepancy_ids=tuple(row[0] for row in rows))


def _deliver(
    con: duckdb.DuckDBPyConnection,
    config: AlertConfig,
    sender: Channel,
    notice: Notice,
    now: datetime,
    sleep: Sleep,
) -> Delivery:
    retry = config.retry
    error = None
    for attempt in range(1, retry.attempts + 1):
        try:
            sender.send(notice)
        except Exception as failure:  # a bug in one channel must not stop the others
            kind = "" if isinstance(failure, DeliveryError) else f"{type(failure).__name__}: "
            error = f"{kind}{failure}"[:500]
            if isinstance(failure, DeliveryError) and failure.rejected:
                return _reject(con, notice, now, attempt, error)
            if attempt < retry.attempts:
                sleep(retry.delay(attempt))
            continue
        # Recorded right after the send (autocommit) so a later crash cannot resend it.
        con.execute(
            "update alerts.outbox set attempts = attempts + ?, delivered_at = ?, last_error = null "
            "where notice_id = ?",
            [attempt, now, notice.notice_id],
        )
        return Delivery(notice.notice_id, notice.channel, notice.kind, True, attempt)
    con.execute(
        "update alerts.outbox set attempts = attempts + ?, last_error = ?, next_attempt_at = ? "
        "where notice_id = ?",
        [retry.attempts, error, now + timedelta(seconds=retry.requeue_after_s), notice.notice_id],
    )
    return Delivery(notice.notice_id, notice.channel, notice.kind, False, retry.attempts, error)


def _reject(
    con: duckdb.DuckDBPyConnection, notice: Notice, now: datetime, attempts: int, error: str
) -> Delivery:
    con.execute(
        "update alerts.outbox set attempts = attempts + ?, last_error = ?, rejected_at = ? "
        "where notice_id = ?",
        [attempts, error, now, notice.notice_id],
    )
    return Delivery(
        notice.notice_id, notice.channel, notice.kind, False, attempts, error, rejected=True
    )
