"""The `alerts` schema of the warehouse: what each partition's discrepancies look like to on-call,
and the outbox of notices per channel."""

import duckdb

from recon.warehouse import create_without_keys, has_tables

DDL = """
create schema if not exists alerts;

-- One row per discrepancy ever seen for a business date; `generation` counts reopenings so a
-- discrepancy that clears and comes back is announced again under a fresh notice ID. One row per
-- (business_date, discrepancy_id) without a primary key: the plan inserts only discrepancies the
-- table lacks, and its ART index cost 4 s of a 10 s alerts step at 10M checkouts and grew with
-- every day kept. Two runs cannot interleave: the file has one writer, and a second transaction
-- planning the same notices would collide on outbox.notice_id.
create table if not exists alerts.discrepancy_state (
    business_date date not null,
    discrepancy_id varchar not null,
    type varchar not null,
    severity varchar not null,
    checkout_id varchar,
    amount_minor bigint,
    currency varchar,
    status varchar not null,
    generation integer not null,
    first_seen_at timestamptz not null,
    resolved_at timestamptz
);

create table if not exists alerts.outbox (
    notice_id varchar primary key,
    channel varchar not null,
    kind varchar not null,
    business_date date not null,
    payload varchar not null,
    created_at timestamptz not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    last_error varchar,
    delivered_at timestamptz,
    -- The receiver refused the notice itself (malformed, too large): never sent again.
    rejected_at timestamptz
);

-- Cases escalated for being open past their severity's SLA: once per time a case is open,
-- named by the event that opened or reopened it (recon/alerts/cases.py).
create table if not exists alerts.escalations (
    case_id varchar not null,
    since_event_no bigint not null,
    severity varchar not null,
    business_date date not null,
    escalated_at timestamptz not null,
    primary key (case_id, since_event_no)
);

-- Which discrepancies each notice announced: the record of what went out. One row per
-- (notice_id, discrepancy_id), kept so by enqueueing only notices the outbox lacks (no primary
-- key, as discrepancy_state).
create table if not exists alerts.notice_items (
    notice_id varchar not null,
    discrepancy_id varchar not null
);
"""


# Tables earlier versions created with a primary key.
UNKEYED = ("discrepancy_state", "notice_items")


def ensure_alerts_schema(con: duckdb.DuckDBPyConnection) -> None:
    create_without_keys(con, DDL, "alerts", UNKEYED)
    # An outbox an earlier version created lacks it.
    con.execute("alter table alerts.outbox add column if not exists rejected_at timestamptz")


def alerts_schema_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return has_tables(con, "alerts.outbox")


def outbox_has_rejections(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the outbox has its `rejected_at` column (`ensure_alerts_schema` adds it)."""
    [(found,)] = con.execute(
        "select count(*) from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'alerts' and table_name = 'outbox' and column_name = 'rejected_at'"
    ).fetchall()
    return found > 0
