"""The `cases` schema of the warehouse: one case per discrepancy (its facts, written once) and the
append-only, hash-chained log of everything that happened to the cases."""

import duckdb

from recon.cases.vocabulary import ACTIONS, RESOLUTIONS, STATUSES
from recon.warehouse import create_without_keys, has_tables


def _among(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# `at` is a reserved word in DuckDB's grammar: every query quotes it.
DDL = f"""
create schema if not exists cases;

-- What a case is about, as the run that opened it found it; never updated (what changes is in
-- the events). case_id is the discrepancy_id: the same finding is the same case on every rerun.
-- Unique without a primary key: a sync inserts only cases the table lacks, in the transaction
-- that appends their events, so two syncs collide on events.event_no; the key's index took a
-- third of the sync at 10M checkouts and grew with every day kept.
create table if not exists cases.cases (
    case_id varchar not null,
    partition_date date not null,
    type varchar not null,
    severity varchar not null,
    checkout_id varchar,
    opened_at timestamptz not null
);

-- Append-only. Each row carries the case's state after the event, so the current state of a
-- case is its last event and the history needs no replay. event_no is the chain's order (the
-- primary key is also what makes two concurrent appends collide instead of forking the chain);
-- hash = sha256(prev_hash || canonical JSON of the other columns), see recon/cases/chain.py.
create table if not exists cases.events (
    event_no bigint primary key check (event_no >= 1),
    case_id varchar not null,
    "at" timestamptz not null,
    actor varchar not null,
    action varchar not null check (action in ({_among(ACTIONS)})),
    status varchar not null check (status in ({_among(STATUSES)})),
    assignee varchar,
    resolution varchar check (resolution in ({_among(RESOLUTIONS)})),
    amount_minor bigint,
    currency varchar,
    note varchar,
    prev_hash varchar not null,
    hash varchar not null,
    -- a resolution is what a resolved case was resolved as; any other status has none
    check ((resolution is not null) = (status = 'resolved'))
);
"""


def ensure_cases_schema(con: duckdb.DuckDBPyConnection) -> None:
    create_without_keys(con, DDL, "cases", ("cases",))


def cases_schema_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return has_tables(con, "cases.cases", "cases.events")
