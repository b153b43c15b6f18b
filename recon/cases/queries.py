"""Reading the cases: the work list (current state of each case, filtered and sorted), one case
with its history, and finding a case by an ID prefix the way git finds a commit."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb

from recon.cases.errors import AmbiguousCase, UnknownCase
from recon.cases.events import Event, State, history
from recon.cases.schema import cases_schema_exists
from recon.discrepancy_types import severity_rank_sql

# Shorter prefixes would match many cases as soon as there are a few thousand of them.
MIN_PREFIX = 8


@dataclass(frozen=True)
class Case:
    """A case's facts and its current state (its last event)."""

    case_id: str
    partition_date: date
    type: str
    severity: str
    checkout_id: str | None
    opened_at: datetime
    state: State
    updated_at: datetime  # when the last event happened

    def age(self, now: datetime) -> timedelta:
        return now - self.opened_at


@dataclass(frozen=True)
class CaseList:
    cases: list[Case]
    total: int  # matching cases, of which `cases` holds at most the limit


_CURRENT = """
select c.case_id, c.partition_date, c.type, c.severity, c.checkout_id, c.opened_at,
       e.status, e.assignee, e.resolution, e.amount_minor, e.currency, e."at" as updated_at
from cases.cases c
join (
    select * from cases.events
    qualify row_number() over (partition by case_id order by event_no desc) = 1
) e on e.case_id = c.case_id
"""


def _case(row: tuple) -> Case:
    case_id, partition_date, type_, severity, checkout_id, opened_at, *state, updated_at = row
    return Case(
        case_id, partition_date, type_, severity, checkout_id, opened_at, State(*state), updated_at
    )


# The work list's filters over the current states (`_CURRENT`); each empty one matches all.
_FILTERED = f"""
select * from ({_CURRENT}) c
where (len($statuses) = 0 or list_contains($statuses, status))
  and (len($types) = 0 or list_contains($types, type))
  and (len($severities) = 0 or list_contains($severities, severity))
  and ($older_than is null or opened_at < $now - $older_than)
"""

# The assignee filter's value for the cases nobody holds.
NOBODY = ""


def _filters(
    statuses: Sequence[str],
    types: Sequence[str],
    severities: Sequence[str],
    older_than: timedelta | None,
    now: datetime | None,
) -> dict:
    return {
        "statuses": list(statuses),
        "types": list(types),
        "severities": list(severities),
        "older_than": older_than,
        "now": now or datetime.now(UTC),
    }


def list_cases(
    con: duckdb.DuckDBPyConnection,
    *,
    statuses: Sequence[str] = (),
    types: Sequence[str] = (),
    severities: Sequence[str] = (),
    older_than: timedelta | None = None,
    now: datetime | None = None,
    assignee: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> CaseList:
    """Cases whose current state matches every filter given (an empty filter matches all;
    `assignee` NOBODY matches the cases nobody holds), the most severe first and, within a
    severity, the oldest first (age: from opened_at to `now`); `limit` of them from `offset`."""
    if not cases_schema_exists(con):
        return CaseList([], 0)
    params = _filters(statuses, types, severities, older_than, now) | {"assignee": assignee}
    held = "$assignee is null or coalesce(assignee, '') = $assignee"
    rows = con.execute(
        f"""
        select *, count(*) over () as total from ({_FILTERED}) c where {held}
        order by {severity_rank_sql("severity")}, opened_at, case_id
        limit $limit offset $offset
        """,
        params | {"limit": limit, "offset": offset},
    ).fetchall()
    if rows:
        return CaseList([_case(row[:-1]) for row in rows], rows[0][-1])
    if not offset:
        return CaseList([], 0)
    # Past the last page: the total still says how many match.
    [(total,)] = con.execute(
        f"select count(*) from ({_FILTERED}) c where {held}", params
    ).fetchall()
    return CaseList([], total)


def assignees(
    con: duckdb.DuckDBPyConnection,
    *,
    statuses: Sequence[str] = (),
    types: Sequence[str] = (),
    severities: Sequence[str] = (),
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Whoever holds a case matching the filters, by name: the choices of an assignee filter."""
    if not cases_schema_exists(con):
        return []
    rows = con.execute(
        f"select distinct assignee from ({_FILTERED}) c where assignee is not null order by 1",
        _filters(statuses, types, severities, older_than, now),
    ).fetchall()
    return [row[0] for row in rows]


def find_case(con: duckdb.DuckDBPyConnection, id_or_prefix: str) -> str:
    """The full case ID: `id_or_prefix` itself, else the one case whose ID starts with it (at
    least MIN_PREFIX characters). Unknown and ambiguous prefixes are errors; an ambiguous one
    lists its candidates."""
    text = id_or_prefix.strip()
    if not cases_schema_exists(con):
        raise UnknownCase(text)
    exact = con.execute("select 1 from cases.cases where case_id = ?", [text]).fetchall()
    if exact:
        return text
    if len(text) < MIN_PREFIX:
        raise UnknownCase(text, f" (a case ID prefix needs at least {MIN_PREFIX} characters)")
    # `starts_with` rather than LIKE: an ID with % or _ in it means itself.
    candidates = [
        row[0]
        for row in con.execute(
            "select case_id from cases.cases where starts_with(case_id, ?) order by case_id "
            "limit 101",
            [text],
        ).fetchall()
    ]
    if not candidates:
        raise UnknownCase(text)
    if len(candidates) > 1:
        raise AmbiguousCase(text, candidates)
    return candidates[0]


def get_case(con: duckdb.DuckDBPyConnection, case_id: str) -> tuple[Case, list[Event]]:
    """The case (exact ID) and its full history, oldest event first."""
    rows = (
        con.execute(f"select * from ({_CURRENT}) where case_id = ?", [case_id]).fetchall()
        if cases_schema_exists(con)
        else []
    )
    if not rows:
        raise UnknownCase(case_id)
    return _case(rows[0]), history(con, case_id)
