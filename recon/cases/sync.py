"""`sync`: after a run, bring the cases of its partition in line with the discrepancies it found.

Set-based: the diff of the partition with its cases' current states is one query, so a day of a
million discrepancies costs a join; Python only chains the events of what changed (all of them
on a partition's first sync), in batches."""

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from recon.cases.errors import DuplicateDiscrepancy, PartitionNotReconciled
from recon.cases.events import Entry, State, append, atomically
from recon.cases.schema import ensure_cases_schema
from recon.currencies import format_money


@dataclass(frozen=True)
class SyncResult:
    partition_date: date
    opened: int = 0
    cleared: int = 0  # discrepancy gone: late data removed its cause
    reopened: int = 0  # back after clearing, or a resolved case whose amount changed
    amount_updated: int = 0  # an open or acknowledged case whose amount changed: noted
    unchanged: int = 0
    # Discrepancies of this partition whose ID is a case opened by another partition: left to
    # that partition's sync, so that two partitions never take turns clearing and reopening it.
    elsewhere: int = 0

    @property
    def changed(self) -> int:
        return self.opened + self.cleared + self.reopened + self.amount_updated

    def describe(self) -> str:
        text = (
            f"cases of {self.partition_date}: {self.opened} opened, {self.cleared} cleared, "
            f"{self.reopened} reopened, {self.amount_updated} amount updated, "
            f"{self.unchanged} unchanged"
        )
        if self.elsewhere:
            text += f", {self.elsewhere} already a case of another partition (left alone)"
        return text


# Per discrepancy of the partition and per case of the partition (full join), what to do:
#   open       a new discrepancy ID: a case and its `opened` event
#   clear      the case's discrepancy is gone and the case is not cleared yet
#   return     a cleared case's discrepancy is back: `reopened`
#   reopen     a resolved case whose amount (or currency) changed: `reopened`
#   amount     an open or acknowledged case whose amount changed: `noted` with the new amount,
#              so that the amount a resolution records is the one that was resolved
#   elsewhere  the ID is a case of another partition
#   null       nothing: a rerun on the same data changes nothing
_DIFF = """
with found as (
    select discrepancy_id, type, severity, checkout_id, amount_minor, currency
    from marts.discrepancies where _partition_date = $day
),
latest as (
    select case_id, status, assignee, resolution, amount_minor, currency
    from cases.events
    where case_id in (select case_id from cases.cases where partition_date = $day)
    qualify row_number() over (partition by case_id order by event_no desc) = 1
)
select
    coalesce(f.discrepancy_id, l.case_id) as case_id,
    f.discrepancy_id is not null as present,
    case
        when l.case_id is null and c.case_id is not null then 'elsewhere'
        when l.case_id is null then 'open'
        when f.discrepancy_id is null then if(l.status <> 'cleared', 'clear', null)
        when l.status = 'cleared' then 'return'
        when l.amount_minor is distinct from f.amount_minor
          or l.currency is distinct from f.currency
            then if(l.status = 'resolved', 'reopen', 'amount')
    end as change,
    f.type, f.severity, f.checkout_id, f.amount_minor, f.currency,
    l.status as was_status, l.assignee, l.resolution as was_resolution,
    l.amount_minor as was_amount_minor, l.currency as was_currency
from found f
full join latest l on l.case_id = f.discrepancy_id
left join cases.cases c on c.case_id = f.discrepancy_id
order by case_id
"""

# Python objects for this many events at a time, however many change.
_BATCH = 10_000


def sync(
    con: duckdb.DuckDBPyConnection, day: date, now: datetime, actor: str = "recon"
) -> SyncResult:
    """Reconcile partition `day`'s discrepancies (`marts.discrepancies`) with its cases: open a
    case for each new discrepancy ID, clear the cases whose discrepancy is gone, reopen a cleared
    case whose discrepancy is back and a resolved case whose amount changed. Anything else is
    left as people left it: a rerun on the same data changes nothing and loses no decision.

    One transaction: a failure leaves cases and log as they were. The partition must have been
    reconciled (`meta.run_params` has it): syncing a partition never built would clear all of
    its cases."""
    ensure_cases_schema(con)
    return atomically(con, lambda: _sync(con, day, now, actor))


def _sync(con: duckdb.DuckDBPyConnection, day: date, now: datetime, actor: str) -> SyncResult:
    _require_reconciled(con, day)
    diff = con.sql(_DIFF, params={"day": day}).to_arrow_table()
    _require_unique(diff, day)
    counts = {
        row["values"]: row["counts"]
        for row in pc.value_counts(diff.column("change")).to_pylist()
        if row["values"] is not None
    }
    changes = diff.filter(pc.is_in(diff.column("change"), value_set=pa.array(_EVENTS)))
    for batch in changes.to_batches(max_chunksize=_BATCH):
        append(con, [_entry(row, day, now, actor) for row in batch.to_pylist()])
    # The `open` rows: discrepancies whose ID is no case yet (in any partition).
    con.execute(
        """
        insert into cases.cases (case_id, partition_date, type, severity, checkout_id, opened_at)
        select discrepancy_id, $day, type, severity, checkout_id, $now
        from marts.discrepancies d
        where _partition_date = $day
          and not exists (select 1 from cases.cases c where c.case_id = d.discrepancy_id)
        """,
        {"day": day, "now": now},
    )
    present = pc.sum(diff.column("present").cast(pa.int64())).as_py() or 0
    return SyncResult(
        day,
        opened=counts.get("open", 0),
        cleared=counts.get("clear", 0),
        reopened=counts.get("return", 0) + counts.get("reopen", 0),
        amount_updated=counts.get("amount", 0),
        unchanged=present - sum(n for kind, n in counts.items() if kind != "clear"),
        elsewhere=counts.get("elsewhere", 0),
    )


_EVENTS = ("open", "clear", "return", "reopen", "amount")


def _entry(row: dict, day: date, now: datetime, actor: str) -> Entry:
    change, case_id = row["change"], row["case_id"]
    amount, currency = row["amount_minor"], row["currency"]
    was = format_money(row["was_amount_minor"], row["was_currency"])
    now_ = format_money(amount, currency)
    if change == "open":
        return Entry(case_id, now, actor, "opened", State("open", None, None, amount, currency))
    # Assignees stay through every automatic change: whoever had the case keeps it if it comes
    # back. A resolution only stays while resolved; earlier events keep it in the history.
    assignee = row["assignee"]
    if change == "clear":
        state = State("cleared", assignee, None, row["was_amount_minor"], row["was_currency"])
        return Entry(case_id, now, actor, "cleared", state, f"no longer found in partition {day}")
    if change == "return":
        state = State("open", assignee, None, amount, currency)
        return Entry(case_id, now, actor, "reopened", state, f"found again in partition {day}")
    if change == "reopen":
        state = State("open", assignee, None, amount, currency)
        note = (
            f"amount changed from {was} to {now_} after it was resolved as {row['was_resolution']}"
        )
        return Entry(case_id, now, actor, "reopened", state, note)
    state = State(row["was_status"], assignee, None, amount, currency)
    return Entry(case_id, now, actor, "noted", state, f"amount changed from {was} to {now_}")


def _require_unique(diff: pa.Table, day: date) -> None:
    # The mart has one row per finding; two rows of one ID would make two cases of one.
    ids = diff.column("case_id")
    if pc.count_distinct(ids).as_py() == len(ids):
        return
    counts = pc.value_counts(ids).to_pylist()
    twice = sorted(row["values"] for row in counts if row["counts"] > 1)
    raise DuplicateDiscrepancy(
        f"partition {day} of marts.discrepancies holds discrepancy ID(s) more than once: "
        + ", ".join(twice[:5])
        + (f" and {len(twice) - 5} more" if len(twice) > 5 else "")
    )


def _require_reconciled(con: duckdb.DuckDBPyConnection, day: date) -> None:
    [(tables,)] = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and ((schema_name = 'marts' and table_name = 'discrepancies') "
        "or (schema_name = 'meta' and table_name = 'run_params'))"
    ).fetchall()
    built = tables == 2 and con.execute(
        "select count(*) from meta.run_params where _partition_date = ?", [day]
    ).fetchall() != [(0,)]
    if not built:
        raise PartitionNotReconciled(
            f"partition {day} has not been reconciled in this warehouse: run `recon run` first"
        )
