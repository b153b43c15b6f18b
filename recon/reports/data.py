"""What each report shows, read from the warehouse marts as Polars frames."""

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import polars as pl

from recon.discrepancy_types import money_types, severity_rank_sql


def query(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> pl.DataFrame:
    # A cursor of its own: DuckDB 2 refuses relation queries while an execute() result on the
    # same connection is still open.
    with con.cursor() as cursor:
        return pl.from_arrow(cursor.sql(sql, params=params).to_arrow_table())


# Rows a page lists per table (per type of discrepancy, per currency of unmatched amounts). At 10M
# checkouts a page listing every discrepancy weighed 400 MB, more than a browser opens; every row
# stays in the page's exports.
PAGE_ROWS = 1000
# The order discrepancies are listed in: worst first, then newest business date, then largest.
# A total order (the ID last): the finance page must pick the same rows as the discrepancies page.
LISTING_ORDER = f"""
    {severity_rank_sql()},
    business_date desc, amount_minor desc nulls last, checkout_id, discrepancy_id
"""


@dataclass(frozen=True)
class FinanceData:
    daily: pl.DataFrame  # per currency
    # the PAGE_ROWS largest critical or high discrepancies with money per currency, largest
    # first, `on_discrepancy_page` when the discrepancies page lists it too; every one of them is
    # in `every_unmatched`, which the export writes
    unmatched: pl.DataFrame
    cash: pl.DataFrame  # per currency (cash_daily); no rows without the provider's reports
    waiting: pl.DataFrame  # captures waiting for settlement, per currency and age
    # the latest instant of the provider's reports in the read window; None: none were landed
    settlement_as_of: datetime | None
    settlement_sla_days: int


@dataclass(frozen=True)
class MarketingData:
    funnel: pl.DataFrame  # one row
    attribution: pl.DataFrame  # per currency, source, campaign
    gap_trend: pl.DataFrame  # per business date and currency, up to the report date


@dataclass(frozen=True)
class BridgeData:
    lines: pl.DataFrame  # per currency, line_no order


@dataclass(frozen=True)
class DiscrepancyData:
    by_type: pl.DataFrame  # type, severity, count, amount per currency
    listed: pl.DataFrame  # the first PAGE_ROWS of each type in LISTING_ORDER, with their evidence
    history: pl.DataFrame  # count per business date and severity, up to the report date


def finance_daily(con: duckdb.DuckDBPyConnection, day: date) -> pl.DataFrame:
    """The day's finance figures per currency (what the index page shows)."""
    return query(
        con,
        "select * exclude (_partition_date) from marts.finance_daily "
        "where _partition_date = $day order by currency",
        {"day": day},
    )


# Every critical or high discrepancy with money, per currency, largest first: what the finance
# page's unmatched amounts list and export. Parameters: $day and $money (the money types).
_UNMATCHED = """
    select
        discrepancy_id, type, severity, checkout_id, subject_id, amount_minor, currency, details
    from marts.discrepancies
    where _partition_date = $day and type in (select unnest($money)) and amount_minor is not null
"""
_UNMATCHED_ORDER = "currency, amount_minor desc, checkout_id, discrepancy_id"


def _unmatched_params(day: date) -> dict:
    return {"day": day, "money": sorted(money_types())}


def every_unmatched(con: duckdb.DuckDBPyConnection, day: date) -> pl.DataFrame:
    """Every unmatched amount of the day, in the page's order: the finance_unmatched export."""
    return query(con, f"{_UNMATCHED} order by {_UNMATCHED_ORDER}", _unmatched_params(day))


# The discrepancies the discrepancies page lists: the first $rows of each type.
_ON_DISCREPANCY_PAGE = f"""
    select discrepancy_id from marts.discrepancies
    where _partition_date = $day
    qualify row_number() over (partition by type order by {LISTING_ORDER}) <= $rows
"""


def finance(con: duckdb.DuckDBPyConnection, day: date) -> FinanceData:
    daily = finance_daily(con, day)
    # The listed rows alone, ranked unsorted: the export reads every row, sorted, by itself
    # (`every_unmatched`). At 10M checkouts ranking every row here as well took 3.2 s, now 1.7 s.
    params = {**_unmatched_params(day), "rows": PAGE_ROWS}
    unmatched = query(
        con,
        f"""
        with listed as (
            select * from ({_UNMATCHED})
            qualify row_number() over (
                partition by currency order by amount_minor desc, checkout_id, discrepancy_id
            ) <= $rows
        )

        select
            listed.*,
            listed.discrepancy_id in (select discrepancy_id from ({_ON_DISCREPANCY_PAGE}))
                as on_discrepancy_page
        from listed
        order by {_UNMATCHED_ORDER}
        """,
        params,
    )
    if not _has_cash_marts(con):
        # A warehouse no run has reached since the cash marts exist: no cash figures yet.
        cash, waiting = pl.DataFrame(), pl.DataFrame()
        return FinanceData(daily, unmatched, cash, waiting, None, None)
    cash = query(
        con,
        "select * exclude (_partition_date, business_date) from marts.cash_daily "
        "where _partition_date = $day order by currency",
        {"day": day},
    )
    waiting = query(
        con,
        """
        select currency, age_bucket, settlement_sla_days, captures, amount_minor
        from marts.cash_waiting_captures
        where _partition_date = $day order by currency, age_bucket_no
        """,
        {"day": day},
    )
    [(settlement_as_of, sla_days)] = query(
        con,
        "select settlement_as_of, settlement_sla_days from intermediate.int_run_context "
        "where _partition_date = $day",
        {"day": day},
    ).rows()
    return FinanceData(daily, unmatched, cash, waiting, settlement_as_of, sla_days)


def _has_cash_marts(con: duckdb.DuckDBPyConnection) -> bool:
    found = {
        (table, column)
        for table, column in con.execute(
            "select table_name, column_name from duckdb_columns() "
            "where (schema_name, table_name) in (('marts', 'cash_daily'), "
            "('marts', 'cash_waiting_captures'), ('intermediate', 'int_run_context'))"
        ).fetchall()
    }
    tables = {table for table, _ in found}
    return {"cash_daily", "cash_waiting_captures"} <= tables and (
        ("int_run_context", "settlement_as_of") in found
    )


def marketing(con: duckdb.DuckDBPyConnection, day: date) -> MarketingData:
    funnel = query(
        con,
        "select * exclude (_partition_date) from marts.marketing_funnel "
        "where _partition_date = $day",
        {"day": day},
    )
    attribution = query(
        con,
        """
        select * exclude (_partition_date) from marts.marketing_attribution
        where _partition_date = $day
        order by currency, server_revenue_minor desc, utm_source, utm_campaign
        """,
        {"day": day},
    )
    gap_trend = query(
        con,
        """
        select
            business_date, currency,
            cast(sum(client_revenue_minor) as bigint) as client_revenue_minor,
            cast(sum(server_revenue_minor) as bigint) as server_revenue_minor,
            cast(sum(gap_minor) as bigint) as gap_minor
        from marts.marketing_attribution
        where _partition_date <= $day
        group by business_date, currency
        order by business_date, currency
        """,
        {"day": day},
    )
    return MarketingData(funnel, attribution, gap_trend)


def bridge(con: duckdb.DuckDBPyConnection, day: date) -> BridgeData:
    lines = query(
        con,
        """
        select currency, line_no, line, kind, amount_minor from marts.revenue_bridge
        where _partition_date = $day order by currency, line_no
        """,
        {"day": day},
    )
    return BridgeData(lines)


# Every discrepancy of the day with its age: what the discrepancies page lists (the first
# PAGE_ROWS of each type) and exports (all of them). Parameter: $day.
_DISCREPANCIES = """
    select
        d.discrepancy_id, d.type, d.severity, d.checkout_id, d.amount_minor,
        d.currency, d.business_date,
        date_diff('day', d.business_date, cast(ctx.as_of as date)) as age_days,
        d.details
    from marts.discrepancies d
    join intermediate.int_run_context ctx on ctx._partition_date = d._partition_date
    where d._partition_date = $day
"""


def every_discrepancy(con: duckdb.DuckDBPyConnection, day: date) -> pl.DataFrame:
    """Every discrepancy of the day in LISTING_ORDER: the discrepancies export."""
    return query(con, f"{_DISCREPANCIES} order by {LISTING_ORDER}", {"day": day})


def discrepancies(con: duckdb.DuckDBPyConnection, day: date) -> DiscrepancyData:
    listed = query(
        con,
        f"""
        with listed as (
            select * from ({_DISCREPANCIES})
            qualify row_number() over (partition by type order by {LISTING_ORDER}) <= $rows
        )

        -- What proves each listed finding, counted per source: the rows themselves are in the
        -- evidence export (listed for every finding, the page would outgrow a browser).
        , listed_evidence as (
            select
                discrepancy_id,
                string_agg(source || ' ' || found, ', ' order by source) as evidence
            from (
                select e.discrepancy_id, e.source, count(*) as found
                from marts.discrepancy_evidence e
                semi join listed on listed.discrepancy_id = e.discrepancy_id
                where e._partition_date = $day
                group by all
            )
            group by discrepancy_id
        )

        select listed.*, listed_evidence.evidence
        from listed
        left join listed_evidence using (discrepancy_id)
        order by {LISTING_ORDER}
        """,
        {"day": day, "rows": PAGE_ROWS},
    )
    by_type = query(
        con,
        f"""
        select type, severity, currency, count(*) as discrepancies,
            cast(sum(amount_minor) as bigint) as amount_minor
        from marts.discrepancies where _partition_date = $day
        group by type, severity, currency
        order by {severity_rank_sql()}, type, currency nulls first
        """,
        {"day": day},
    )
    history = query(
        con,
        """
        select business_date, severity, count(*) as discrepancies
        from marts.discrepancies where _partition_date <= $day
        group by business_date, severity order by business_date, severity
        """,
        {"day": day},
    )
    return DiscrepancyData(by_type, listed, history)
