"""What the cases (recon/cases) tell the alerts: a discrepancy whose case someone acknowledged or
resolved is not notified again, and a case left open past its severity's SLA (`case_sla_days`)
escalates, once per time it is open, to the channels its rules route it to.

Both read `cases.events` when the cases schema exists (the `cases/sync` asset runs before the
alerts); without it nothing is skipped and nothing escalates."""

from datetime import date, datetime, timedelta

import duckdb
import pyarrow as pa

from recon.alerts.config import AlertConfig
from recon.cases.schema import cases_schema_exists
from recon.warehouse import has_tables

# Case IDs are discrepancy IDs: the cases among `ids_sql`'s whose current status (the status of
# their last event) is a decision.
_DECIDED = """
select case_id from cases.events
where case_id in ({ids_sql})
group by case_id
having arg_max_null(status, event_no) in ('acknowledged', 'resolved')
"""

_NONE = "select null::varchar as case_id where false"


def decided_cases_sql(con: duckdb.DuckDBPyConnection, ids_sql: str) -> str:
    """A query of the case IDs among `ids_sql` (a query of discrepancy IDs) that are
    acknowledged or resolved: someone is on them, or has settled them."""
    if not cases_schema_exists(con):
        return _NONE
    return _DECIDED.format(ids_sql=ids_sql)


# Per open case: since when it is open (the event that opened or last reopened it) and its
# facts now. Past its severity's SLA and not escalated for that opening yet: escalate. The
# opening's event number stands in for the generation of a `new` change, so the notice ID of an
# escalation differs per opening and a rerun finds it in the outbox.
_ESCALATIONS = """
with current_ as (
    select case_id, status, amount_minor, currency
    from cases.events
    qualify row_number() over (partition by case_id order by event_no desc) = 1
),
opening as (
    select case_id, max(event_no) as since_event_no, arg_max("at", event_no) as since
    from cases.events
    where action in ('opened', 'reopened')
    group by case_id
)
select 'escalate' as kind, c.case_id as discrepancy_id, k.type, k.severity, k.checkout_id,
       c.amount_minor, c.currency, o.since_event_no::integer as generation, false as reopened
from current_ c
join opening o on o.case_id = c.case_id
join cases.cases k on k.case_id = c.case_id
join _alert_sla s on s.severity = k.severity
where c.status = 'open'
  and o.since + to_microseconds(s.sla_us) <= $now
  and not exists (
      select 1 from ({escalated}) e
      where e.case_id = c.case_id and e.since_event_no = o.since_event_no
  )
order by c.case_id
"""

_NO_ESCALATIONS = "select null::varchar as case_id, null::bigint as since_event_no where false"

_SLA_SCHEMA = pa.schema([("severity", pa.string()), ("sla_us", pa.int64())])


def escalations_sql(con: duckdb.DuckDBPyConnection, config: AlertConfig) -> str | None:
    """The query of the cases to escalate now (the change columns of a plan, kind `escalate`),
    reading `_alert_sla` (see `sla_table`) and `$now`; None when nothing can escalate."""
    if not config.case_sla_days or not cases_schema_exists(con):
        return None
    escalated = (
        "select case_id, since_event_no from alerts.escalations"
        # A warehouse whose alerts schema predates escalations: nothing was escalated yet.
        if has_tables(con, "alerts.escalations")
        else _NO_ESCALATIONS
    )
    return _ESCALATIONS.format(escalated=escalated)


def sla_table(config: AlertConfig) -> pa.Table:
    rows = [
        {"severity": severity, "sla_us": timedelta(days=days) // timedelta(microseconds=1)}
        for severity, days in config.case_sla_days.items()
    ]
    return pa.Table.from_pylist(rows, schema=_SLA_SCHEMA)


def record_escalations(con: duckdb.DuckDBPyConnection, day: date, now: datetime) -> None:
    """Mark the `escalate` changes of the registered `_alert_changes` as escalated, so no later
    run escalates the same opening again. Inside apply_plan's transaction, with the notices."""
    con.execute(
        """
        insert into alerts.escalations (case_id, since_event_no, severity, business_date,
            escalated_at)
        select discrepancy_id, generation, severity, $day, $now
        from _alert_changes where kind = 'escalate'
        """,
        {"day": day, "now": now},
    )
