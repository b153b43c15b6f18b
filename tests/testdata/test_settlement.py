"""The simulated provider's settlement report (`testdata.settlement.settle`): what it settles, at
which fee, on which date, and how its payouts follow the lines, perturbations included."""

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

import pytest

from recon.cash_settings import FeeSchedule, expected_fee
from testdata.flows import CheckoutFlow
from testdata.settlement import (
    ACCOUNT_FEE_DAYS,
    LINE_COLUMNS,
    PAYOUT_COLUMNS,
    REFERENCE_FEE_SCHEDULE,
    SettlementReport,
    settle,
)

DAY = date(2026, 3, 10)
TAG = "20260310"
CURRENCIES = ("EUR", "USD", "GBP", "JPY")


def _payments() -> list[dict]:
    """A day of payment rows of every kind and status, in four currencies."""
    rows: list[dict] = []
    rng = random.Random(1)
    for n in range(40):
        start = datetime.combine(DAY, time(0, 30), UTC) + timedelta(minutes=30 * n)
        currency = CURRENCIES[n % len(CURRENCIES)]
        flow = CheckoutFlow(
            f"chk_t_{n:03d}", start, currency=currency, total_minor=rng.randint(1, 400) * 100 - 1
        )
        authorization = flow.authorize(succeeded=n % 7 != 0)
        if n % 7 == 0:
            pass  # declined: nothing to settle
        elif n % 5 == 0:
            flow.void(authorization)
        else:
            flow.capture(authorization)
            if n % 3 == 0:
                flow.refund(authorization, flow.total_minor // 3)
        rows += flow.rows["payments"]
    pending = {**rows[1], "payment_id": "pay_pending", "psp_reference": "psp_pending"}
    return [*rows, {**pending, "kind": "capture", "status": "pending"}]


def _succeeded(payments: list[dict], kind: str) -> list[dict]:
    return [p for p in payments if p["kind"] == kind and p["status"] == "succeeded"]


def _by_reference(lines: list[dict], line_type: str) -> dict[str, list[dict]]:
    found = defaultdict(list)
    for line in lines:
        if line["line_type"] == line_type:
            found[line["psp_reference"]].append(line)
    return found


def _payout_sums(report: SettlementReport) -> dict[str, int]:
    sums: Counter[str] = Counter()
    for line in report.lines:
        sums[line["payout_id"]] += line["net_minor"]
    return dict(sums)


@pytest.fixture
def payments() -> list[dict]:
    return _payments()


@pytest.fixture
def report(payments) -> SettlementReport:
    return settle(payments, tag=TAG, business_date=DAY)


def test_every_succeeded_capture_has_exactly_one_charge_line_at_the_scheduled_fee(payments, report):
    charges = _by_reference(report.lines, "charge")
    captures = _succeeded(payments, "capture")
    assert captures and set(charges) == {c["psp_reference"] for c in captures}
    for capture in captures:
        (line,) = charges[capture["psp_reference"]]
        fee = expected_fee(
            REFERENCE_FEE_SCHEDULE, "charge", capture["amount_minor"], line["currency"]
        )
        assert (line["gross_minor"], line["fee_minor"], line["currency"]) == (
            capture["amount_minor"],
            fee,
            capture["currency"],
        )


def test_every_succeeded_refund_has_one_negative_refund_line_without_fee(payments, report):
    refunds = _by_reference(report.lines, "refund")
    settled = _succeeded(payments, "refund")
    assert settled and set(refunds) == {r["psp_reference"] for r in settled}
    for refund in settled:
        (line,) = refunds[refund["psp_reference"]]
        assert (line["gross_minor"], line["fee_minor"]) == (-refund["amount_minor"], 0)


def test_nothing_else_of_ours_is_settled(payments, report):
    # Authorizations, voids, declined and pending payments never reach the settlement report.
    settled = {
        p["psp_reference"]
        for p in payments
        if p["status"] == "succeeded" and p["kind"] in ("capture", "refund")
    }
    named = {line["psp_reference"] for line in report.lines if line["psp_reference"]}
    assert named == settled
    assert "psp_pending" not in named and any(p["kind"] == "void" for p in payments)


def test_lines_have_the_contract_columns_and_net_is_gross_less_fee(report):
    for line in report.lines:
        assert tuple(line) == LINE_COLUMNS
        assert line["net_minor"] == line["gross_minor"] - line["fee_minor"]
    ids = [line["settlement_line_id"] for line in report.lines]
    assert len(set(ids)) == len(ids)


def test_a_payment_settles_one_or_two_days_after_it_was_made_at_three(payments, report):
    made = {p["psp_reference"]: p["created_at"].date() for p in payments}
    delays = Counter()
    for line in report.lines:
        if line["psp_reference"] is None:
            continue
        settled_at = line["settled_at"]
        delay = (settled_at.date() - made[line["psp_reference"]]).days
        assert delay in (1, 2)
        assert time(3, 0) <= settled_at.time() < time(4, 0) and settled_at.tzinfo is not None
        delays[delay] += 1
    assert set(delays) == {1, 2}  # both delays occur on a day of payments


def test_the_daily_account_fee_lines_cover_d_minus_2_to_d_plus_2(report):
    fees = [line for line in report.lines if line["line_type"] == "fee"]
    assert sorted(line["settled_at"].date() for line in fees) == [
        DAY + timedelta(days=n) for n in ACCOUNT_FEE_DAYS
    ]
    assert {(f["psp_reference"], f["gross_minor"], f["currency"]) for f in fees} == {
        (None, 0, "EUR")
    }
    assert all(f["net_minor"] == -f["fee_minor"] < 0 for f in fees)


def test_one_payout_per_settle_date_and_currency_summing_its_lines(report):
    payouts = {p["payout_id"]: p for p in report.payouts}
    groups = {(line["settled_at"].date(), line["currency"]) for line in report.lines}
    assert len(payouts) == len(groups)
    assert {pid: p["amount_minor"] for pid, p in payouts.items()} == _payout_sums(report)
    for line in report.lines:
        settled_on, payout = line["settled_at"].date(), payouts[line["payout_id"]]
        assert line["payout_id"] == f"po_{TAG}_{settled_on:%Y%m%d}_{line['currency'].lower()}"
        assert payout["currency"] == line["currency"] and payout["status"] == "paid"
        assert payout["created_at"] == datetime.combine(
            settled_on + timedelta(days=1), time(12), UTC
        )
        assert payout["arrival_date"] == datetime.combine(
            settled_on + timedelta(days=2), time(0), UTC
        )
    assert all(tuple(p) == PAYOUT_COLUMNS for p in payouts.values())
    # The lines settled on D-2 are paid out arriving on D: a payout lands every business date.
    assert any(p["arrival_date"].date() == DAY for p in payouts.values())


def test_settle_is_deterministic_whatever_the_order_and_tagged(payments, report):
    shuffled = list(payments)
    random.Random(3).shuffle(shuffled)
    again = settle(shuffled, tag=TAG, business_date=DAY)
    assert again.lines == report.lines and again.payouts == report.payouts
    other = settle(payments, tag="other", business_date=DAY)
    ours = {line["settlement_line_id"] for line in report.lines}
    assert not ours & {line["settlement_line_id"] for line in other.lines}
    # The settle date belongs to the payment, not to the batch it came in.
    alone = settle(payments[-3:], tag=TAG, business_date=DAY)
    dates = {line["psp_reference"]: line["settled_at"].date() for line in report.lines}
    assert all(
        dates[line["psp_reference"]] == line["settled_at"].date()
        for line in alone.lines
        if line["psp_reference"]
    )


def test_a_schedule_is_applied_as_given(payments):
    flat = FeeSchedule(rules={"*": {"percent": "0", "fixed_minor": 9}})
    report = settle(payments, tag=TAG, business_date=DAY, schedule=flat)
    assert {line["fee_minor"] for line in report.lines if line["line_type"] == "charge"} == {9}


# -- perturbations ------------------------------------------------------------------------------


def _a_capture(payments: list[dict], currency: str = "EUR") -> dict:
    return next(p for p in _succeeded(payments, "capture") if p["currency"] == currency)


def _assert_payouts_follow_the_lines(report: SettlementReport) -> None:
    assert {p["payout_id"]: p["amount_minor"] for p in report.payouts} == _payout_sums(report)


def test_drop_charge_leaves_the_capture_unsettled(payments, report):
    reference = _a_capture(payments)["psp_reference"]
    report.drop_charge(reference)
    assert report.charge_lines(reference) == []
    _assert_payouts_follow_the_lines(report)
    with pytest.raises(KeyError):
        report.drop_charge(reference)


def test_duplicate_charge_adds_a_second_line_of_the_same_amounts(payments, report):
    reference = _a_capture(payments)["psp_reference"]
    report.duplicate_charge(reference)
    first, second = report.charge_lines(reference)
    assert first["settlement_line_id"] != second["settlement_line_id"]
    same = ("gross_minor", "fee_minor", "net_minor", "currency", "payout_id")
    assert [first[c] for c in same] == [second[c] for c in same]
    _assert_payouts_follow_the_lines(report)


def test_change_gross_keeps_the_fee_scheduled_on_the_new_gross(payments, report):
    capture = _a_capture(payments, "USD")
    line = report.change_gross(capture["psp_reference"], -100)
    assert line["gross_minor"] == capture["amount_minor"] - 100
    assert line["fee_minor"] == expected_fee(
        REFERENCE_FEE_SCHEDULE, "charge", line["gross_minor"], "USD"
    )
    assert line["net_minor"] == line["gross_minor"] - line["fee_minor"]
    _assert_payouts_follow_the_lines(report)


def test_change_fee_moves_fee_and_net_off_the_schedule(payments, report):
    capture = _a_capture(payments)
    line = report.change_fee(capture["psp_reference"], 7)
    scheduled = expected_fee(REFERENCE_FEE_SCHEDULE, "charge", capture["amount_minor"], "EUR")
    assert (line["gross_minor"], line["fee_minor"]) == (capture["amount_minor"], scheduled + 7)
    assert line["net_minor"] == line["gross_minor"] - line["fee_minor"]
    _assert_payouts_follow_the_lines(report)


@pytest.mark.parametrize("reversed_", [False, True])
def test_a_chargeback_settles_the_day_after_its_charge(payments, report, reversed_):
    capture = _a_capture(payments, "GBP")
    reference = capture["psp_reference"]
    (charge,) = report.charge_lines(reference)
    added = report.add_chargeback(reference, reversed_=reversed_)
    chargeback = added[0]
    rule = REFERENCE_FEE_SCHEDULE.rule_for("GBP")
    assert (chargeback["line_type"], chargeback["psp_reference"]) == ("chargeback", reference)
    assert chargeback["gross_minor"] == -capture["amount_minor"]
    assert chargeback["fee_minor"] == rule.chargeback_fee_minor
    assert chargeback["settled_at"].date() == charge["settled_at"].date() + timedelta(days=1)
    if reversed_:
        (reversal,) = added[1:]
        assert reversal["line_type"] == "chargeback_reversal"
        assert (reversal["gross_minor"], reversal["fee_minor"]) == (capture["amount_minor"], 0)
        assert reversal["settled_at"].date() == chargeback["settled_at"].date()
        assert reversal["settled_at"] > chargeback["settled_at"]
    else:
        assert len(added) == 1
    _assert_payouts_follow_the_lines(report)


def test_a_foreign_charge_names_no_payment_and_is_paid_out_on_its_date(payments, report):
    line = report.add_foreign_charge(4_000, "EUR", DAY)
    assert line["psp_reference"] not in {p["psp_reference"] for p in payments}
    assert line["psp_reference"].startswith("psp_")
    assert line["settled_at"].date() == DAY
    assert line["fee_minor"] == expected_fee(REFERENCE_FEE_SCHEDULE, "charge", 4_000, "EUR")
    assert line["payout_id"] == f"po_{TAG}_{DAY:%Y%m%d}_eur"
    _assert_payouts_follow_the_lines(report)


def test_a_short_payout_stays_short_while_the_others_follow_later_changes(payments, report):
    short = report.short_payout(DAY - timedelta(days=2), "EUR", 500)
    report.duplicate_charge(_a_capture(payments)["psp_reference"])  # after the shortfall
    sums = _payout_sums(report)
    amounts = {p["payout_id"]: p["amount_minor"] for p in report.payouts}
    assert amounts[short] == sums[short] - 500
    assert {pid: a for pid, a in amounts.items() if pid != short} == {
        pid: s for pid, s in sums.items() if pid != short
    }
    assert next(p for p in report.payouts if p["payout_id"] == short)["arrival_date"].date() == DAY
    with pytest.raises(KeyError):
        report.short_payout(DAY + timedelta(days=30), "EUR", 1)
