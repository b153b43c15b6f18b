"""The figures of the cases page: the work queue by age and severity, how long resolving takes,
and who resolved what. Cases span every date, so the page shows the whole warehouse as of the
moment it is built; without the cases schema (never synced) every table is empty."""

from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from recon.cases.schema import cases_schema_exists
from recon.discrepancy_types import severity_rank_sql
from recon.reports.data import query

# Age buckets of an unresolved case, from when it was first opened: (column, upper bound in days).
AGE_BUCKETS = (
    ("under_1_day", 1),
    ("days_1_to_3", 3),
    ("days_3_to_7", 7),
    ("days_7_to_30", 30),
    ("over_30_days", None),
)

OPEN_BY_AGE_SCHEMA = {
    "severity": pl.String,
    "status": pl.String,
    **{name: pl.Int64 for name, _ in AGE_BUCKETS},
    "total": pl.Int64,
}
TIME_TO_RESOLVE_SCHEMA = {
    "severity": pl.String,
    "resolved": pl.Int64,
    "median_hours": pl.Float64,
    "p90_hours": pl.Float64,
}
RESOLVERS_SCHEMA = {"resolved_by": pl.String, "resolution": pl.String, "cases": pl.Int64}

# Each case's last event: its state now.
_CURRENT = """
current_state as (
    select case_id, status, resolution, actor, "at", action
    from cases.events
    qualify row_number() over (partition by case_id order by event_no desc) = 1
)
"""


@dataclass(frozen=True)
class CasesData:
    open_by_age: pl.DataFrame  # severity, status, one column per AGE_BUCKETS, total
    time_to_resolve: pl.DataFrame  # severity, resolved, median_hours, p90_hours
    resolvers: pl.DataFrame  # resolved_by, resolution, cases


def _bucket_columns() -> str:
    age = "date_diff('second', c.opened_at, $now) / 86400.0"
    columns, lower = [], 0
    for name, upper in AGE_BUCKETS:
        condition = f"{age} >= {lower}" + (f" and {age} < {upper}" if upper else "")
        columns.append(f"count(*) filter (where {condition}) as {name}")
        lower = upper
    return ",\n        ".join(columns)


def _open_by_age(con: duckdb.DuckDBPyConnection, now: datetime) -> pl.DataFrame:
    return query(
        con,
        f"""
        with {_CURRENT}
        select
            c.severity,
            s.status,
            {_bucket_columns()},
            count(*) as total
        from cases.cases as c
        inner join current_state as s using (case_id)
        where s.status in ('open', 'acknowledged')
        group by c.severity, s.status
        order by {severity_rank_sql("c.severity")}, s.status desc
        """,
        {"now": now},
    )


# A resolved case's time to resolve: from the opening (or reopening) before its resolution to
# the resolution itself.
_RESOLUTIONS = f"""
with {_CURRENT},
resolved_event as (
    select e.case_id, e."at" as resolved_at, e.actor as resolved_by, e.resolution, e.event_no
    from cases.events as e
    inner join current_state as s using (case_id)
    where s.status = 'resolved' and e.action = 'resolved'
    qualify row_number() over (partition by e.case_id order by e.event_no desc) = 1
),
opened_before as (
    select r.case_id, max(e."at") as since
    from resolved_event as r
    inner join cases.events as e
        on e.case_id = r.case_id and e.event_no < r.event_no
        and e.action in ('opened', 'reopened')
    group by r.case_id
)
"""


def _time_to_resolve(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return query(
        con,
        f"""
        {_RESOLUTIONS},
        hours as (
            select c.severity, date_diff('second', o.since, r.resolved_at) / 3600.0 as hours
            from resolved_event as r
            inner join opened_before as o using (case_id)
            inner join cases.cases as c using (case_id)
        )
        select
            severity,
            count(*) as resolved,
            round(median(hours), 1) as median_hours,
            round(quantile_cont(hours, 0.9), 1) as p90_hours
        from hours
        group by severity
        order by {severity_rank_sql()}
        """,
        {},
    )


def _resolvers(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return query(
        con,
        f"""
        {_RESOLUTIONS}
        select resolved_by, resolution, count(*) as cases
        from resolved_event
        group by resolved_by, resolution
        order by cases desc, resolved_by, resolution
        """,
        {},
    )


def cases(con: duckdb.DuckDBPyConnection, now: datetime) -> CasesData:
    if not cases_schema_exists(con):
        return CasesData(
            pl.DataFrame(schema=OPEN_BY_AGE_SCHEMA),
            pl.DataFrame(schema=TIME_TO_RESOLVE_SCHEMA),
            pl.DataFrame(schema=RESOLVERS_SCHEMA),
        )
    return CasesData(_open_by_age(con, now), _time_to_resolve(con), _resolvers(con))
