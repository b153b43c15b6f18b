"""Each discrepancy rule of docs/rules.md, run through the real ingestion and SQL models on a DuckDB
file: every scenario shape yields exactly its discrepancies, clean shapes yield none, and the
rules' edges (TTL, SLA, tolerance, currency, day membership) hold."""

import hashlib
import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from recon.reconcile import discrepancies, reconcile_partition
from recon.run_params import RunParams
from recon.sql_models import project_relations
from recon.warehouse import connect
from testdata.flows import Attribution, CheckoutFlow, combine_rows
from testdata.settlement import REFERENCE_FEE_SCHEDULE
from testdata.synthetic import ANCHOR, SCENARIOS, Context, provider_report, write_rows

DAY = date(2026, 2, 10)
# The generators' provider charges by the reference schedule: fees are checked against it.
SETTLED = RunParams(fee_schedule=REFERENCE_FEE_SCHEDULE)
CAMPAIGN = Attribution("newsletter", "email", "winter_sale", None)


def at(clock: str, days: int = 0) -> datetime:
    return datetime.combine(DAY + timedelta(days=days), time.fromisoformat(clock), UTC)


def reconcile(tmp_path, *flows: CheckoutFlow, params: RunParams | None = None, day: date = DAY):
    return reconcile_rows(tmp_path, combine_rows(flow.rows for flow in flows), params, day)


def reconcile_rows(tmp_path, rows: dict, params: RunParams | None = None, day: date = DAY):
    landing = tmp_path / "landing"
    write_rows(landing, rows)
    with connect(tmp_path / "warehouse.duckdb") as con:
        reconcile_partition(con, landing, day, params)
        return discrepancies(con, day)


def types_of(found: list[dict], checkout_id: str) -> list[str]:
    return sorted(d["type"] for d in found if d["checkout_id"] == checkout_id)


def anchor() -> CheckoutFlow:
    # A clean checkout whose late refund sets the data's clock to D+1 12:00, as in a real export.
    return ANCHOR.build(Context("chk_anchor", at("09:00"), DAY, random.Random(0)))


# One run per scenario (each a whole pipeline run, 28 of them); its own seed varies the start
# and the choices across scenarios, and the property test mixes shapes at random starts.
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_yields_exactly_its_discrepancies(tmp_path, name):
    scenario = SCENARIOS[name]
    rng = random.Random(name)
    start = at(scenario.window[0].isoformat()) + timedelta(minutes=rng.randint(0, 30))
    flow = scenario.build(Context("chk_test", start, DAY, rng))
    rows = combine_rows([flow.rows, anchor().rows])
    # The provider settles both checkouts, misbehaving as the scenario says.
    report = provider_report(rows["payments"], [(flow, scenario)], DAY)
    found = reconcile_rows(tmp_path, {**rows, **report.rows}, SETTLED)
    assert types_of(found, "chk_test") == sorted(t for t, _ in scenario.anomalies)
    assert types_of(found, "chk_anchor") == []


def placed_and_captured(checkout_id: str, start: datetime, **kwargs) -> CheckoutFlow:
    flow = CheckoutFlow(checkout_id, start, utm=CAMPAIGN, **kwargs)
    flow.start_checkout()
    reservation = flow.reserve("SKU-1")
    auth = flow.authorize()
    flow.place_order()
    flow.commit(reservation)
    flow.capture(auth)
    flow.complete()
    return flow


def clock_setter(instant: datetime) -> CheckoutFlow:
    """A checkout whose last server record is at `instant`: the data's as-of clock."""
    flow = CheckoutFlow("chk_clock", instant - timedelta(minutes=1))
    reservation = flow.reserve("SKU-9")
    flow.release(reservation, at=instant)
    return flow


@pytest.mark.parametrize(("minutes_later", "orphaned"), [(29, False), (30, True)])
def test_reservation_is_orphaned_only_once_the_ttl_has_passed_in_the_data(
    tmp_path, minutes_later, orphaned
):
    flow = CheckoutFlow("chk_r", at("10:00"))
    flow.reserve("SKU-1", at=at("10:00"))
    found = reconcile(tmp_path, flow, clock_setter(at("10:00") + timedelta(minutes=minutes_later)))
    assert types_of(found, "chk_r") == (["orphaned_reservation"] if orphaned else [])


@pytest.mark.parametrize(("hours_later", "flagged"), [(23, False), (24, True)])
def test_authorization_is_uncaptured_only_after_the_capture_sla(tmp_path, hours_later, flagged):
    flow = CheckoutFlow("chk_a", at("01:00"), utm=CAMPAIGN)
    flow.start_checkout()
    flow.authorize(at=at("01:00"))
    flow.place_order()
    flow.complete()
    found = reconcile(tmp_path, flow, clock_setter(at("01:00") + timedelta(hours=hours_later)))
    assert types_of(found, "chk_a") == (["uncaptured_authorization"] if flagged else [])


@pytest.mark.parametrize(("tolerance", "mismatch"), [(5, False), (4, True)])
def test_amount_mismatch_respects_the_tolerance(tmp_path, tolerance, mismatch):
    flow = CheckoutFlow("chk_m", at("10:00"), total_minor=1000, utm=CAMPAIGN)
    auth = flow.authorize()
    flow.place_order()
    flow.capture(auth, amount=995)
    flow.complete()
    found = reconcile(tmp_path, flow, params=RunParams(amount_tolerance_minor=tolerance))
    assert types_of(found, "chk_m") == (["amount_mismatch"] if mismatch else [])
    if mismatch:
        [row] = found
        assert (row["amount_minor"], row["currency"], row["severity"]) == (5, "EUR", "high")


def test_capture_in_another_currency_is_an_amount_mismatch(tmp_path):
    flow = CheckoutFlow("chk_fx", at("10:00"), total_minor=1000, currency="USD", utm=CAMPAIGN)
    auth = flow.authorize()
    flow.place_order()
    flow.capture(auth)
    flow.complete()
    rows = flow.rows
    rows["orders"][0]["currency"] = "EUR"  # same figure, but the order was priced in euros
    found = reconcile_rows(tmp_path, rows)
    assert types_of(found, "chk_fx") == ["amount_mismatch"]
    details = found[0]["details"]
    assert '"captures_in_other_currencies":1' in details


def test_checkout_of_the_previous_day_is_not_reported_today(tmp_path):
    # Began at 23:50 on D-1; only its capture lands in D's export.
    flow = CheckoutFlow("chk_prev", at("23:50", days=-1), utm=CAMPAIGN)
    auth = flow.authorize()
    flow.place_order()
    flow.complete()
    flow.capture(auth, at=at("00:05"))
    assert reconcile(tmp_path, flow) == []
    assert reconcile(tmp_path / "prev", flow, day=DAY - timedelta(days=1)) == []


def test_a_later_cancelled_order_is_not_a_phantom_completion(tmp_path):
    flow = CheckoutFlow("chk_c", at("10:00"), utm=CAMPAIGN)
    auth = flow.authorize()
    order = flow.place_order()
    flow.complete()
    flow.void(auth)
    flow.cancel_order(order)
    assert reconcile(tmp_path, flow) == []


def test_same_event_delivered_twice_is_not_a_duplicate_event(tmp_path):
    flow = placed_and_captured("chk_e", at("10:00"))
    rows = flow.rows
    completed = next(r for r in rows["analytics_events"] if r["event_name"] == "checkout_completed")
    rows["analytics_events"].append(dict(completed))  # the collector re-sent the same event_id
    assert reconcile_rows(tmp_path, rows) == []
    with connect(tmp_path / "warehouse.duckdb") as con:
        staged = project_relations(con, DAY).query(
            "select sum(source_rows) - count(*) from stg_analytics_events"
        )
        assert con.execute(staged).fetchone()[0] == 1


def test_fully_refunded_checkout_with_a_shipped_fulfillment_is_flagged(tmp_path):
    flow = placed_and_captured("chk_f", at("10:00"))
    order_id = flow.rows["orders"][0]["order_id"]
    auth = flow.rows["payments"][0]["payment_id"]
    fulfillment = flow.request_fulfillment(order_id)
    flow.ship(fulfillment)
    flow.refund(auth, flow.total_minor)
    found = reconcile(tmp_path, flow)
    assert types_of(found, "chk_f") == ["fulfillment_after_cancellation"]
    assert found[0]["severity"] == "critical"


def test_two_equal_captures_under_one_reference_are_each_settled_once(tmp_path):
    # Captured twice in equal halves under the authorization's reference (as Adyen reports a
    # partial capture under the original payment's pspReference), each half settled by its own
    # charge line: a duplicate charge by the contract's rule, but not a duplicate settlement of
    # one capture, nor the other capture left unsettled.
    flow = CheckoutFlow("chk_split", at("10:00"), total_minor=2000, utm=CAMPAIGN)
    flow.start_checkout()
    auth = flow.authorize()
    flow.place_order()
    flow.capture(auth, amount=1000)
    flow.capture(auth, amount=1000, at=at("15:00"))
    flow.complete()
    rows = combine_rows([flow.rows, anchor().rows])
    reference = next(p["psp_reference"] for p in rows["payments"] if p["payment_id"] == auth)
    for payment in rows["payments"]:
        if payment["checkout_id"] == "chk_split":
            payment["psp_reference"] = reference
    report = provider_report(rows["payments"], [], DAY)
    charges = [line for line in report.rows["settlements"] if line["psp_reference"] == reference]
    assert len(charges) == 2
    found = reconcile_rows(tmp_path, {**rows, **report.rows}, SETTLED)
    assert types_of(found, "chk_split") == ["duplicate_charge"]


def test_a_charge_repeated_in_another_currency_is_that_currency_s_money(tmp_path):
    # Captured in EUR, the order's currency, then again in USD under a retry key: the USD
    # capture is the extra money, in USD. Adding 2,000 USD cents to the EUR capture would put
    # dollars into the euro figures finance reads.
    flow = CheckoutFlow("chk_fx", at("10:00"), total_minor=2000, utm=CAMPAIGN)
    flow.start_checkout()
    auth = flow.authorize()
    flow.place_order()
    flow.capture(auth)
    retried = flow.capture(auth, key=flow.retry_key("payment.capture"), at=at("10:05"))
    flow.complete()
    rows = combine_rows([flow.rows, anchor().rows])
    for payment in rows["payments"]:
        if payment["payment_id"] == retried:
            payment["currency"] = "USD"
    found = [d for d in reconcile_rows(tmp_path, rows) if d["checkout_id"] == "chk_fx"]
    [charge] = [d for d in found if d["type"] == "duplicate_charge"]
    assert (charge["subject_id"], charge["amount_minor"], charge["currency"]) == (
        "chk_fx:USD",
        2000,
        "USD",
    )


def test_an_order_placed_again_in_another_currency_is_that_currency_s_money(tmp_path):
    # Placed in EUR, then again in GBP by a retried order step: the checkout's currency is the
    # alphabetically last (GBP) and keeps its order; the EUR order is the extra one, in EUR.
    flow = CheckoutFlow("chk_fo", at("10:00"), total_minor=3000, utm=CAMPAIGN)
    flow.start_checkout()
    flow.capture(flow.authorize())
    first = flow.place_order()
    flow.place_order(key=flow.retry_key("order"))
    flow.complete()
    rows = combine_rows([flow.rows, anchor().rows])
    for order in rows["orders"]:
        if order["checkout_id"] == "chk_fo" and order["order_id"] != first:
            order["currency"] = "GBP"
    found = [d for d in reconcile_rows(tmp_path, rows) if d["checkout_id"] == "chk_fo"]
    [doubled] = [d for d in found if d["type"] == "duplicate_order"]
    assert (doubled["subject_id"], doubled["amount_minor"], doubled["currency"]) == (
        "chk_fo:EUR",
        3000,
        "EUR",
    )


def test_ids_are_deterministic_and_reruns_replace_rows(tmp_path):
    flow = CheckoutFlow("chk_d", at("10:00"), utm=CAMPAIGN)
    first = flow.authorize()
    second = flow.authorize(key=flow.retry_key("payment.authorize"))
    flow.place_order()
    flow.capture(first)
    flow.capture(second)
    flow.complete()
    landing = tmp_path / "landing"
    write_rows(landing, flow.rows)
    with connect(tmp_path / "w.duckdb") as con:
        reconcile_partition(con, landing, DAY)
        once = discrepancies(con, DAY)
        reconcile_partition(con, landing, DAY)
        assert discrepancies(con, DAY) == once
    [row] = once
    assert row["type"] == "duplicate_charge" and row["amount_minor"] == flow.total_minor
    assert row["discrepancy_id"] == hashlib.md5(b"duplicate_charge:chk_d").hexdigest()
