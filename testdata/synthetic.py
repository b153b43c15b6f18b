"""A deterministic synthetic landing dataset with a ground truth of the anomalies it injected.

`generate_landing` plays a day of checkouts through `CheckoutFlow`, most of them clean and a known
set carrying one anomaly type each (see `SCENARIOS`), adds a few contract-breaking rows in
checkouts of their own, and writes everything in the landing layout of docs/contract.md with
`<landing>/_ground_truth.parquet` (checkout_id, type, cause, subject_id). A reconciliation of the
day should report exactly the ground truth: clean shapes break no rule of the discrepancy table and
each anomaly shape breaks only its own (the tests check every shape against a reference
implementation of the rules).

The payment provider's cash side comes with it (`testdata.settlement.settle`): every succeeded
capture and refund settled at T+1 or T+2 by the reference fee schedule, and paid out. A scenario
may have the provider misbehave on its checkout (`Scenario.provider`); the anomalies of the
provider's reports that no checkout owns (`PROVIDER_ANOMALIES`) are injected once per generation
and named in the ground truth by their subject (`subject_id`, checkout_id null).

The clock of the whole dataset is fixed: its latest server-side record is a refund at D+1 12:00,
which is the pipeline's "as of" instant for the TTL and capture-SLA rules. The provider's clock is
its latest payout, created at D+3 12:00 for the lines settled on D+2.
"""

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from recon.discrepancy_types import type_names
from recon.landing_writer import RawLine, Row, WrittenFile, iso_z, text_value, write_rows
from testdata.flows import (
    SOURCES,
    Attribution,
    CheckoutFlow,
    combine_rows,
)
from testdata.settlement import SettlementReport, payout_id, settle

GROUND_TRUTH_FILE = "_ground_truth.parquet"
ANOMALY_SHARE = 0.15

# ---------------------------------------------------------------------------------------------
# Scenarios: the shape of one checkout, clean or with known anomalies
# ---------------------------------------------------------------------------------------------

_CAMPAIGNS = (
    Attribution("google", "cpc", "spring_sale", "https://www.google.com/"),
    Attribution("facebook", "paid_social", "retargeting", "https://l.facebook.com/"),
    Attribution("newsletter", "email", "weekly_digest", None),
    Attribution("tiktok", "paid_social", "creator_collab", "https://www.tiktok.com/"),
    Attribution("partner_blog", "referral", "gift_guide", "https://blog.example.com/gifts"),
)
_SKUS = ("SKU-TEE-M", "SKU-HOODIE-L", "SKU-MUG-01", "SKU-CAP-OS", "SKU-SOCKS-3P", "SKU-BOTTLE")
# currency: (weight, tax rate in percent included in totals, minor units per major unit)
_CURRENCIES = {"EUR": (50, 20, 100), "USD": (30, 8, 100), "GBP": (15, 20, 100), "JPY": (5, 10, 1)}
_DECLINES = ("card_declined", "insufficient_funds", "do_not_honor", "expired_card")


@dataclass(frozen=True)
class Context:
    """What a scenario builder gets: its checkout, start instant, business date and randomness."""

    checkout_id: str
    start: datetime
    business_date: date
    rng: random.Random

    def at(self, days: int, clock: time) -> datetime:
        """An instant relative to the business date (days=1 is D+1)."""
        return datetime.combine(self.business_date + timedelta(days=days), clock, UTC)


@dataclass(frozen=True)
class Scenario:
    name: str
    weight: float
    build: Callable[[Context], CheckoutFlow]
    # (type, cause) of every discrepancy the shape must produce; empty for clean shapes.
    anomalies: tuple[tuple[str, str], ...] = ()
    # Start window (time of day on D), narrower where a clock-based rule depends on it.
    window: tuple[time, time] = (time(0, 30), time(21, 0))
    # What the provider does to the checkout's settlement after settling it normally.
    provider: Callable[[SettlementReport, CheckoutFlow], object] | None = None


def _new_flow(ctx: Context, *, direct: bool = False) -> CheckoutFlow:
    rng = ctx.rng
    currencies = list(_CURRENCIES)
    currency = rng.choices(currencies, weights=[_CURRENCIES[c][0] for c in currencies])[0]
    _, tax_rate, minor_per_major = _CURRENCIES[currency]
    # Prices end in .99 (yen have no minor unit: whole hundreds); never zero.
    cents = minor_per_major == 100
    total = rng.randint(5, 300) * 100 - 1 if cents else rng.randint(8, 400) * 100
    return CheckoutFlow(
        ctx.checkout_id,
        ctx.start,
        currency=currency,
        total_minor=total,
        tax_minor=total * tax_rate // (100 + tax_rate),
        utm=None if direct else rng.choice(_CAMPAIGNS),
        rng=rng,
    )


def _browse(flow: CheckoutFlow, rng: random.Random) -> list[str]:
    """View, start and reserve a basket of 1-3 lines; returns the reservation IDs."""
    flow.view()
    flow.start_checkout()
    skus = rng.sample(_SKUS, rng.randint(1, 3))
    return [flow.reserve(sku, rng.randint(1, 3)) for sku in skus]


def _commit(flow: CheckoutFlow, reservations: list[str]) -> None:
    for reservation in reservations:
        flow.commit(reservation)


def _release(flow: CheckoutFlow, reservations: list[str]) -> None:
    for reservation in reservations:
        flow.release(reservation)


def _later(flow: CheckoutFlow, rng: random.Random, low: timedelta, high: timedelta) -> datetime:
    seconds = rng.randint(int(low.total_seconds()), int(high.total_seconds()))
    return flow.clock + timedelta(seconds=seconds)


def _ship_later(flow: CheckoutFlow, ctx: Context, order_id: str) -> None:
    # Warehouses ship hours later, so some shipments land in D+1's folder (still before 12:00).
    fulfillment = flow.request_fulfillment(order_id)
    flow.ship(fulfillment, at=_later(flow, ctx.rng, timedelta(minutes=30), timedelta(hours=6)))


def _browsed(ctx: Context, *, direct: bool = False) -> tuple[CheckoutFlow, list[str]]:
    """A new checkout that viewed, started and reserved its basket: (flow, reservations)."""
    flow = _new_flow(ctx, direct=direct)
    return flow, _browse(flow, ctx.rng)


def _ordered(ctx: Context, *, direct: bool = False) -> tuple[CheckoutFlow, str, str, list[str]]:
    """Browse, authorize the total, place the order: (flow, authorization, order, reservations)."""
    flow, reservations = _browsed(ctx, direct=direct)
    authorization = flow.authorize()
    order = flow.place_order()
    return flow, authorization, order, reservations


def _happy(
    ctx: Context, *, direct: bool = False, complete: bool = True
) -> tuple[CheckoutFlow, str, str]:
    """A paid, committed order: (flow, authorization, order), completed in the browser."""
    flow, authorization, order, reservations = _ordered(ctx, direct=direct)
    _settle(flow, authorization, reservations, complete=complete)
    return flow, authorization, order


def _settle(
    flow: CheckoutFlow, authorization: str, reservations: list[str], *, complete: bool = True
) -> None:
    """Commit the stock, capture the whole authorization and (unless not) complete in the
    browser: how an order placed goes on when nothing goes wrong."""
    _commit(flow, reservations)
    flow.capture(authorization)
    if complete:
        flow.complete()


# -- clean shapes ------------------------------------------------------------------------------


def _shipped(ctx: Context, *, direct: bool = False, complete: bool = True) -> CheckoutFlow:
    """`_happy`, and its order ships later."""
    flow, _, order = _happy(ctx, direct=direct, complete=complete)
    _ship_later(flow, ctx, order)
    return flow


def happy_path(ctx: Context) -> CheckoutFlow:
    return _shipped(ctx)


def direct_traffic(ctx: Context) -> CheckoutFlow:
    return _shipped(ctx, direct=True)


def late_capture(ctx: Context) -> CheckoutFlow:
    # Authorized after 18:00 on D and captured on D+1 before 12:00: inside the 24 h SLA.
    flow, authorization, order, reservations = _ordered(ctx)
    _commit(flow, reservations)
    flow.complete()
    fulfillment = flow.request_fulfillment(order)
    capture_at = ctx.at(1, time(6, 0)) + timedelta(seconds=ctx.rng.randint(0, 5 * 3600))
    flow.capture(authorization, at=capture_at)
    flow.ship(fulfillment)
    return flow


def cancelled_with_void(ctx: Context) -> CheckoutFlow:
    flow, authorization, order, reservations = _ordered(ctx)
    flow.complete()
    flow.cancel_order(order, at=_later(flow, ctx.rng, timedelta(minutes=2), timedelta(minutes=40)))
    flow.void(authorization)
    _release(flow, reservations)
    return flow


def cancelled_with_refund(ctx: Context) -> CheckoutFlow:
    flow, authorization, order = _happy(ctx)
    fulfillment = flow.request_fulfillment(order)
    flow.cancel_order(order, at=_later(flow, ctx.rng, timedelta(minutes=5), timedelta(hours=2)))
    flow.cancel_fulfillment(fulfillment)
    flow.refund(authorization, flow.total_minor)
    return flow


def declined(ctx: Context) -> CheckoutFlow:
    flow, reservations = _browsed(ctx)
    flow.authorize(succeeded=False, failure_code=ctx.rng.choice(_DECLINES))
    flow.payment_failed()
    _release(flow, reservations)
    return flow


def abandoned(ctx: Context) -> CheckoutFlow:
    flow, reservations = _browsed(ctx)
    # The reservation is released on abandonment, well within its 30 min TTL.
    release_at = _later(flow, ctx.rng, timedelta(minutes=5), timedelta(minutes=25))
    flow.release(reservations[0], at=release_at)
    _release(flow, reservations[1:])
    return flow


def partial_refund(ctx: Context) -> CheckoutFlow:
    flow, authorization, order = _happy(ctx)
    _ship_later(flow, ctx, order)
    amount = max(1, flow.total_minor * ctx.rng.randint(10, 60) // 100)
    flow.refund(authorization, amount, at=_later(flow, ctx.rng, timedelta(0), timedelta(hours=4)))
    return flow


def late_refund_anchor(ctx: Context) -> CheckoutFlow:
    """A partial refund at exactly D+1 12:00: the dataset's latest server record, so "as of"."""
    flow, authorization, order = _happy(ctx)
    flow.request_fulfillment(order)
    flow.refund(authorization, max(1, flow.total_minor // 4), at=as_of(ctx.business_date))
    return flow


# -- anomaly shapes ----------------------------------------------------------------------------


def duplicate_charge(ctx: Context) -> CheckoutFlow:
    flow, reservations = _browsed(ctx)
    first = flow.authorize()
    # The first response was lost; the client retried under a fresh key and both went through.
    second = flow.authorize(key=flow.retry_key("payment.authorize"))
    order = flow.place_order()
    _commit(flow, reservations)
    flow.capture(first)
    flow.capture(second, key=flow.retry_key("payment.capture"))
    flow.complete()
    _ship_later(flow, ctx, order)
    return flow


def payment_without_order(ctx: Context) -> CheckoutFlow:
    flow, reservations = _browsed(ctx)
    authorization = flow.authorize()
    flow.capture(authorization)
    # The order step crashed and the saga released stock but never refunded the capture.
    _release(flow, reservations)
    return flow


def fulfillment_after_cancellation(ctx: Context) -> CheckoutFlow:
    flow, authorization, order, reservations = _ordered(ctx)
    _commit(flow, reservations)
    refunded = ctx.rng.random() < 0.5
    if refunded:
        flow.capture(authorization)
    flow.complete()
    fulfillment = flow.request_fulfillment(order)
    flow.cancel_order(order, at=_later(flow, ctx.rng, timedelta(minutes=1), timedelta(minutes=30)))
    if refunded:
        flow.refund(authorization, flow.total_minor)
    else:
        flow.void(authorization)
    # The cancellation never reached the warehouse: the fulfillment stays live.
    if ctx.rng.random() < 0.5:
        flow.ship(fulfillment, at=_later(flow, ctx.rng, timedelta(minutes=30), timedelta(hours=4)))
    return flow


def refund_exceeds_capture(ctx: Context) -> CheckoutFlow:
    flow, authorization, order, reservations = _ordered(ctx)
    flow.capture(authorization)
    flow.complete()
    flow.cancel_order(order, at=_later(flow, ctx.rng, timedelta(minutes=5), timedelta(hours=2)))
    _release(flow, reservations)
    flow.refund(authorization, flow.total_minor)
    flow.refund(authorization, flow.total_minor, key=flow.retry_key("payment.refund"))
    return flow


def duplicate_order(ctx: Context) -> CheckoutFlow:
    flow, authorization, order, reservations = _ordered(ctx)
    flow.place_order(key=flow.retry_key("order"))
    _settle(flow, authorization, reservations)
    _ship_later(flow, ctx, order)
    return flow


def order_without_payment(ctx: Context) -> CheckoutFlow:
    flow, reservations = _browsed(ctx)
    voided = ctx.rng.random() < 0.5
    authorization = flow.authorize(succeeded=voided, failure_code=ctx.rng.choice(_DECLINES))
    flow.place_order()
    _commit(flow, reservations)
    if voided:
        flow.void(authorization)  # a compensation fired although the order stood
    flow.complete()
    return flow


def amount_mismatch(ctx: Context) -> CheckoutFlow:
    flow, authorization, order, reservations = _ordered(ctx)
    _commit(flow, reservations)
    # The capture applied a discount the order total does not show.
    shortfall = max(1, flow.total_minor * ctx.rng.randint(5, 30) // 100)
    flow.capture(authorization, flow.total_minor - shortfall)
    flow.complete()
    _ship_later(flow, ctx, order)
    return flow


def orphaned_reservation(ctx: Context) -> CheckoutFlow:
    flow, authorization, order, reservations = _ordered(ctx)
    # A reserve retried under a fresh key: its second hold is never committed nor released.
    sku = flow.rows["inventory_moves"][0]["sku"]
    flow.reserve(sku, 1, key=flow.retry_key("inventory.reserve"))
    _settle(flow, authorization, reservations)
    _ship_later(flow, ctx, order)
    return flow


def uncaptured_authorization(ctx: Context) -> CheckoutFlow:
    flow, _, order, reservations = _ordered(ctx)
    _commit(flow, reservations)
    flow.complete()
    flow.request_fulfillment(order)  # the capture-on-shipment never happened
    return flow


def phantom_completion(ctx: Context) -> CheckoutFlow:
    flow, reservations = _browsed(ctx)
    flow.authorize(succeeded=False, failure_code=ctx.rng.choice(_DECLINES))
    flow.complete()  # the thank-you page fired before the decline came back
    _release(flow, reservations)
    return flow


def duplicate_analytics_event(ctx: Context) -> CheckoutFlow:
    flow = _new_flow(ctx)
    doubled_start = ctx.rng.random() < 0.5
    flow.view()
    flow.start_checkout()
    if doubled_start:
        flow.start_checkout()  # a double-fired tag
    reservations = [flow.reserve(ctx.rng.choice(_SKUS), ctx.rng.randint(1, 3))]
    authorization = flow.authorize()
    order = flow.place_order()
    _settle(flow, authorization, reservations)
    if not doubled_start:
        flow.complete()  # a reload of the confirmation page
    _ship_later(flow, ctx, order)
    return flow


def unattributed_no_client_event(ctx: Context) -> CheckoutFlow:
    return _shipped(ctx, complete=False)


def unattributed_no_utm(ctx: Context) -> CheckoutFlow:
    flow, _, order = _happy(ctx, complete=False)
    flow.complete(utm=None)
    _ship_later(flow, ctx, order)
    return flow


# -- the provider's side of a checkout (a normal, shipped happy path on ours) -------------------


def _captured(flow: CheckoutFlow) -> str:
    """The psp_reference of the flow's first succeeded capture: what the provider settles."""
    return next(
        p["psp_reference"]
        for p in flow.rows["payments"]
        if p["kind"] == "capture" and p["status"] == "succeeded"
    )


def settled_twice(report: SettlementReport, flow: CheckoutFlow) -> None:
    report.duplicate_charge(_captured(flow))


def never_settled(report: SettlementReport, flow: CheckoutFlow) -> None:
    report.drop_charge(_captured(flow))


def settled_short(report: SettlementReport, flow: CheckoutFlow) -> None:
    report.change_gross(_captured(flow), -100)


def charged_back(report: SettlementReport, flow: CheckoutFlow) -> None:
    report.add_chargeback(_captured(flow))


def charged_back_and_reversed(report: SettlementReport, flow: CheckoutFlow) -> None:
    report.add_chargeback(_captured(flow), reversed_=True)


def fee_overcharged(report: SettlementReport, flow: CheckoutFlow) -> None:
    report.change_fee(_captured(flow), 7)


def _anomaly(type_: str, cause: str) -> tuple[tuple[str, str], ...]:
    return ((type_, cause),)


_MORNING = (time(0, 30), time(10, 45))  # authorized before 11:00: past the 24 h SLA at as_of

CLEAN_SCENARIOS = (
    Scenario("happy_path", 45, happy_path),
    Scenario("direct_traffic", 10, direct_traffic),
    Scenario("late_capture", 7, late_capture, window=(time(18, 0), time(20, 45))),
    Scenario("cancelled_with_void", 5, cancelled_with_void),
    Scenario("cancelled_with_refund", 4, cancelled_with_refund),
    Scenario("declined", 7, declined),
    Scenario("abandoned", 5, abandoned),
    Scenario("partial_refund", 2, partial_refund),
    # Disputed, and the dispute won: the provider takes the money back and returns it.
    Scenario("chargeback_reversed", 1, happy_path, provider=charged_back_and_reversed),
)
ANCHOR = Scenario("late_refund_anchor", 0, late_refund_anchor)

ANOMALY_SCENARIOS = (
    Scenario(
        "duplicate_charge",
        1,
        duplicate_charge,
        _anomaly("duplicate_charge", "authorization retried with a fresh idempotency key"),
    ),
    Scenario(
        "payment_without_order",
        1,
        payment_without_order,
        _anomaly("payment_without_order", "order step crashed after capture, no refund"),
    ),
    Scenario(
        "fulfillment_after_cancellation",
        1,
        fulfillment_after_cancellation,
        _anomaly("fulfillment_after_cancellation", "cancellation not propagated to fulfillment"),
    ),
    Scenario(
        "refund_exceeds_capture",
        1,
        refund_exceeds_capture,
        _anomaly("refund_exceeds_capture", "refund retried with a fresh idempotency key"),
    ),
    Scenario(
        "duplicate_order",
        1,
        duplicate_order,
        _anomaly("duplicate_order", "order retried with a fresh idempotency key"),
    ),
    Scenario(
        "order_without_payment",
        1,
        order_without_payment,
        _anomaly("order_without_payment", "order placed although the payment was voided/failed"),
    ),
    Scenario(
        "amount_mismatch",
        1,
        amount_mismatch,
        _anomaly("amount_mismatch", "captured amount differs from the order total"),
    ),
    Scenario(
        "orphaned_reservation",
        1,
        orphaned_reservation,
        _anomaly("orphaned_reservation", "reserve retried with a fresh key, never released"),
        window=(time(0, 30), time(19, 45)),
    ),
    Scenario(
        "uncaptured_authorization",
        1,
        uncaptured_authorization,
        _anomaly("uncaptured_authorization", "capture never sent, authorization still held"),
        window=_MORNING,
    ),
    Scenario(
        "phantom_completion",
        1,
        phantom_completion,
        _anomaly("phantom_completion", "client fired checkout_completed on a declined payment"),
    ),
    Scenario(
        "duplicate_analytics_event",
        1,
        duplicate_analytics_event,
        _anomaly("duplicate_analytics_event", "client event fired twice with different IDs"),
    ),
    Scenario(
        "unattributed_no_client_event",
        1,
        unattributed_no_client_event,
        _anomaly("unattributed_revenue", "no_client_event"),
    ),
    Scenario(
        "unattributed_no_utm",
        1,
        unattributed_no_utm,
        _anomaly("unattributed_revenue", "no_utm"),
    ),
    Scenario(
        "duplicate_settlement",
        1,
        happy_path,
        _anomaly("duplicate_settlement", "provider settled the capture in two charge lines"),
        provider=settled_twice,
    ),
    Scenario(
        "capture_not_settled",
        1,
        happy_path,
        _anomaly("capture_not_settled", "provider never settled the capture"),
        # Captured before D 12:00, so more than 3 days old at the provider's clock (D+3 12:00).
        window=_MORNING,
        provider=never_settled,
    ),
    Scenario(
        "settlement_amount_mismatch",
        1,
        happy_path,
        _anomaly("settlement_amount_mismatch", "provider settled 100 less than captured"),
        provider=settled_short,
    ),
    Scenario(
        "chargeback",
        1,
        happy_path,
        _anomaly("chargeback", "customer disputed the charge, not reversed"),
        provider=charged_back,
    ),
    Scenario(
        "fee_mismatch",
        1,
        happy_path,
        _anomaly("fee_mismatch", "provider charged 7 above the fee schedule"),
        provider=fee_overcharged,
    ),
)


@dataclass(frozen=True)
class ProviderAnomaly:
    """An anomaly of the provider's reports that no checkout owns: injected once per generation,
    named in the ground truth by the subject `inject` returns (a line or payout ID)."""

    type: str
    cause: str
    inject: Callable[[SettlementReport], str]


def _foreign_charge(report: SettlementReport) -> str:
    # EUR 40.00 settled on D for a capture we never recorded as succeeded.
    return report.add_foreign_charge(4_000, "EUR", report.business_date)["settlement_line_id"]


def _short_payout(report: SettlementReport) -> str:
    # The EUR payout of the lines settled on D-2: the one that arrives on D.
    return report.short_payout(report.business_date - timedelta(days=2), "EUR", 500)


PROVIDER_ANOMALIES = (
    ProviderAnomaly(
        "settlement_without_capture",
        "provider settled a charge no capture of ours names",
        _foreign_charge,
    ),
    ProviderAnomaly("payout_mismatch", "payout 500 short of its lines' net", _short_payout),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (*CLEAN_SCENARIOS, ANCHOR, *ANOMALY_SCENARIOS)}


# The smallest day that still holds one of every anomaly scenario plus the as-of anchor.
MIN_CHECKOUTS = len(ANOMALY_SCENARIOS) + 1


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------


def as_of(business_date: date) -> datetime:
    """The dataset's latest server-side instant: D+1 12:00 UTC."""
    return datetime.combine(business_date + timedelta(days=1), time(12, 0), UTC)


@dataclass(frozen=True)
class Expected:
    checkout_id: str | None  # None for a finding of the provider's reports alone
    type: str
    cause: str
    subject_id: str | None = None  # that finding's line or payout ID

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.checkout_id or "", self.type, self.subject_id or "")


@dataclass(frozen=True)
class GenerationSummary:
    landing: Path
    business_date: date
    seed: int
    checkouts: int
    dates: tuple[date, ...]
    rows: dict[str, int]  # rows written per source, bad ones included
    bad_rows: dict[str, int]
    scenarios: dict[str, int]  # day-D checkouts per scenario name
    ground_truth: tuple[Expected, ...]
    ground_truth_path: Path
    files: tuple[WrittenFile, ...] = field(repr=False)

    @property
    def ground_truth_frame(self) -> pl.DataFrame:
        return _ground_truth_frame(self.ground_truth)

    def describe(self) -> str:
        lines = [
            f"generated {self.checkouts} checkouts for {self.business_date} (seed {self.seed}) "
            f"into {self.landing}",
            f"  landing dates: {', '.join(d.isoformat() for d in self.dates)}",
        ]
        for source in SOURCES:
            files = sum(1 for f in self.files if f.source == source)
            lines.append(
                f"  {source:<17} {self.rows.get(source, 0):>7} rows "
                f"({self.bad_rows.get(source, 0)} bad) in {files} files"
            )
        by_type = Counter(e.type for e in self.ground_truth)
        lines.append(
            f"  ground truth: {len(self.ground_truth)} anomalies → {self.ground_truth_path}"
        )
        lines += [f"    {t:<31} {by_type[t]}" for t in type_names()]
        return "\n".join(lines)


def generate_landing(
    landing: Path,
    business_date: date,
    checkouts: int = 200,
    seed: int = 7,
    bad_rows: bool = True,
) -> GenerationSummary:
    """Write `checkouts` checkouts of `business_date` (plus one clean checkout of the day before
    and, if asked, a few bad rows) into `landing`, and the ground truth of injected anomalies.

    Deterministic for a seed: no wall clock, no random IDs. Files of the same names are
    overwritten; other files in `landing` are left alone.
    """
    landing = Path(landing)
    rng = random.Random(seed)
    planned = _plan(checkouts, business_date, rng)
    built: list[tuple[CheckoutFlow, Scenario]] = []
    expected = []
    for checkout_id, start, scenario in planned:
        ctx = Context(checkout_id, start, business_date, random.Random(f"{seed}:{checkout_id}"))
        built.append((scenario.build(ctx), scenario))
        expected += [Expected(checkout_id, t, cause) for t, cause in scenario.anomalies]
    flows = [flow for flow, _ in built] + [previous_day_checkout(business_date, seed)]
    rows = combine_rows(flow.rows for flow in flows)
    report = provider_report(rows["payments"], built, business_date)
    expected += [
        Expected(None, anomaly.type, anomaly.cause, anomaly.inject(report))
        for anomaly in PROVIDER_ANOMALIES
    ]
    # Payouts are read after every injection: each sums its lines but the one made short.
    for source, cash_rows in report.rows.items():
        rows[source].extend(cash_rows)
    bad = _bad_rows(business_date, rng) if bad_rows else {}
    for source, extra in bad.items():
        rows[source].extend(extra)

    # Named after the business date so generating several days into one landing never collides.
    files = write_rows(landing, rows, name=f"synthetic-{business_date:%Y%m%d}")
    ground_truth = tuple(sorted(expected, key=lambda e: e.sort_key))
    truth_path = landing / GROUND_TRUTH_FILE
    pq.write_table(_ground_truth_frame(ground_truth).to_arrow(), truth_path)
    return GenerationSummary(
        landing=landing,
        business_date=business_date,
        seed=seed,
        checkouts=checkouts,
        dates=tuple(sorted({f.landing_date for f in files})),
        rows={source: len(rows[source]) for source in SOURCES},
        bad_rows={source: len(bad.get(source, [])) for source in SOURCES},
        scenarios=dict(sorted(Counter(s.name for _, _, s in planned).items())),
        ground_truth=ground_truth,
        ground_truth_path=truth_path,
        files=tuple(files),
    )


def provider_report(
    payments: list[dict], built: Iterable[tuple[CheckoutFlow, Scenario]], business_date: date
) -> SettlementReport:
    """The provider's settlement report for the day's payments (the previous day's checkout
    included), with each scenario's misbehaviour of the provider applied to its checkout."""
    # Tagged with the business date: IDs stay unique across days generated into one landing.
    report = settle(payments, tag=f"{business_date:%Y%m%d}", business_date=business_date)
    for flow, scenario in built:
        if scenario.provider is not None:
            scenario.provider(report, flow)
    return report


def _ground_truth_frame(ground_truth: Iterable[Expected]) -> pl.DataFrame:
    return pl.DataFrame(
        [(e.checkout_id, e.type, e.cause, e.subject_id) for e in ground_truth],
        schema={
            "checkout_id": pl.String,
            "type": pl.String,
            "cause": pl.String,
            "subject_id": pl.String,
        },
        orient="row",
    )


def _plan(checkouts: int, day: date, rng: random.Random) -> list[tuple[str, datetime, Scenario]]:
    """Which scenario each checkout of the day plays, when it starts, and its ID (in start order).

    Every anomaly scenario appears at least twice from 60 checkouts on (once below), anomalies
    make up about ANOMALY_SHARE of the day otherwise, and each clean shape appears once when
    there is room; one checkout is the as-of anchor.
    """
    if checkouts < MIN_CHECKOUTS:
        raise ValueError(f"checkouts must be at least {MIN_CHECKOUTS} to hold every anomaly type")
    per_scenario = 2 if checkouts >= 60 else 1
    anomalies = [s for s in ANOMALY_SCENARIOS for _ in range(per_scenario)]
    extra = max(0, round(checkouts * ANOMALY_SHARE) - len(anomalies))
    weights = [s.weight for s in ANOMALY_SCENARIOS]
    anomalies += rng.choices(
        ANOMALY_SCENARIOS, weights, k=min(extra, checkouts - len(anomalies) - 1)
    )
    room = checkouts - len(anomalies) - 1
    clean = list(CLEAN_SCENARIOS[:room])
    clean += rng.choices(CLEAN_SCENARIOS, [s.weight for s in CLEAN_SCENARIOS], k=room - len(clean))
    timed = [(_start(day, s, rng), s) for s in (ANCHOR, *anomalies, *clean)]
    timed.sort(key=lambda pair: (pair[0], pair[1].name))
    prefix = f"chk_{day:%Y%m%d}"
    return [(f"{prefix}_{n:04d}", start, s) for n, (start, s) in enumerate(timed, start=1)]


def _start(day: date, scenario: Scenario, rng: random.Random) -> datetime:
    earliest, latest = (datetime.combine(day, t, UTC) for t in scenario.window)
    return earliest + timedelta(seconds=rng.randint(0, int((latest - earliest).total_seconds())))


def previous_day_checkout(business_date: date, seed: int = 7) -> CheckoutFlow:
    """A clean checkout of D-1 begun at 23:50 whose capture (D 00:05) lands in D's folder: the
    pipeline for D must count it as D-1's and report nothing for it. The provider settles that
    capture like any other (on D+1 or D+2)."""
    day = business_date - timedelta(days=1)
    checkout_id = f"chk_{day:%Y%m%d}_eod"
    start = datetime.combine(day, time(23, 50), UTC)
    ctx = Context(checkout_id, start, day, random.Random(f"{seed}:{checkout_id}"))
    flow = _new_flow(ctx)
    flow.step_seconds = (2, 10)  # keeps every D-1 step before midnight
    reservations = _browse(flow, ctx.rng)
    authorization = flow.authorize()
    order = flow.place_order()
    _commit(flow, reservations)
    flow.complete()
    flow.request_fulfillment(order)
    flow.capture(authorization, at=datetime.combine(business_date, time(0, 5), UTC))
    return flow


# ---------------------------------------------------------------------------------------------
# Bad rows: one per kind of contract breach, each in a checkout with no other records
# ---------------------------------------------------------------------------------------------


def _bad_flow(day: date, what: str, rng: random.Random, **kwargs) -> CheckoutFlow:
    checkout_id = f"chk_{day:%Y%m%d}_bad_{what}"
    start = datetime.combine(day, time(1, 0), UTC) + timedelta(seconds=rng.randint(0, 18 * 3600))
    return CheckoutFlow(checkout_id, start, rng=random.Random(checkout_id), **kwargs)


def _bad_rows(day: date, rng: random.Random) -> dict[str, list[Row]]:
    """One row per breach the ingestion must quarantine (and count) without crashing."""
    bad: dict[str, list[Row]] = {source: [] for source in SOURCES}

    truncated = _bad_flow(day, "json", rng)
    truncated.authorize()
    payment = truncated.rows["payments"][0]
    line = json.dumps({k: text_value(v, iso_z) for k, v in payment.items()})
    bad["payments"].append(RawLine(line[: len(line) // 2], payment["created_at"]))  # cut short

    chargeback = _bad_flow(day, "kind", rng)
    chargeback.authorize()
    bad["payments"].append({**chargeback.rows["payments"][0], "kind": "chargeback"})

    zero = _bad_flow(day, "amount", rng)
    zero.authorize()
    bad["payments"].append({**zero.rows["payments"][0], "amount_minor": 0})

    unknown_currency = _bad_flow(day, "currency", rng, currency="XXY")
    unknown_currency.authorize()
    bad["payments"].append(unknown_currency.rows["payments"][0])

    keyless = _bad_flow(day, "order_id", rng, utm=_CAMPAIGNS[0])
    keyless.place_order()
    bad["orders"].append({**keyless.rows["orders"][0], "order_id": None})

    unparseable = _bad_flow(day, "time", rng)
    unparseable.start_checkout()
    bad["analytics_events"].append(
        {**unparseable.rows["analytics_events"][0], "occurred_at": "yesterday"}
    )

    negative = _bad_flow(day, "quantity", rng)
    negative.reserve(_SKUS[0], 1)
    bad["inventory_moves"].append({**negative.rows["inventory_moves"][0], "quantity": -1})

    bad["settlements"] += _bad_settlement_lines(day)
    return {source: rows for source, rows in bad.items() if rows}


def _bad_settlement_lines(day: date) -> list[Row]:
    """Lines of the provider's report the ingestion must quarantine. Each names a payment no
    capture has and is paid out in D's EUR payout (whose amount leaves them out): read as valid,
    either would be a settlement_without_capture or a payout_mismatch."""
    report = SettlementReport(tag=f"{day:%Y%m%d}_bad", business_date=day)
    inconsistent = report.add_foreign_charge(2_500, "EUR", day, salt="net")
    unknown_type = report.add_foreign_charge(1_200, "EUR", day, salt="type")
    payout = payout_id(f"{day:%Y%m%d}", day, "EUR")
    return [
        # net_minor is not gross_minor - fee_minor: inconsistent_value.
        {**inconsistent, "payout_id": payout, "net_minor": inconsistent["net_minor"] + 1},
        # A line type the contract does not know.
        {**unknown_type, "payout_id": payout, "line_type": "interest"},
    ]
