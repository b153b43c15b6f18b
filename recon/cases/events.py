"""Reading and appending `cases.events`: each event is the case's state after it, chained to the
event before it by hash (recon/cases/chain.py)."""

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import duckdb
import pyarrow as pa

from recon.cases.chain import GENESIS, HASHED_COLUMNS, canonical_sql, chain
from recon.warehouse import registered, transaction

T = TypeVar("T")


@dataclass(frozen=True)
class State:
    """A case's state, as every event records it after itself."""

    status: str
    assignee: str | None = None
    resolution: str | None = None  # only while resolved
    amount_minor: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Entry:
    """What an event says, before it takes its place (number and hashes) in the chain."""

    case_id: str
    at: datetime
    actor: str
    action: str
    state: State
    note: str | None = None


@dataclass(frozen=True)
class Event:
    event_no: int
    case_id: str
    at: datetime
    actor: str
    action: str
    state: State
    note: str | None
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: tuple) -> "Event":
        """A row of `select {COLUMNS} from cases.events`."""
        # The state's five columns sit between `action` and `note`, in State's field order.
        event_no, case_id, at, actor, action, *state, note, prev_hash, hash_ = row
        return cls(event_no, case_id, at, actor, action, State(*state), note, prev_hash, hash_)


def _values(entry: Entry, order: int) -> dict[str, object]:
    """What `append_query` reads of an entry: its columns by name, and its place in the batch."""
    s = entry.state
    return {
        "ord": order,
        "case_id": entry.case_id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "status": s.status,
        "assignee": s.assignee,
        "resolution": s.resolution,
        "amount_minor": s.amount_minor,
        "currency": s.currency,
        "note": entry.note,
    }


_HASHED = ", ".join(f'"{name}"' for name in HASHED_COLUMNS)
COLUMNS = f'{_HASHED}, "prev_hash", "hash"'

# An entry, as `append` hands a batch of them to `append_query` (`ord`: its place in the batch).
_ENTRIES = pa.schema(
    [
        ("ord", pa.int64()),
        ("case_id", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("actor", pa.string()),
        ("action", pa.string()),
        ("status", pa.string()),
        ("assignee", pa.string()),
        ("resolution", pa.string()),
        ("amount_minor", pa.int64()),
        ("currency", pa.string()),
        ("note", pa.string()),
    ]
)


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    """The last event's number and hash; (0, GENESIS) for an empty log."""
    rows = con.execute(
        "select event_no, hash from cases.events order by event_no desc limit 1"
    ).fetchall()
    return rows[0] if rows else (0, GENESIS)


def append(con: duckdb.DuckDBPyConnection, entries: Iterable[Entry]) -> list[Event]:
    """Chain `entries` after the head and insert them, in the order given. Call it inside a
    transaction, as `append_query`."""
    entries = list(entries)
    rows = pa.Table.from_pylist(
        [_values(entry, order) for order, entry in enumerate(entries)], schema=_ENTRIES
    )
    with registered(con, _case_entries=rows):
        chained = append_query(con, "select * from _case_entries")
    return [
        Event(
            row["event_no"],
            e.case_id,
            e.at,
            e.actor,
            e.action,
            e.state,
            e.note,
            row["prev_hash"],
            row["hash"],
        )
        for e, row in zip(entries, chained.to_pylist(), strict=True)
    ]


def append_query(
    con: duckdb.DuckDBPyConnection, entries_sql: str, params: dict | None = None
) -> pa.Table:
    """Number the events `entries_sql` selects after the head (in the order of its column
    `ord`), chain them and insert them; returns their event_no, prev_hash and hash. Its other
    columns are those of cases.events but event_no and the hashes. Named parameters only.

    The canonical JSON of the whole batch is built in DuckDB; only the chaining is a loop.
    Call it inside a transaction (see `atomically`): the head is read in the same transaction
    as the insert, so a concurrent append of the same event_no makes one of the two fail
    (primary key) instead of forking the chain."""
    head_no, prev_hash = head(con)
    events = con.sql(
        f"""
        with entries as ({entries_sql}),
        numbered as (
            select row_number() over (order by ord) + $head_no as event_no, * exclude (ord)
            from entries
        )
        select {_HASHED}, {canonical_sql()} as body
        from numbered
        order by event_no
        """,
        params={**(params or {}), "head_no": head_no},
    ).to_arrow_table()
    hashes = chain(prev_hash, events.column("body"))
    # Dropped before the insert: the bodies are most of the batch's memory.
    events = events.drop_columns(["body"])
    previous = pa.concat_arrays([pa.array([prev_hash], pa.string()), hashes])[: len(hashes)]
    chained = events.append_column("prev_hash", previous).append_column("hash", hashes)
    if chained.num_rows:
        with registered(con, _case_new_events=chained):
            con.execute(
                f"insert into cases.events ({COLUMNS}) select {COLUMNS} from _case_new_events"
            )
    return chained.select(["event_no", "prev_hash", "hash"])


def last_event(con: duckdb.DuckDBPyConnection, case_id: str) -> Event | None:
    """The case's current state is its last event."""
    rows = con.execute(
        f"select {COLUMNS} from cases.events where case_id = ? order by event_no desc limit 1",
        [case_id],
    ).fetchall()
    return Event.from_row(rows[0]) if rows else None


def history(con: duckdb.DuckDBPyConnection, case_id: str) -> list[Event]:
    rows = con.execute(
        f"select {COLUMNS} from cases.events where case_id = ? order by event_no", [case_id]
    ).fetchall()
    return [Event.from_row(row) for row in rows]


# How often a write is retried when another writer appended first. Each conflict means some
# other append is committing, so the log always progresses; a short random pause, longer at
# each attempt, spreads the retries (at most about a second in all).
ATTEMPTS = 30
_CONFLICT = ("duplicate key", "primary key or unique", "conflict")


def atomically(con: duckdb.DuckDBPyConnection, work: Callable[[], T]) -> T:
    """`work()` in one transaction, rerun from the start when a concurrent writer (another
    connection or cursor of this process; across processes DuckDB's file lock lets only one
    in) appends too: the rerun reads the new head and the case's new state, so it chains after
    them, or refuses a transition that is no longer allowed.

    A duplicate key is taken for such a collision: `work` must not make one of its own (event
    numbers come from the head read in the same transaction; `sync` checks the partition's IDs
    are unique before it writes)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction(con):
                return work()
        except (duckdb.TransactionException, duckdb.ConstraintException) as error:
            # The other writer may not have committed yet (DuckDB refuses a key that an open
            # transaction inserted, too): nothing to compare against, so just try again.
            if attempt == ATTEMPTS or not _is_conflict(error):
                raise
            time.sleep(random.uniform(0, 0.002 * attempt))
    raise AssertionError("unreachable")


def _is_conflict(error: BaseException | None) -> bool:
    # The conflict may be the error itself or the context of another one: look down the chain.
    while error is not None:
        if isinstance(error, duckdb.TransactionException | duckdb.ConstraintException):
            text = str(error).lower()
            if any(mark in text for mark in _CONFLICT):
                return True
        error = error.__context__
    return False
