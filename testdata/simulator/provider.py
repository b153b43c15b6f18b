"""The payment provider's cash side of a simulated lane: its settlement report and payouts for the
payments the reference service recorded, and the mistakes a profile has it make.

Every succeeded capture and refund is settled as `testdata.settlement.settle` does for every
generator (T+1 or T+2, the reference fee schedule, one payout per settle date and currency). A
profile's `ProviderFaults` then perturbs captures chosen from the seed, each to exactly one finding
of its own type:

- only captures of checkouts that recorded exactly one authorization and one succeeded capture,
  no void and no refund, and that no payment-related anomaly of the ground truth already names
  (a type whose evidence is `payments` or `settlements`): their settlement is what no other rule
  reads, so a perturbation shows only as its own type (browser anomalies of the same checkout are
  other (checkout, type) pairs, found as before);
- each such capture is perturbed once;
- a capture the provider never settles was made before 12:00 UTC of the day: the report's clock
  reaches D+3 12:00 (the payout of the lines settled on D+2), so it is past the 3-day SLA.

The two findings no checkout owns (a foreign charge line, a short payout) are named by their
subject: the line's or payout's ID.
"""

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from recon.discrepancy_types import types
from testdata.settlement import SettlementReport, settle
from testdata.simulator.profiles import ProviderFaults

# checkout_id (None where no checkout owns it), type, cause, subject_id
Anomaly = tuple[str | None, str, str, str | None]

# A capture never settled must be older than the SLA on the report's clock (D+3 12:00).
UNSETTLED_BEFORE = time(12, 0)
SHORT_SETTLEMENT_MINOR = 100
FEE_OVERCHARGE_MINOR = 7
PAYOUT_SHORTFALL_MINOR = 500
FOREIGN_CHARGE_MINOR = 4_000
FOREIGN_CHARGE_CURRENCY = "EUR"


def provider_report(
    payments: list[dict[str, Any]],
    day: date,
    *,
    tag: str,
    seed: str,
    faults: ProviderFaults,
    checkouts: int,
    ground_truth: Iterable[tuple[str | None, str]],
) -> tuple[SettlementReport, list[Anomaly]]:
    """The lane's settlement report for its exported `payments` (tag unique per lane and date),
    with `faults` injected, and the anomalies injected. `checkouts` (the lane's) sizes the
    shares; `ground_truth` ((checkout_id, type) pairs) says which checkouts already carry a
    payment anomaly. The same arguments give the same report."""
    report = settle(payments, tag=tag, business_date=day)
    rng = random.Random(f"provider:{seed}:{tag}")
    clean = _clean_captures(payments, _payment_anomalies(ground_truth))
    noon = datetime.combine(day, UNSETTLED_BEFORE, UTC)
    morning = [c for c in clean if _utc(c["created_at"]) < noon]
    taken: set[str] = set()
    found: list[Anomaly] = []

    def take(candidates: list[dict[str, Any]], share: float) -> list[dict[str, Any]]:
        """Captures of `candidates` no fault has taken yet, as many as `share` asks for."""
        available = [c for c in candidates if c["payment_id"] not in taken]
        chosen = rng.sample(available, min(_count(share, checkouts), len(available)))
        taken.update(c["payment_id"] for c in chosen)
        return chosen

    for capture in take(morning, faults.not_settled):
        report.drop_charge(capture["psp_reference"])
        found.append(_of(capture, "capture_not_settled", "provider never settled the capture"))
    for share, perturb, type_, note in _capture_faults(report, faults):
        for capture in take(clean, share):
            perturb(capture["psp_reference"])
            if type_ is not None:
                found.append(_of(capture, type_, note))
    return report, found + _account_faults(report, faults, day)


def _capture_faults(report: SettlementReport, faults: ProviderFaults) -> list[tuple]:
    """(share, how the capture's lines change, the type found or None, why) per fault on one
    clean capture, in the order the captures are drawn (the order fixes the report per seed)."""
    return [
        (
            faults.settled_twice,
            report.duplicate_charge,
            "duplicate_settlement",
            "provider settled the capture in two charge lines",
        ),
        (
            faults.settled_short,
            lambda ref: report.change_gross(ref, -SHORT_SETTLEMENT_MINOR),
            "settlement_amount_mismatch",
            f"provider settled {SHORT_SETTLEMENT_MINOR} less than captured",
        ),
        (
            faults.fee_overcharged,
            lambda ref: report.change_fee(ref, FEE_OVERCHARGE_MINOR),
            "fee_mismatch",
            f"provider charged {FEE_OVERCHARGE_MINOR} above the fee schedule",
        ),
        (
            faults.charged_back,
            report.add_chargeback,
            "chargeback",
            "shopper's bank charged the capture back",
        ),
        # A dispute the merchant won: taken back and returned, so nothing to find.
        (
            faults.charged_back_reversed,
            lambda ref: report.add_chargeback(ref, reversed_=True),
            None,
            "",
        ),
    ]


def _account_faults(report: SettlementReport, faults: ProviderFaults, day: date) -> list[Anomaly]:
    """The faults of no capture of ours: a charge no payment names, a payout paid short."""
    found: list[Anomaly] = []
    if faults.foreign_charge:
        line = report.add_foreign_charge(FOREIGN_CHARGE_MINOR, FOREIGN_CHARGE_CURRENCY, day)
        found.append(
            (
                None,
                "settlement_without_capture",
                "provider settled a charge no capture of ours names",
                line["settlement_line_id"],
            )
        )
    if faults.short_payout:
        # The EUR payout of the lines settled on D-2: the one arriving on D.
        payout = report.short_payout(day - timedelta(days=2), "EUR", PAYOUT_SHORTFALL_MINOR)
        found.append(
            (
                None,
                "payout_mismatch",
                f"payout {PAYOUT_SHORTFALL_MINOR} short of its lines' net",
                payout,
            )
        )
    return found


def _count(share: float, checkouts: int) -> int:
    return max(1, round(share * checkouts)) if share > 0 else 0


def _payment_anomalies(ground_truth: Iterable[tuple[str | None, str]]) -> set[str]:
    """Checkouts the ground truth names for a type whose evidence is payments or settlements."""
    registry = types()
    return {
        checkout_id
        for checkout_id, type_ in ground_truth
        if checkout_id is not None and {"payments", "settlements"} & set(registry[type_].evidence)
    }


def _clean_captures(payments: list[dict[str, Any]], excluded: set[str]) -> list[dict[str, Any]]:
    """The succeeded capture of each checkout whose payments are one authorization and one
    succeeded capture (nothing voided, refunded or retried), in time order."""
    by_checkout: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for payment in payments:
        by_checkout[payment["checkout_id"]].append(payment)
    captures = []
    for checkout_id, rows in by_checkout.items():
        kinds = sorted((p["kind"], p["status"]) for p in rows)
        if checkout_id in excluded or kinds != [
            ("authorization", "succeeded"),
            ("capture", "succeeded"),
        ]:
            continue
        captures += [p for p in rows if p["kind"] == "capture"]
    return sorted(captures, key=lambda p: (p["created_at"], p["payment_id"]))


def _utc(moment: datetime) -> datetime:
    """Exported times are aware UTC; a naive one is taken as UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _of(capture: dict[str, Any], type_: str, cause: str) -> Anomaly:
    return (capture["checkout_id"], type_, cause, None)
