"""What people do to a case: acknowledge, assign, resolve, reopen, note. Each appends one event,
after checking that the case's current status allows it."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import duckdb

from recon.cases.errors import TransitionRefused, UnknownCase
from recon.cases.events import Entry, Event, State, append, atomically, last_event
from recon.cases.schema import cases_schema_exists
from recon.cases.vocabulary import RESOLUTIONS

# The statuses each human action starts from. A cleared case allows none: its discrepancy is
# gone, and it reopens by itself (`sync`) if the discrepancy comes back.
ALLOWED_FROM = {
    "acknowledged": ("open",),
    "assigned": ("open", "acknowledged", "resolved"),
    "resolved": ("open", "acknowledged"),
    "reopened": ("resolved",),
    "noted": ("open", "acknowledged", "resolved"),
}

_WHY_NOT = {
    ("acknowledged", "acknowledged"): "it is already acknowledged",
    ("acknowledged", "resolved"): "a resolved case cannot be acknowledged (reopen it first)",
    ("resolved", "resolved"): "it is already resolved (reopen it first to resolve it again)",
    ("reopened", "open"): "only a resolved case can be reopened",
    ("reopened", "acknowledged"): "only a resolved case can be reopened",
}
_CLEARED = (
    "its discrepancy is no longer found, so there is nothing to act on; the case reopens by "
    "itself if a later run finds the discrepancy again"
)


def acknowledge(
    con: duckdb.DuckDBPyConnection,
    case_id: str,
    *,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Event:
    """Someone has seen the case and is on it: open -> acknowledged."""
    return _act(
        con, case_id, "acknowledged", by, note, now, lambda s: replace(s, status="acknowledged")
    )


def assign(
    con: duckdb.DuckDBPyConnection,
    case_id: str,
    *,
    to: str,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Event:
    """Give the case to `to`; its status stays as it is."""
    to = _required(to, "the assignee")

    def change(state: State) -> State:
        if state.assignee == to:
            raise TransitionRefused(case_id, state.status, f"it is already assigned to {to}")
        return replace(state, assignee=to)

    return _act(con, case_id, "assigned", by, note, now, change)


def resolve(
    con: duckdb.DuckDBPyConnection,
    case_id: str,
    *,
    resolution: str,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Event:
    """Close the case as `resolution` (one of RESOLUTIONS): open or acknowledged -> resolved."""
    if resolution not in RESOLUTIONS:
        raise ValueError(
            f"resolution {resolution!r} is not one of {', '.join(RESOLUTIONS)}"
            if resolution
            else f"a resolution is required: one of {', '.join(RESOLUTIONS)}"
        )
    return _act(
        con,
        case_id,
        "resolved",
        by,
        note,
        now,
        lambda s: replace(s, status="resolved", resolution=resolution),
    )


def reopen(
    con: duckdb.DuckDBPyConnection,
    case_id: str,
    *,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Event:
    """Undo a resolution: resolved -> open (the resolution stays in the history)."""
    return _act(
        con,
        case_id,
        "reopened",
        by,
        note,
        now,
        lambda s: replace(s, status="open", resolution=None),
    )


def note(
    con: duckdb.DuckDBPyConnection,
    case_id: str,
    *,
    text: str,
    by: str,
    now: datetime | None = None,
) -> Event:
    """Add a remark to the case's history; its state stays as it is."""
    return _act(con, case_id, "noted", by, _required(text, "the note"), now, lambda s: s)


def _required(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


def _act(
    con: duckdb.DuckDBPyConnection,
    case_id: str,
    action: str,
    by: str,
    note: str | None,
    now: datetime | None,
    change: Callable[[State], State],
) -> Event:
    by = _required(by, "who acts (by)")
    note = (note or "").strip() or None
    at = now or datetime.now(UTC)

    if not cases_schema_exists(con):
        raise UnknownCase(case_id)

    def work() -> Event:
        # Read inside the transaction that appends: a concurrent action on the same case makes
        # this one retry against the new state (see `atomically`).
        last = last_event(con, case_id)
        if last is None:
            raise UnknownCase(case_id)
        status = last.state.status
        if status not in ALLOWED_FROM[action]:
            reason = _CLEARED if status == "cleared" else _WHY_NOT.get((action, status))
            raise TransitionRefused(case_id, status, reason or f"it cannot be {action}")
        [event] = append(con, [Entry(case_id, at, by, action, change(last.state), note)])
        return event

    return atomically(con, work)
