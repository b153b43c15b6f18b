"""A vectorised landing-data generator for benchmarks: N checkouts written by DuckDB in seconds.

The per-checkout generator (`synthetic.py`) builds rows in Python and is right for tests and demos;
this one writes the same contract files for millions of checkouts with set-based SQL. Every
checkout follows one scenario chosen by a hash of (seed, index), so the data and its ground truth
regenerate exactly. About 17 % of checkouts carry one anomaly each (1 % per discrepancy type), the
rest are clean: happy paths (a tenth of them direct traffic), cancellations with a void, declines,
chargebacks the provider reversed.

The payment provider's cash side follows the conventions of `testdata.settlement` (the same IDs,
dates and fees `settle` would give, computed in SQL): every succeeded capture and refund settled
at T+1 or T+2 by the reference fee schedule, a daily EUR account fee line from D-2 to D+2, one
payout per settle date and currency. The five cash anomalies of a checkout are scenarios like the
others (the checkout itself is a happy path); the two that no checkout owns are injected per
generation and named in the ground truth by their subject (`subject_id`, checkout_id null): one
charge line no capture explains per 1,000 checkouts (at least one), and the EUR payout arriving
on D paid 500 short.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb

from recon.cash_settings import PPM, FeeSchedule
from testdata.settlement import (
    ACCOUNT_FEE_CURRENCY,
    ACCOUNT_FEE_DAYS,
    ACCOUNT_FEE_MINOR,
    LINE_COLUMNS,
    PAYOUT_CLOCK,
    PAYOUT_COLUMNS,
    REFERENCE_FEE_SCHEDULE,
    SETTLE_CLOCK,
)

# (scenario, first bucket, bucket count) out of 1000; anomalies name the discrepancy they cause.
SCENARIOS = (
    ("happy", 0, 790),
    # The cash side: our records are a happy path, the provider's reports are not.
    ("chargeback_reversed", 790, 10),
    ("duplicate_settlement", 800, 10),
    ("capture_not_settled", 810, 10),
    ("settlement_amount_mismatch", 820, 10),
    ("chargeback", 830, 10),
    ("fee_mismatch", 840, 10),
    ("cancelled_with_void", 850, 20),
    ("declined", 870, 10),
    ("duplicate_charge", 880, 10),
    ("payment_without_order", 890, 10),
    ("fulfillment_after_cancellation", 900, 10),
    ("refund_exceeds_capture", 910, 10),
    ("duplicate_order", 920, 10),
    ("order_without_payment", 930, 10),
    ("amount_mismatch", 940, 10),
    ("orphaned_reservation", 950, 10),
    ("uncaptured_authorization", 960, 10),
    ("phantom_completion", 970, 10),
    ("duplicate_analytics_event", 980, 10),
    ("unattributed_no_client_event", 990, 5),
    ("unattributed_no_utm", 995, 5),
)
CLEAN = {"happy", "cancelled_with_void", "declined", "chargeback_reversed"}
GROUND_TRUTH_TYPE = {
    "unattributed_no_client_event": "unattributed_revenue",
    "unattributed_no_utm": "unattributed_revenue",
}
# Checkouts whose own records are a plain happy path: the provider's reports make the difference.
CASH_SCENARIOS = (
    "chargeback_reversed", "duplicate_settlement", "capture_not_settled",
    "settlement_amount_mismatch", "chargeback", "fee_mismatch",
)  # fmt: skip
HAPPY_PATH = ("happy", *CASH_SCENARIOS)
# Anomalies of the provider's reports that no checkout owns (their cause is their type).
PROVIDER_ANOMALIES = ("settlement_without_capture", "payout_mismatch")
FOREIGN_CHARGE_EVERY = 1000  # checkouts per charge line no capture explains (at least one)
FOREIGN_CHARGE_MINOR = 4_000  # EUR 40.00
PAYOUT_SHORTFALL_MINOR = 500
SETTLED_SHORT_MINOR = 100  # settlement_amount_mismatch: the charge line's gross below the capture
FEE_OVERCHARGE_MINOR = 7  # fee_mismatch: the charge line's fee above the schedule's


@dataclass(frozen=True)
class BulkSummary:
    landing: Path
    checkouts: int
    rows: dict[str, int]
    anomalies: int
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _scenario_case() -> str:
    arms = " ".join(
        f"when bucket < {start + count} then '{name}'" for name, start, count in SCENARIOS
    )
    return f"case {arms} end"


def _checkouts_sql(n: int, seed: int, day: date) -> str:
    midnight = datetime.combine(day, time.min).isoformat(sep=" ")
    # Checkout 0 is the anchor: its late partial refund at D+1 12:00 sets the data's clock.
    return f"""
    create or replace temp table bulk_checkouts as
    with raw as (
        select
            i,
            (hash({seed}, i) >> 1)::bigint as h,
            case when i = 0 then 0 else ((hash({seed}, i, 1) >> 1) % 1000)::bigint end as bucket
        from range({n}) as t(i)
    )
    select
        i,
        'chk_' || substr(md5(concat({seed}, ':', i)), 1, 16) as checkout_id,
        {_scenario_case()} as scenario,
        timestamp '{midnight}' + to_seconds(
            case
                -- Begun by 10:00: the capture-SLA and settlement-SLA rules depend on the hour.
                when {_scenario_case()} in ('uncaptured_authorization', 'capture_not_settled')
                    then 1800 + h % 34200
                else 1800 + h % 70200
            end
        ) as t0,
        ['EUR', 'USD', 'GBP'][1 + (h // 7) % 3] as currency,
        1000 + (h // 11) % 29000 as total_minor,
        case
            when {_scenario_case()} in ('unattributed_no_client_event', 'unattributed_no_utm')
                then ['google', 'facebook', 'newsletter'][1 + (h // 13) % 3]
            when (h // 17) % 10 = 0 then null
            else ['google', 'facebook', 'newsletter', 'tiktok'][1 + (h // 13) % 4]
        end as utm_source
    from raw
    """


# Each source: (rows per scenario as a union of selects over bulk_checkouts). Offsets in seconds.
_ORDER_ROW = """
    select
        '{prefix}' || checkout_id as order_id, checkout_id,
        checkout_id || '{key}' as idempotency_key, 'cus_' || i as customer_id,
        '{status}' as status, currency, total_minor - total_minor // 6 as subtotal_minor,
        total_minor // 6 as tax_minor, total_minor,
        t0 + interval 30 second as created_at, t0 + interval {updated} second as updated_at,
        utm_source, case when utm_source is null then null else 'campaign_' || utm_source end
            as utm_medium,
        case when utm_source is null then null else 'spring' end as utm_campaign,
        null::varchar as referrer
    from bulk_checkouts where scenario in ({scenarios})
"""

_PAYMENT_ROW = """
    select
        '{prefix}' || checkout_id as payment_id, checkout_id,
        checkout_id || '{key}' as idempotency_key, '{kind}' as kind, '{status}' as status,
        {amount} as amount_minor, currency, {at} as created_at,
        'psp_{prefix}' || checkout_id as psp_reference,
        {parent} as parent_payment_id, {failure} as failure_code
    from bulk_checkouts where scenario in ({scenarios})
"""

_MOVE_ROW = """
    select
        '{prefix}' || checkout_id as move_id, checkout_id,
        checkout_id || '{key}' as idempotency_key,
        '{reservation}' || checkout_id as reservation_id, 'SKU-' || (i % 500) as sku,
        1 + i % 3 as quantity, '{kind}' as kind, t0 + interval {offset} second as created_at
    from bulk_checkouts where scenario in ({scenarios})
"""

_FULFILLMENT_ROW = """
    select
        'ful_' || checkout_id as fulfillment_id, checkout_id, 'ord_' || checkout_id as order_id,
        '{status}' as status, t0 + interval 900 second as created_at,
        t0 + interval 900 second as updated_at
    from bulk_checkouts where scenario in ({scenarios})
"""

_EVENT_ROW = """
    select
        '{prefix}' || checkout_id as event_id, '{name}' as event_name, 'anon_' || i as anonymous_id,
        'sess_' || i as session_id, checkout_id,
        t0 + interval {offset} second as occurred_at, t0 + interval {offset} second
            + interval 1 second as received_at,
        {utm} as utm_source, null::varchar as utm_medium, null::varchar as utm_campaign,
        null::varchar as referrer, {revenue} as revenue_minor, {currency} as currency
    from bulk_checkouts where scenario in ({scenarios})
"""


def _in(*names: str) -> str:
    return ", ".join(f"'{n}'" for n in names)


ORDERED = (
    *HAPPY_PATH, "duplicate_charge", "duplicate_order", "order_without_payment", "amount_mismatch",
    "orphaned_reservation", "uncaptured_authorization", "duplicate_analytics_event",
    "unattributed_no_client_event", "unattributed_no_utm",
)  # fmt: skip
CANCELLED = ("cancelled_with_void", "fulfillment_after_cancellation", "refund_exceeds_capture")
AUTHORIZED = (
    *ORDERED, *CANCELLED, "payment_without_order",
)  # fmt: skip
CAPTURED = (
    *HAPPY_PATH, "duplicate_charge", "duplicate_order", "amount_mismatch", "orphaned_reservation",
    "duplicate_analytics_event", "unattributed_no_client_event", "unattributed_no_utm",
    "refund_exceeds_capture", "payment_without_order",
)  # fmt: skip
RELEASED = (
    "cancelled_with_void", "declined", "fulfillment_after_cancellation", "payment_without_order",
    "phantom_completion", "order_without_payment", "refund_exceeds_capture",
)  # fmt: skip
COMMITTED = tuple(s for s in ORDERED if s != "order_without_payment")
COMPLETED = tuple(
    s for s in (*ORDERED, *CANCELLED, "phantom_completion")
    if s not in ("unattributed_no_client_event",)
)  # fmt: skip
SHIPPED = tuple(s for s in CAPTURED if s in ORDERED)


def _union(parts: list[str]) -> str:
    return "\nunion all\n".join(parts)


def orders_sql() -> str:
    return _union(
        [
            _ORDER_ROW.format(prefix="ord_", key=":order", status="placed", updated=30,
                              scenarios=_in(*ORDERED, *CANCELLED)),
            _ORDER_ROW.format(prefix="ord2_", key=":order:retry-1", status="placed", updated=40,
                              scenarios=_in("duplicate_order")),
            _ORDER_ROW.format(prefix="ord_", key=":order", status="cancelled", updated=600,
                              scenarios=_in(*CANCELLED)),
        ]
    )  # fmt: skip


def payments_sql() -> str:
    auth = "'auth_' || checkout_id"
    return _union(
        [
            _PAYMENT_ROW.format(prefix="auth_", key=":payment.authorize", kind="authorization",
                                status="succeeded", amount="total_minor",
                                at="t0 + interval 20 second", parent="null::varchar",
                                failure="null::varchar", scenarios=_in(*AUTHORIZED)),
            _PAYMENT_ROW.format(prefix="auth_", key=":payment.authorize", kind="authorization",
                                status="failed", amount="total_minor",
                                at="t0 + interval 20 second", parent="null::varchar",
                                failure="'card_declined'",
                                scenarios=_in("declined", "phantom_completion")),
            _PAYMENT_ROW.format(prefix="auth2_", key=":payment.authorize:retry-1",
                                kind="authorization", status="succeeded", amount="total_minor",
                                at="t0 + interval 25 second", parent="null::varchar",
                                failure="null::varchar", scenarios=_in("duplicate_charge")),
            _PAYMENT_ROW.format(prefix="cap_", key=":payment.capture", kind="capture",
                                status="succeeded",
                                amount="case when scenario = 'amount_mismatch' "
                                       "then total_minor - 100 else total_minor end",
                                at="t0 + interval 60 second", parent=auth,
                                failure="null::varchar", scenarios=_in(*CAPTURED)),
            _PAYMENT_ROW.format(prefix="cap2_", key=":payment.capture:retry-1", kind="capture",
                                status="succeeded", amount="total_minor",
                                at="t0 + interval 65 second", parent="'auth2_' || checkout_id",
                                failure="null::varchar", scenarios=_in("duplicate_charge")),
            _PAYMENT_ROW.format(prefix="void_", key=":payment.void", kind="void",
                                status="succeeded", amount="total_minor",
                                at="t0 + interval 300 second", parent=auth,
                                failure="null::varchar",
                                scenarios=_in("cancelled_with_void",
                                              "fulfillment_after_cancellation",
                                              "order_without_payment")),
            _PAYMENT_ROW.format(prefix="ref_", key=":payment.refund", kind="refund",
                                status="succeeded", amount="total_minor",
                                at="t0 + interval 700 second", parent=auth,
                                failure="null::varchar", scenarios=_in("refund_exceeds_capture")),
            _PAYMENT_ROW.format(prefix="ref2_", key=":payment.refund:retry-1", kind="refund",
                                status="succeeded", amount="total_minor",
                                at="t0 + interval 710 second", parent=auth,
                                failure="null::varchar", scenarios=_in("refund_exceeds_capture")),
        ]
    )  # fmt: skip


def moves_sql() -> str:
    return _union(
        [
            _MOVE_ROW.format(prefix="res_", key=":inventory.reserve", reservation="rsv_",
                             kind="reserve", offset=10, scenarios=_in(*COMMITTED, *RELEASED)),
            _MOVE_ROW.format(prefix="com_", key=":inventory.commit", reservation="rsv_",
                             kind="commit", offset=90, scenarios=_in(*COMMITTED)),
            _MOVE_ROW.format(prefix="rel_", key=":inventory.release", reservation="rsv_",
                             kind="release", offset=320, scenarios=_in(*RELEASED)),
            _MOVE_ROW.format(prefix="res2_", key=":inventory.reserve:retry-1",
                             reservation="rsv2_", kind="reserve", offset=12,
                             scenarios=_in("orphaned_reservation")),
        ]
    )  # fmt: skip


def fulfillments_sql() -> str:
    return _union(
        [
            _FULFILLMENT_ROW.format(status="shipped", scenarios=_in(*SHIPPED)),
            _FULFILLMENT_ROW.format(status="requested",
                                    scenarios=_in("fulfillment_after_cancellation")),
        ]
    )  # fmt: skip


def events_sql() -> str:
    none = "null::bigint"
    text_none = "null::varchar"
    completed_utm = "case when scenario = 'unattributed_no_utm' then null else utm_source end"
    everyone = _in(*(name for name, _, _ in SCENARIOS))
    return _union(
        [
            _EVENT_ROW.format(prefix="view_", name="checkout_viewed", offset=0, utm="utm_source",
                              revenue=none, currency=text_none, scenarios=everyone),
            _EVENT_ROW.format(prefix="view2_", name="checkout_viewed", offset=3,
                              utm="utm_source", revenue=none, currency=text_none,
                              scenarios=everyone),
            _EVENT_ROW.format(prefix="start_", name="checkout_started", offset=5,
                              utm="utm_source", revenue=none, currency=text_none,
                              scenarios=everyone),
            _EVENT_ROW.format(prefix="done_", name="checkout_completed", offset=70,
                              utm=completed_utm, revenue="total_minor", currency="currency",
                              scenarios=_in(*COMPLETED)),
            _EVENT_ROW.format(prefix="done2_", name="checkout_completed", offset=72,
                              utm="utm_source", revenue="total_minor", currency="currency",
                              scenarios=_in("duplicate_analytics_event")),
            _EVENT_ROW.format(prefix="fail_", name="payment_failed", offset=30,
                              utm="utm_source", revenue=none, currency=text_none,
                              scenarios=_in("declined")),
        ]
    )  # fmt: skip


SOURCES_SQL = {
    "orders": orders_sql,
    "payments": payments_sql,
    "inventory_moves": moves_sql,
    "fulfillments": fulfillments_sql,
    "analytics_events": events_sql,
}


# -- the provider's cash side -----------------------------------------------------------------


def _by_currency(schedule: FeeSchedule, currency: str, value) -> str:
    """A CASE over the currency giving `value(rule)` (SQL text) for each rule of the schedule,
    the `*` rule's for any other currency, and 0 where the schedule sets none."""
    arms = " ".join(
        f"when '{code}' then {value(rule)}"
        for code, rule in sorted(schedule.rules.items())
        if code != "*"
    )
    fallback = schedule.rules.get("*")
    other = value(fallback) if fallback is not None else "0"
    return f"case {currency} {arms} else {other} end" if arms else f"({other})"


def charge_fee_sql(
    gross: str, currency: str, schedule: FeeSchedule = REFERENCE_FEE_SCHEDULE
) -> str:
    """`expected_fee(schedule, "charge", gross, currency)` in SQL integers: the percentage in parts
    per million, rounded half up to the minor unit, plus the fixed part."""
    return _by_currency(
        schedule,
        currency,
        lambda rule: f"(abs({gross}) * {rule.rate_ppm} + {PPM // 2}) // {PPM} + {rule.fixed_minor}",
    )


def chargeback_fee_sql(currency: str, schedule: FeeSchedule = REFERENCE_FEE_SCHEDULE) -> str:
    return _by_currency(schedule, currency, lambda rule: str(rule.chargeback_fee_minor))


def _lines_sql(payment_files: list[Path], day: date, n: int, tag: str) -> str:
    """Every settlement line of the generation (testdata.settlement's conventions, the same IDs),
    with its settle date and whether it is the foreign charge of the ground truth."""
    settle_clock = SETTLE_CLOCK.isoformat()
    return f"""
    create or replace temp table bulk_lines as
    with settled as ({_settled_payments_sql(payment_files)}),

    unpriced as ({_unpriced_lines_sql(day, n, tag)}),

    priced as (
        select
            *,
            case line_type
                when 'charge' then {charge_fee_sql("gross_minor", "currency")}
                    + case when scenario = 'fee_mismatch' then {FEE_OVERCHARGE_MINOR} else 0 end
                when 'chargeback' then {chargeback_fee_sql("currency")}
                when 'fee' then {ACCOUNT_FEE_MINOR}
                else 0
            end as fee_minor
        from unpriced
    )

    select
        'sl_' || substr(sha256(concat_ws('|', '{tag}',
            coalesce(psp_reference, 'account:' || settle_date), line_type, n)), 1, 20)
            as settlement_line_id,
        'po_{tag}_' || strftime(settle_date, '%Y%m%d') || '_' || lower(currency) as payout_id,
        psp_reference, line_type, gross_minor::bigint as gross_minor,
        fee_minor::bigint as fee_minor, (gross_minor - fee_minor)::bigint as net_minor,
        currency, settle_date + time '{settle_clock}' as settled_at,
        settle_date, is_foreign
    from priced
    """


def _settled_payments_sql(payment_files: list[Path]) -> str:
    """Every succeeded capture and refund, settled T+1 or T+2 by the parity of the 8th hex digit
    of sha256(payment_id), as settle_delay_days does. The cash scenarios' captures carry their
    scenario (one capture each)."""
    files = ", ".join(f"'{f}'" for f in payment_files)
    return f"""
        select
            payments.psp_reference,
            payments.kind,
            payments.amount_minor,
            upper(payments.currency) as currency,
            cast(payments.created_at as date)
                + case when position(substr(sha256(payments.payment_id), 8, 1) in '13579bdf') > 0
                    then 2 else 1 end as settle_date,
            coalesce(cash.scenario, '') as scenario
        from read_parquet([{files}]) as payments
        left join (
            select checkout_id, scenario from bulk_checkouts
            where scenario in ({_in(*CASH_SCENARIOS)})
        ) as cash on payments.checkout_id = cash.checkout_id and payments.kind = 'capture'
        where payments.status = 'succeeded' and payments.kind in ('capture', 'refund')
    """


def _unpriced_lines_sql(day: date, n: int, tag: str) -> str:
    """The lines before their fees, each scenario's perturbation included, from `settled`."""
    fee_days = ", ".join(f"({offset})" for offset in ACCOUNT_FEE_DAYS)
    foreign = max(1, n // FOREIGN_CHARGE_EVERY)
    return f"""
        -- A charge line per capture (none for capture_not_settled; 100 short for
        -- settlement_amount_mismatch), a refund line per refund.
        select
            psp_reference,
            case kind when 'capture' then 'charge' else 'refund' end as line_type,
            1 as n,
            case
                when kind = 'refund' then -amount_minor
                when scenario = 'settlement_amount_mismatch'
                    then amount_minor - {SETTLED_SHORT_MINOR}
                else amount_minor
            end as gross_minor,
            currency, settle_date, scenario, false as is_foreign
        from settled where scenario <> 'capture_not_settled'
        union all
        -- duplicate_settlement: a second charge line, same gross (and so the same fee).
        select psp_reference, 'charge', 2, amount_minor, currency, settle_date, scenario, false
        from settled where scenario = 'duplicate_settlement'
        union all
        -- A chargeback of the whole charge the day after its charge line; reversed the same day
        -- for the clean counterpart.
        select psp_reference, 'chargeback', 1, -amount_minor, currency, settle_date + 1,
            scenario, false
        from settled where scenario in ('chargeback', 'chargeback_reversed')
        union all
        select psp_reference, 'chargeback_reversal', 1, amount_minor, currency,
            settle_date + 1, scenario, false
        from settled where scenario = 'chargeback_reversed'
        union all
        -- settlement_without_capture: charge lines settled on D no payment names.
        select 'psp_' || substr(sha256('{tag}|foreign|' || j), 1, 16), 'charge', 1,
            {FOREIGN_CHARGE_MINOR}, 'EUR', date '{day}', '', true
        from range({foreign}) as foreign_charges(j)
        union all
        -- The provider's daily account fee, D-2 .. D+2: every settle date has a line.
        select null, 'fee', 1, 0, '{ACCOUNT_FEE_CURRENCY}', date '{day}' + day_offset, '', false
        from (values {fee_days}) as fee_days(day_offset)
    """


def _payouts_sql(day: date) -> str:
    """One paid payout per (settle date, currency): the sum of its lines' net, created the next
    day at 12:00, arriving the day after; the EUR payout arriving on D is paid short."""
    short = day - timedelta(days=2)
    return f"""
    create or replace temp table bulk_payouts as
    select
        payout_id,
        (sum(net_minor) - shortfall_minor)::bigint as amount_minor,
        currency,
        'paid' as status,
        settle_date + 2 + time '00:00:00' as arrival_date,
        settle_date + 1 + time '{PAYOUT_CLOCK.isoformat()}' as created_at,
        shortfall_minor
    from (
        select
            *,
            case when settle_date = date '{short}' and currency = '{ACCOUNT_FEE_CURRENCY}'
                then {PAYOUT_SHORTFALL_MINOR} else 0 end as shortfall_minor
        from bulk_lines
    )
    group by payout_id, currency, settle_date, shortfall_minor
    order by payout_id
    """


def _write_by_date(
    con: duckdb.DuckDBPyConnection, landing: Path, source: str, table: str, landed_on: str,
    columns: tuple[str, ...],
) -> int:  # fmt: skip
    """Each landing date's rows of `table` as `<source>/<date>/bulk.parquet`; the row count."""
    query = f"select distinct {landed_on} from {table} order by 1"
    dates = [d for (d,) in con.execute(query).fetchall()]
    for landed in dates:
        folder = landing / source / landed.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"copy (select {', '.join(columns)} from {table} where {landed_on} = date '{landed}')"
            f" to '{folder / 'bulk.parquet'}' (format parquet, row_group_size 1000000)"
        )
    return con.execute(f"select count(*) from {table}").fetchone()[0]


def generate_bulk(landing: Path, day: date, checkouts: int, seed: int = 1) -> BulkSummary:
    """Write `checkouts` checkouts of `day` as Parquet landing files (the provider's settlements
    and payouts included) and `_ground_truth.parquet`."""
    import time as clock

    started = clock.perf_counter()
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    con.execute(_checkouts_sql(checkouts, seed, day))
    rows = {}
    for source, build in SOURCES_SQL.items():
        folder = landing / source / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "bulk.parquet"
        con.execute(f"copy ({build()}) to '{target}' (format parquet, row_group_size 1000000)")
        rows[source] = con.execute(f"select count(*) from '{target}'").fetchone()[0]
    anchor_refund = landing / "payments" / (day + timedelta(days=1)).isoformat()
    anchor_refund.mkdir(parents=True, exist_ok=True)
    next_noon = datetime.combine(day + timedelta(days=1), time(12)).isoformat(sep=" ")
    con.execute(
        f"""
        copy (
            select 'late_ref_' || checkout_id as payment_id, checkout_id,
                checkout_id || ':payment.refund' as idempotency_key, 'refund' as kind,
                'succeeded' as status, 100::bigint as amount_minor, currency,
                timestamp '{next_noon}' as created_at, 'psp_late' as psp_reference,
                'auth_' || checkout_id as parent_payment_id, null::varchar as failure_code
            from bulk_checkouts where i = 0
        ) to '{anchor_refund / "bulk.parquet"}' (format parquet)
        """
    )
    rows["payments"] += 1
    # The provider settles what the payment files say succeeded (the anchor's refund included).
    payment_files = [
        landing / "payments" / day.isoformat() / "bulk.parquet",
        anchor_refund / "bulk.parquet",
    ]
    con.execute(_lines_sql(payment_files, day, checkouts, tag=f"{day:%Y%m%d}"))
    con.execute(_payouts_sql(day))
    rows["settlements"] = _write_by_date(
        con, landing, "settlements", "bulk_lines", "settle_date", LINE_COLUMNS
    )
    rows["payouts"] = _write_by_date(
        con, landing, "payouts", "bulk_payouts", "cast(created_at as date)", PAYOUT_COLUMNS
    )
    truth = _ground_truth_sql()
    con.execute(f"copy ({truth}) to '{landing / '_ground_truth.parquet'}' (format parquet)")
    anomalies = con.execute(f"select count(*) from ({truth})").fetchone()[0]
    con.close()
    return BulkSummary(landing, checkouts, rows, anomalies, clock.perf_counter() - started)


def _ground_truth_sql() -> str:
    """(checkout_id, type, cause, subject_id): one row per checkout anomaly (subject_id null),
    and the provider's anomalies no checkout owns, named by their line or payout."""
    clean = _in(*CLEAN)
    renamed = " ".join(f"when '{k}' then '{v}'" for k, v in GROUND_TRUTH_TYPE.items())
    return f"""
        select
            checkout_id, case scenario {renamed} else scenario end as type, scenario as cause,
            null::varchar as subject_id
        from bulk_checkouts where scenario not in ({clean})
        union all
        select null, 'settlement_without_capture', 'settlement_without_capture',
            settlement_line_id
        from bulk_lines where is_foreign
        union all
        select null, 'payout_mismatch', 'payout_mismatch', payout_id
        from bulk_payouts where shortfall_minor <> 0
        order by checkout_id nulls last, type, subject_id
    """
