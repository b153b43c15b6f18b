"""`sync`: after a run, bring the cases of its partition in line with the discrepancies it found.

Set-based: the diff of the partition with its cases' current states is one query, and the events
of what changed (all of them on a partition's first sync) are built and spelled for hashing in
SQL too (`events.append_query`); Python only chains their hashes and words the few notes that
quote amounts."""

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from recon.cases.errors import DuplicateDiscrepancy, PartitionNotReconciled
from recon.cases.events import append_query, atomically
from recon.cases.schema import ensure_cases_schema
from recon.currencies import format_money
from recon.warehouse import is_reconciled, registered


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
"""

_EVENTS = ("open", "clear", "return", "reopen", "amount")

# The event of each change in `_case_diff`, in case ID order (the diff's). Assignees stay through
# every automatic change: whoever had the case keeps it if it comes back. A resolution only stays
# while resolved (earlier events keep it in the history), so no automatic event carries one. A
# cleared case keeps the amount it had; the others take the one found now.
_ENTRIES = """
select d.case_id as ord, d.case_id, $now::timestamptz as "at", $actor as actor,
    case d.change
        when 'open' then 'opened' when 'clear' then 'cleared' when 'amount' then 'noted'
        else 'reopened'
    end as action,
    case d.change
        when 'clear' then 'cleared' when 'amount' then d.was_status else 'open'
    end as status,
    d.assignee,
    null::varchar as resolution,
    if(d.change = 'clear', d.was_amount_minor, d.amount_minor) as amount_minor,
    if(d.change = 'clear', d.was_currency, d.currency) as currency,
    case d.change
        when 'clear' then 'no longer found in partition ' || cast($day as varchar)
        when 'return' then 'found again in partition ' || cast($day as varchar)
        else n.note
    end as note
from _case_diff d
left join _case_notes n on n.case_id = d.case_id
where d.change in ('open', 'clear', 'return', 'reopen', 'amount')
"""

_NOTES = pa.schema([("case_id", pa.string()), ("note", pa.string())])


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
    if any(counts.get(change) for change in _EVENTS):
        with registered(con, _case_diff=diff, _case_notes=_amount_notes(diff)):
            append_query(con, _ENTRIES, {"day": day, "now": now, "actor": actor})
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


def _amount_notes(diff: pa.Table) -> pa.Table:
    """The notes that quote amounts, worded by `format_money` (one spelling of money everywhere):
    only the cases whose amount changed, few on any day."""
    changed = diff.filter(pc.is_in(diff.column("change"), value_set=pa.array(["reopen", "amount"])))
    notes = []
    for row in changed.to_pylist():
        was = format_money(row["was_amount_minor"], row["was_currency"])
        now = format_money(row["amount_minor"], row["currency"])
        note = f"amount changed from {was} to {now}"
        if row["change"] == "reopen":
            note += f" after it was resolved as {row['was_resolution']}"
        notes.append({"case_id": row["case_id"], "note": note})
    return pa.Table.from_pylist(notes, schema=_NOTES)


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
    if not is_reconciled(con, day):
        raise PartitionNotReconciled(
            f"partition {day} has not been reconciled in this warehouse: run `recon run` first"
        )
