"""The plain-SQL baseline of bench/reconcile.py: the nineteen discrepancy rules as DuckDB queries.

Hand-written queries straight over one partition's landing Parquet files:

    python bench/baseline.py LANDING [--date 2026-05-06] [--memory-limit 2500MB]
        [--fee-schedule JSON]

It is the reference the daily job is measured against (the issue: the whole job should stay within
3× of it): what a data engineer would write by hand instead of the pipeline, for speed. No warehouse
file, no stored layers, no checks, no reports; an in-memory DuckDB connection with default settings
but its memory_limit. It finds the same (checkout_id, type) pairs as the pipeline's models
(dbt_like_models/) on the same files: the partition reads landing dates D-3 to D+3; a checkout
belongs to the UTC day of its first record and only the business date's are reported; orders and
fulfillments keep their latest version, payments, moves and events one copy per ID; only succeeded
payments count; the time rules run on the data's clock (`as_of`, the latest server-side instant,
never the wall clock), with the run's settings (`RunParams`: those of the job compared with; the
command line takes recon/run_params.py's defaults and the benchmark's fee schedule).

Written for speed: the rare cases are found first, and per-ID work is done for them only.
- Money (orders, payments, fulfillments): the authorizations not simply captured or voided from
  their own checkout are found first (held, or named from elsewhere); then one pass per checkout
  sets aside the plain happy path (one order row, placed; one succeeded capture of its total in its
  currency; no other succeeded payment but the authorization that capture names), which breaks no
  money rule. The pipeline's logic then runs on the other checkouts only (one in eight),
  deduplicated.
- Client events: one pass per checkout counts starts, completions and orders; IDs are compared,
  and an order's latest version looked up, only for the checkouts flagged.
- Reservations: reserves with no release or commit, grouped only once few are left.
- Business date: only checkouts with a record outside the day need their first record looked up.
- Cash (the provider's settlements and payouts, read where the landing has their folders; see
  docs/settlement.md): one query per rule. A line is matched to the payment it names by its
  psp_reference (a charge, chargeback or reversal to a succeeded capture, a refund line to a
  succeeded refund); each rule first narrows the lines to its few suspects (a fee off the
  schedule, a repeated reference, a chargeback, a payout arriving on the day, a charge line
  settled on the day) and only then looks up their payments. The settlement clock is the latest
  instant of the provider's reports (settled_at, payouts' created_at); the fee schedule and the
  tolerances are the run's settings (`RunParams`), as small tables shaped like the pipeline's
  meta.fee_schedule and meta.tolerances. Findings with no checkout (settlement_without_capture,
  payout_mismatch, and a chargeback or fee_mismatch on a line no payment explains) are named by
  their subject, the line or payout, on the date of the line's settled_at or the payout's
  arrival_date.
No CTE over a whole table is read twice (DuckDB materialises a CTE referenced more than once): each
branch reads the files itself, or joins back to a few candidates.

Assumed, and true of the benchmark's files (testdata/bulk.py): the rows are valid contract
rows, as ingestion would load them (trimmed, nothing quarantined); copies of one payment, move,
event or settlement line ID are the same row re-exported; a psp_reference names one payment of a
kind; an order's versions keep its checkout and created_at, a fulfillment's its checkout, order and
created_at. Enums are still compared lower-cased
and currencies upper-cased, as staging does.
"""

import argparse
import re
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from recon.cash_settings import FeeSchedule  # noqa: E402
from recon.contract import SOURCES as CONTRACT  # noqa: E402
from recon.landing import window  # noqa: E402
from recon.run_params import RunParams, param_table_sql  # noqa: E402

SOURCES = ("orders", "payments", "inventory_moves", "fulfillments", "analytics_events")
# The provider's reports: optional, reconciled only where the landing has their folder.
CASH_SOURCES = ("settlements", "payouts")
PARAMS = RunParams()


def landing_files(
    landing: Path, day: date, lookback_days: int = PARAMS.lookback_days
) -> dict[str, list[str]]:
    """Each source's Parquet files of the partition's read window (`<source>/<date>/*.parquet`);
    the cash sources' only where the landing has their folder (none: an empty list)."""
    files = {}
    for source in (*SOURCES, *CASH_SOURCES):
        if source in CASH_SOURCES and not (landing / source).is_dir():
            files[source] = []
            continue
        found = [
            str(path)
            for landing_date in window(day, lookback_days)
            for path in sorted((landing / source / landing_date.isoformat()).glob("*.parquet"))
        ]
        if not found and source in SOURCES:
            raise FileNotFoundError(f"{landing}/{source}: no Parquet file from D-3 to D+3 of {day}")
        files[source] = found
    return files


def reader(files: list[str], lineage: bool = False) -> str:
    """`read_parquet` of the files; with `lineage`, the file and row that order copies and versions
    the way ingestion's _landing_date, _source_file and _line do (the path holds the date)."""
    paths = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    options = ", filename = true, file_row_number = true" if lineage else ""
    return f"read_parquet([{paths}]{options})"


def cash_reader(files: dict[str, list[str]], source: str, lineage: bool = False) -> str:
    """`reader` of a cash source's files, or, where it has none, a relation of its contract
    columns with no row (every rule then finds nothing, as the pipeline's do)."""
    if files[source]:
        return reader(files[source], lineage)
    columns = [f"null::{c.sql_type} as {c.name}" for c in CONTRACT[source].columns]
    if lineage:
        columns += ["null::varchar as filename", "null::bigint as file_row_number"]
    return f"(select {', '.join(columns)} where false)"


# When each source says a checkout was seen: its first record decides the checkout's business date.
RECORDED_AT = {
    "orders": "created_at",
    "payments": "created_at",
    "inventory_moves": "created_at",
    "fulfillments": "created_at",
    "analytics_events": "received_at",
}

# An order's or fulfillment's latest version: the greatest updated_at, then (as staging breaks
# ties) the later landing date, file and line; the file's path starts with its landing date.
LATEST_VERSION = "(updated_at, filename, file_row_number)"

MONEY_SQL = (Path(__file__).parent / "baseline_money.sql").read_text()


def as_of_sql(files: dict[str, list[str]]) -> str:
    # Maxima of whole columns: DuckDB answers most from the Parquet statistics.
    return f"""
        select greatest(
            (select max(updated_at) from {reader(files["orders"])}),
            (select max(created_at) from {reader(files["payments"])}),
            (select max(created_at) from {reader(files["inventory_moves"])}),
            (select max(updated_at) from {reader(files["fulfillments"])})
        )
    """


def money_sql(files: dict[str, list[str]]) -> str:
    """duplicate_charge, payment_without_order, refund_exceeds_capture, duplicate_order,
    order_without_payment, amount_mismatch, uncaptured_authorization and
    fulfillment_after_cancellation, as (checkout_id, type) rows: one query, kept in
    baseline_money.sql for its length, with the readers of the files put in."""
    return MONEY_SQL.format(
        orders=reader(files["orders"]),
        payments=reader(files["payments"]),
        orders_lineage=reader(files["orders"], lineage=True),
        fulfillments_lineage=reader(files["fulfillments"], lineage=True),
        latest_version=LATEST_VERSION,
    )


def client_sql(files: dict[str, list[str]]) -> str:
    """duplicate_analytics_event, phantom_completion and unattributed_revenue, as (checkout_id,
    type) rows: the client's starts and completions stacked with the orders, counted per
    checkout."""
    events, orders = files["analytics_events"], files["orders"]
    return f"""
    with events_and_orders as (
        select checkout_id, lower(event_name) as event_name,
            trim(utm_source) <> '' as has_campaign, null as order_status
        from {reader(events)}
        where
            lower(event_name) in ('checkout_started', 'checkout_completed')
            and checkout_id <> ''
        union all
        select checkout_id, null, trim(utm_source) <> '', lower(status)
        from {reader(orders)}
    ),

    -- Per checkout, the starts and completions counted, and which of four facts hold as bits of
    -- one integer (one bit_or is cheaper than a filtered count each): a completion (1), one with
    -- a campaign (2), an order (4), a placed order with a campaign (8). Rows are counted, not IDs:
    -- two rows may be copies of one event, and an order's latest version may not be the placed
    -- one, so both are checked below, for the few checkouts flagged.
    flagged as (
        select *
        from (
            select
                checkout_id,
                start_rows > 1 or completion_rows > 1 as repeated_rows,
                (facts & 1) = 1 and (facts & 4) = 0 as phantom,
                (facts & 8) = 8 and (facts & 2) = 0 as maybe_unattributed
            from (
                select
                    checkout_id,
                    count(*) filter (event_name = 'checkout_started') as start_rows,
                    count(*) filter (event_name = 'checkout_completed') as completion_rows,
                    bit_or(
                        case
                            when event_name = 'checkout_completed' and has_campaign then 3
                            when event_name = 'checkout_completed' then 1
                            when order_status = 'placed' and has_campaign then 12
                            when order_status is not null then 4
                            else 0
                        end
                    ) as facts
                from events_and_orders
                group by checkout_id
            )
        )
        where repeated_rows or phantom or maybe_unattributed
    ),

    repeated_events as (
        select distinct checkout_id
        from {reader(events)}
        where
            lower(event_name) in ('checkout_started', 'checkout_completed')
            and checkout_id in (select checkout_id from flagged where repeated_rows)
        group by checkout_id, lower(event_name)
        having count(distinct event_id) > 1
    ),

    latest_orders as (
        select latest.status, latest.has_campaign, latest.checkout_id
        from (
            select
                order_id,
                arg_max(
                    {{
                        'checkout_id': checkout_id,
                        'status': lower(status),
                        'has_campaign': trim(utm_source) <> ''
                    }},
                    {LATEST_VERSION}
                ) as latest
            from {reader(orders, lineage=True)}
            where checkout_id in (select checkout_id from flagged where maybe_unattributed)
            group by order_id
        )
    )

    select checkout_id, 'duplicate_analytics_event' as type from repeated_events
    union all
    select checkout_id, 'phantom_completion' from flagged where phantom
    union all
    select checkout_id, 'unattributed_revenue' from latest_orders
    where status = 'placed' and has_campaign
    """


def reservations_sql(files: dict[str, list[str]]) -> str:
    """orphaned_reservation as (checkout_id, type) rows."""
    moves = files["inventory_moves"]
    return f"""
    -- Reserves whose reservation was neither released nor committed: the anti-join leaves few,
    -- and only they are grouped per reservation (all its moves are reserves, so its checkout is
    -- theirs).
    with open_reserves as (
        select reservation_id, checkout_id, created_at
        from {reader(moves)} as reserve
        where
            lower(kind) = 'reserve'
            and not exists (
                select 1
                from {reader(moves)} as ending
                where
                    lower(ending.kind) in ('release', 'commit')
                    and ending.reservation_id = reserve.reservation_id
            )
    )

    select min(checkout_id) as checkout_id, 'orphaned_reservation' as type
    from open_reserves
    group by reservation_id
    having min(created_at) <= $as_of - to_minutes($reservation_ttl_minutes)
    """


# -- cash: the provider's settlement lines and payouts ------------------------------------------

# The kind of payment a line names: a charge, chargeback or reversal names a capture, a refund
# line a refund (for the four line types that name one).
PAYMENT_LINE_TYPES = "('charge', 'refund', 'chargeback', 'chargeback_reversal')"
NAMED_KIND = "case lower(line.line_type) when 'refund' then 'refund' else 'capture' end"


def settled_payments(files: dict[str, list[str]]) -> str:
    """The succeeded captures and refunds a settlement line may name."""
    return f"""
        select psp_reference, lower(kind) as kind, checkout_id, amount_minor,
            upper(currency) as currency
        from {reader(files["payments"])}
        where
            lower(status) = 'succeeded'
            and lower(kind) in ('capture', 'refund')
            and psp_reference is not null"""


def settlement_clock_sql(files: dict[str, list[str]]) -> str:
    """The latest instant of the provider's reports (null without them): column maxima, which
    DuckDB answers from the Parquet statistics."""
    return f"""
        select max(recorded_at) from (
            select max(settled_at) as recorded_at from {cash_reader(files, "settlements")}
            union all
            select max(created_at) from {cash_reader(files, "payouts")}
        )
    """


def beyond_tolerance(difference: str, expected: str) -> str:
    """Whether `difference` is beyond the tolerance of the rule and currency (the tolerances
    table, one row per rule and currency, joined as `tolerance` by `tolerance_joins`): more than
    `absolute_minor`, and more than `relative_ppm` of the `expected` amount."""
    return f"""(
            {difference} > tolerance.absolute_minor
            and {difference} * 1000000 > tolerance.relative_ppm * abs({expected})
        )"""


def tolerance_joins(rule: str, currency: str) -> str:
    """The tolerance of `rule` for `currency` (SQL), as `tolerance`."""
    return f"""
        inner join tolerances as tolerance
            on tolerance.rule = '{rule}' and tolerance.currency = {currency}"""


# Each cash rule's query returns (checkout_id, subject_id, type): a finding tied to a checkout has
# its checkout (kept if the checkout is of the business date, like every other rule's); one with no
# checkout has its subject, and is already of the business date.


def settlement_without_capture_sql(files: dict[str, list[str]]) -> str:
    """The charge lines settled on the day (few: one day's lines) that name no succeeded
    capture."""
    return f"""
    select distinct null::varchar, line.settlement_line_id, 'settlement_without_capture'
    from {cash_reader(files, "settlements")} as line
    where
        lower(line.line_type) = 'charge'
        and line.settled_at >= $day_starts and line.settled_at < $day_ends
        and not exists (
            select 1
            from ({settled_payments(files)}) as capture
            where capture.kind = 'capture' and capture.psp_reference = line.psp_reference
        )
    """


def duplicate_settlement_sql(files: dict[str, list[str]]) -> str:
    """Captures settled by more than one charge line: references repeated among the charge lines
    first (a grouping on the reference alone), distinct line IDs counted for those few."""
    settlements = cash_reader(files, "settlements")
    return f"""
    with repeated_references as (
        select psp_reference
        from {settlements}
        where lower(line_type) = 'charge'
        group by psp_reference
        having count(*) > 1
    ),

    repeated_lines as (
        select psp_reference
        from {settlements}
        where
            lower(line_type) = 'charge'
            and psp_reference in (select psp_reference from repeated_references)
        group by psp_reference
        having count(distinct settlement_line_id) > 1
    )

    select distinct capture.checkout_id, null::varchar, 'duplicate_settlement'
    from ({settled_payments(files)}) as capture
    where
        capture.kind = 'capture'
        and capture.psp_reference in (select psp_reference from repeated_lines)
    """


def payout_mismatch_sql(files: dict[str, list[str]]) -> str:
    """The paid payouts arriving on the day (a handful; each payout's latest row) against the sum
    of their lines' net in their currency."""
    return f"""
    with latest_payouts as (
        select payout_id, latest.*
        from (
            select
                payout_id,
                arg_max(
                    {{
                        'amount_minor': amount_minor,
                        'currency': upper(currency),
                        'status': lower(status),
                        'arrival_date': cast(arrival_date as date)
                    }},
                    (created_at, filename, file_row_number)
                ) as latest
            from {cash_reader(files, "payouts", lineage=True)}
            group by payout_id
        )
    ),

    arriving as (
        select payout_id, amount_minor, currency
        from latest_payouts
        where status = 'paid' and arrival_date = $day
    ),

    their_lines as (
        select distinct settlement_line_id, payout_id, net_minor, upper(currency) as currency
        from {cash_reader(files, "settlements")}
        where payout_id in (select payout_id from arriving)
    ),

    compared as (
        select
            arriving.payout_id,
            arriving.currency,
            abs(
                arriving.amount_minor
                - coalesce(sum(line.net_minor) filter (line.currency = arriving.currency), 0)
            ) as difference_minor,
            coalesce(sum(line.net_minor) filter (line.currency = arriving.currency), 0)
                as lines_net_minor,
            count(*) filter (line.currency <> arriving.currency) as lines_in_other_currencies
        from arriving
        left join their_lines as line on arriving.payout_id = line.payout_id
        group by arriving.payout_id, arriving.currency, arriving.amount_minor
    )

    select null::varchar, compared.payout_id, 'payout_mismatch'
    from compared
    {tolerance_joins("payout_mismatch", "compared.currency")}
    where
        compared.lines_in_other_currencies > 0
        or {beyond_tolerance("compared.difference_minor", "compared.lines_net_minor")}
    """


def capture_not_settled_sql(files: dict[str, list[str]]) -> str:
    """Succeeded captures made before the cutoff (`$settled_by`: the day after the settlement
    clock's date less the SLA, pushed into the Parquet scan) that no charge line names."""
    return f"""
    select distinct capture.checkout_id, null::varchar, 'capture_not_settled'
    from {reader(files["payments"])} as capture
    where
        lower(capture.kind) = 'capture'
        and lower(capture.status) = 'succeeded'
        and capture.created_at < $settled_by
        and not exists (
            select 1
            from {cash_reader(files, "settlements")} as line
            where lower(line.line_type) = 'charge' and line.psp_reference = capture.psp_reference
        )
    """


def settlement_amount_mismatch_sql(files: dict[str, list[str]]) -> str:
    """Charge (refund) lines whose gross (negated) or currency differs from the capture's (the
    refund's) they name: the lines agreeing with a payment of theirs are set aside by an anti-join
    on the whole (reference, kind, amount, currency); only the few left are matched to their
    payment, and its tolerance looked up."""
    payments = settled_payments(files)
    return f"""
    with claimed as (
        select
            psp_reference,
            case lower(line_type) when 'refund' then 'refund' else 'capture' end as kind,
            case when lower(line_type) = 'refund' then -gross_minor else gross_minor end
                as amount_minor,
            upper(currency) as currency
        from {cash_reader(files, "settlements")}
        where lower(line_type) in ('charge', 'refund')
    ),

    disagreeing as (
        select *
        from claimed
        anti join ({payments}) as agreeing
            using (psp_reference, kind, amount_minor, currency)
    ),

    compared as (
        select
            payment.checkout_id,
            payment.currency,
            payment.amount_minor as expected_minor,
            abs(disagreeing.amount_minor - payment.amount_minor) as difference_minor,
            disagreeing.currency <> payment.currency as other_currency
        from disagreeing
        inner join ({payments}) as payment
            on payment.psp_reference = disagreeing.psp_reference
            and payment.kind = disagreeing.kind
    )

    select distinct compared.checkout_id, null::varchar, 'settlement_amount_mismatch'
    from compared
    {tolerance_joins("settlement_amount_mismatch", "compared.currency")}
    where
        compared.other_currency
        or {beyond_tolerance("compared.difference_minor", "compared.expected_minor")}
    """


def chargeback_sql(files: dict[str, list[str]]) -> str:
    """Disputed payments (the few chargeback and reversal lines, grouped by reference) with more
    chargebacks than reversals; their capture's checkout, or, where no capture is named, the first
    chargeback line if it settled on the day."""
    return f"""
    with disputes as (
        select
            psp_reference,
            min(settlement_line_id) filter (lower(line_type) = 'chargeback')
                as first_chargeback_id,
            min(cast(settled_at as date)) filter (lower(line_type) = 'chargeback')
                as first_charged_back_on
        from {cash_reader(files, "settlements")}
        where lower(line_type) in ('chargeback', 'chargeback_reversal')
        group by psp_reference
        having
            count(distinct settlement_line_id) filter (lower(line_type) = 'chargeback')
            > count(distinct settlement_line_id) filter (lower(line_type) = 'chargeback_reversal')
    ),

    named as (
        select disputes.*, capture.checkout_id
        from disputes
        left join ({settled_payments(files)}) as capture
            on capture.kind = 'capture' and capture.psp_reference = disputes.psp_reference
    )

    select distinct checkout_id, null::varchar, 'chargeback' from named
    where checkout_id is not null
    union all
    select distinct null, first_chargeback_id, 'chargeback' from named
    where checkout_id is null and first_charged_back_on = $day
    """


def fee_mismatch_sql(files: dict[str, list[str]]) -> str:
    """Lines whose fee differs from the schedule's (the currency's rule, else `*`'s; no rule, not
    checked): a charge its percentage rounded half up plus the fixed part, a chargeback the
    chargeback fee, a refund or reversal none. The few beyond tolerance are then matched to their
    payment's checkout; a line no payment explains is named itself, on its settled date."""
    difference = "abs(scheduled.fee_minor - scheduled.expected_fee_minor)"
    return f"""
    with scheduled as (
        select
            line.settlement_line_id,
            line.psp_reference,
            {NAMED_KIND} as kind,
            cast(line.settled_at as date) as settled_on,
            upper(line.currency) as currency,
            line.fee_minor,
            case lower(line.line_type)
                when 'charge' then
                    (abs(line.gross_minor) * schedule.rate_ppm + 500000) // 1000000
                    + schedule.fixed_minor
                when 'chargeback' then schedule.chargeback_fee_minor
                else 0
            end as expected_fee_minor
        from {cash_reader(files, "settlements")} as line
        inner join fee_schedule as schedule on schedule.currency = upper(line.currency)
        where lower(line.line_type) in {PAYMENT_LINE_TYPES}
    ),

    differing as (
        select scheduled.*
        from scheduled
        {tolerance_joins("fee_mismatch", "scheduled.currency")}
        where
            scheduled.fee_minor <> scheduled.expected_fee_minor
            and {beyond_tolerance(difference, "scheduled.expected_fee_minor")}
    ),

    named as (
        select distinct differing.settlement_line_id, differing.settled_on, payment.checkout_id
        from differing
        left join ({settled_payments(files)}) as payment
            on payment.psp_reference = differing.psp_reference and payment.kind = differing.kind
    )

    select distinct checkout_id, null::varchar, 'fee_mismatch' from named
    where checkout_id is not null
    union all
    select distinct null, settlement_line_id, 'fee_mismatch' from named
    where checkout_id is null and settled_on = $day
    """


CASH_RULES = (
    settlement_without_capture_sql,
    duplicate_settlement_sql,
    payout_mismatch_sql,
    capture_not_settled_sql,
    settlement_amount_mismatch_sql,
    chargeback_sql,
    fee_mismatch_sql,
)


def cash_findings(
    con: duckdb.DuckDBPyConnection,
    files: dict[str, list[str]],
    day: date,
    params: RunParams,
) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The seven cash rules: (checkout_id, type) pairs of any checkout of the window, to be kept
    for the business date's checkouts, and (subject_id, type) pairs of the findings with no
    checkout, already of the business date. Nothing without a settlement report or payouts."""
    if not files["settlements"] and not files["payouts"]:
        return set(), set()
    # The run's fee schedule and tolerances, as the pipeline's meta tables hold them.
    for table in ("fee_schedule", "tolerances"):
        query = param_table_sql(f"meta.{table}", day, params)
        con.execute(f"create or replace temp table {table} as {query}")
    [(settlement_as_of,)] = con.execute(settlement_clock_sql(files)).fetchall()
    bounds = {
        "day": day,
        "day_starts": datetime.combine(day, datetime.min.time()),
        "day_ends": datetime.combine(day + timedelta(days=1), datetime.min.time()),
    }
    by_checkout: set[tuple[str, str]] = set()
    by_subject: set[tuple[str, str]] = set()
    for rule in CASH_RULES:
        sql = rule(files)
        named = set(re.findall(r"\$(\w+)", sql))
        values = {name: value for name, value in bounds.items() if name in named}
        if "settled_by" in named:
            if settlement_as_of is None:
                continue
            # The SLA counts dates (the pipeline: the clock's date at least the SLA's days
            # after the capture's): captured before the day after the clock's date less the SLA.
            last_late_day = settlement_as_of.date() - timedelta(days=params.settlement_sla_days)
            values["settled_by"] = datetime.combine(
                last_late_day + timedelta(days=1), datetime.min.time()
            )
        for checkout_id, subject_id, kind in con.execute(sql, values).fetchall():
            if checkout_id is not None:
                by_checkout.add((checkout_id, kind))
            else:
                by_subject.add((subject_id, kind))
    return by_checkout, by_subject


def records_outside_sql(files: dict[str, list[str]]) -> str:
    """The first record outside the business day of each checkout that has one: few, and the
    timestamp filter is pushed into the Parquet scan."""
    branches = "\n        union all\n".join(
        f"""
        select checkout_id, {stamp} as recorded_at from {reader(files[source])}
        where ({stamp} < $day_starts or {stamp} >= $day_ends) and checkout_id <> ''"""
        for source, stamp in RECORDED_AT.items()
    )
    return f"""
    select checkout_id, min(recorded_at) as first_outside_at
    from ({branches}
    )
    group by checkout_id
    """


def records_inside_sql(files: dict[str, list[str]]) -> str:
    """Which of the given checkouts (`$checkouts`) have a record on the business day."""
    return "\n    union\n".join(
        f"""
    select checkout_id from {reader(files[source])}
    where
        {stamp} >= $day_starts and {stamp} < $day_ends
        and checkout_id in (select unnest($checkouts))"""
        for source, stamp in RECORDED_AT.items()
    )


def of_business_day(
    con: duckdb.DuckDBPyConnection,
    files: dict[str, list[str]],
    day: date,
    found: set[tuple[str, str]],
) -> set[tuple[str, str]]:
    """The pairs whose checkout's first record falls on `day`. A checkout with no record outside
    the day belongs to it; one with a record before it does not; one whose records outside the day
    are all later belongs to it if it has a record on the day, looked up for those few only."""
    bounds = {
        "day_starts": datetime.combine(day, datetime.min.time()),
        "day_ends": datetime.combine(day + timedelta(days=1), datetime.min.time()),
    }
    outside = con.execute(records_outside_sql(files), bounds).fetchall()
    earlier = {checkout for checkout, first in outside if first < bounds["day_starts"]}
    later = {checkout for checkout, first in outside if first >= bounds["day_ends"]}
    doubtful = sorted({checkout for checkout, _ in found} & later)
    on_the_day: set[str] = set()
    if doubtful:
        rows = con.execute(records_inside_sql(files), {**bounds, "checkouts": doubtful})
        on_the_day = {checkout for (checkout,) in rows.fetchall()}
    return {
        (checkout, kind)
        for checkout, kind in found
        if checkout not in earlier and (checkout not in later or checkout in on_the_day)
    }


def pairs_of(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> set[tuple[str, str]]:
    return set(con.execute(sql, params).fetchall())


def run_baseline(
    landing: Path,
    day: date,
    memory_limit: str | None = None,
    spill_dir: Path | None = None,
    params: RunParams = PARAMS,
) -> tuple[float, set[tuple[str, str]]]:
    """Seconds taken and the (checkout_id, type) pairs found; a finding with no checkout is named
    by its subject (`subject_id`) instead, as in scoring (testdata/scoring.py). `spill_dir`: where
    DuckDB spills beyond the memory limit (an in-memory database spills to `.tmp` in the working
    directory). `params`: the run's settings, those of the job it is compared with (the fee
    schedule above all: with none, fees are not checked)."""
    started = time.perf_counter()
    files = landing_files(landing, day, params.lookback_days)
    config = {"memory_limit": memory_limit} if memory_limit else {}
    if spill_dir is not None:
        config["temp_directory"] = str(spill_dir)
    con = duckdb.connect(config=config)
    [(as_of,)] = con.execute(as_of_sql(files)).fetchall()
    found = pairs_of(
        con,
        money_sql(files),
        as_of=as_of,
        amount_tolerance_minor=params.amount_tolerance_minor,
        capture_sla_hours=params.capture_sla_hours,
    )
    found |= pairs_of(con, client_sql(files))
    found |= pairs_of(
        con,
        reservations_sql(files),
        as_of=as_of,
        reservation_ttl_minutes=params.reservation_ttl_minutes,
    )
    by_checkout, by_subject = cash_findings(con, files, day, params)
    found |= by_checkout
    # The rules ran over every checkout in the window; the day's are kept at the end, since
    # telling them apart takes only the few checkouts with a record outside the day.
    found = of_business_day(con, files, day, found) | by_subject
    con.close()
    return time.perf_counter() - started, found


def compare_with_truth(landing: Path, pairs: set[tuple[str, str]]) -> str | None:
    """Missing and extra pairs against `_ground_truth.parquet`, when the landing has one."""
    truth_file = landing / "_ground_truth.parquet"
    if not truth_file.exists():
        return None
    # A finding with no checkout is named by its subject (older ground truths have no column).
    columns = duckdb.execute("select * from read_parquet(?) limit 0", [str(truth_file)])
    named = (
        "coalesce(checkout_id, subject_id)"
        if "subject_id" in [c[0] for c in columns.description]
        else "checkout_id"
    )
    query = f"select {named}, type from read_parquet(?)"
    truth = set(duckdb.execute(query, [str(truth_file)]).fetchall())
    if truth == pairs:
        return f"ground truth: equal ({len(truth):,} pairs)"
    return (
        f"ground truth: DIFFERENT ({len(truth - pairs):,} missing, "
        f"{len(pairs - truth):,} extra, of {len(truth):,})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("landing", type=Path, help="the landing folder (<source>/<date>/*.parquet)")
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=date(2026, 5, 6),
        help="the business date [2026-05-06, the benchmark's]",
    )
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 2500MB")
    parser.add_argument(
        "--fee-schedule",
        type=FeeSchedule.parse,
        default=None,
        help="the provider's fee schedule as JSON, as RECON_FEE_SCHEDULE [the reference "
        "schedule of testdata/settlement.py, the benchmark's provider's]; '{}': fees not checked",
    )
    args = parser.parse_args()
    if args.fee_schedule is None:
        from testdata.settlement import REFERENCE_FEE_SCHEDULE

        args.fee_schedule = REFERENCE_FEE_SCHEDULE
    params = replace(PARAMS, fee_schedule=args.fee_schedule)
    seconds, pairs = run_baseline(args.landing, args.date, args.memory_limit, params=params)
    print(f"baseline seconds: {seconds:.2f}")
    for kind, count in sorted(Counter(kind for _, kind in pairs).items()):
        print(f"  {kind:<32} {count:>10,}")
    verdict = compare_with_truth(args.landing, pairs)
    if verdict:
        print(verdict)


if __name__ == "__main__":
    main()
