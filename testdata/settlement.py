"""The simulated payment provider's cash side: its fee schedule, and the settlement report and
payouts it writes for succeeded captures and refunds.

`settle` is the one place every generator (synthetic, bulk, simulator) turns its payment rows into
the provider's `settlements` and `payouts` rows, following the conventions the settlement rules
assume (docs/settlement.md, "What the generators do"):

- every succeeded capture gets one `charge` line and every succeeded refund one `refund` line,
  settled at 03:00 UTC one or two days (chosen per payment from its ID) after the payment's date;
- a daily EUR account `fee` line on each date from D-2 to D+2, so every settlement folder around
  the business date has a line and a payout arrives on D;
- one payout per (settle date, currency), the sum of its lines' net, created the next day at
  12:00 and arriving the day after.

The returned `SettlementReport` has small perturbations for injecting anomalies; its payouts are
computed from its lines when read, so they follow every perturbation except a deliberate
`short_payout`.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from recon.cash_settings import FeeSchedule, expected_fee

# What the reference provider charges: the schedule the demo and the tests reconcile with
# (`RECON_FEE_SCHEDULE`). Chosen so that every currency of the generators has a rule.
REFERENCE_FEE_SCHEDULE = FeeSchedule(
    rules={
        "EUR": {"percent": "1.4", "fixed_minor": 25, "chargeback_fee_minor": 1500},
        "USD": {"percent": "2.9", "fixed_minor": 30, "chargeback_fee_minor": 1500},
        "GBP": {"percent": "1.5", "fixed_minor": 20, "chargeback_fee_minor": 1500},
        "JPY": {"percent": "3.6", "fixed_minor": 0, "chargeback_fee_minor": 2000},
    }
)

SETTLE_CLOCK = time(3, 0)  # the provider's nightly settlement run
PAYOUT_CLOCK = time(12, 0)  # payouts are created the day after their lines
ACCOUNT_FEE_CURRENCY = "EUR"
ACCOUNT_FEE_MINOR = 100
ACCOUNT_FEE_DAYS = range(-2, 3)  # D-2 .. D+2 relative to the business date
# Line types that name a payment, and so carry its psp_reference.
PAYMENT_LINE_TYPES = ("charge", "refund", "chargeback", "chargeback_reversal")
# Column order of the contract (recon.contract.SETTLEMENTS, PAYOUTS).
LINE_COLUMNS = (
    "settlement_line_id",
    "payout_id",
    "psp_reference",
    "line_type",
    "gross_minor",
    "fee_minor",
    "net_minor",
    "currency",
    "settled_at",
)
PAYOUT_COLUMNS = ("payout_id", "amount_minor", "currency", "status", "arrival_date", "created_at")


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def settle_delay_days(payment_id: str) -> int:
    """T+1 or T+2, fixed per payment (not per run) so every generator agrees on it."""
    return 1 + int(_digest(payment_id)[:8], 16) % 2


def payout_id(tag: str, settle_date: date, currency: str) -> str:
    return f"po_{tag}_{settle_date:%Y%m%d}_{currency.lower()}"


def _moment(value: datetime | str) -> datetime:
    """An aware UTC instant; naive values (and ISO text, as some exports hold) are taken as UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc_date(moment: datetime | str) -> date:
    return _moment(moment).date()


def _at(day: date, clock: time, seconds: int = 0) -> datetime:
    return datetime.combine(day, clock, UTC) + timedelta(seconds=seconds)


def _is_settled(payment: dict) -> bool:
    return payment["status"] == "succeeded" and payment["kind"] in ("capture", "refund")


@dataclass
class SettlementReport:
    """The provider's settlement lines (contract rows of `settlements`) for one batch, and its
    payouts (rows of `payouts`), computed from the lines whenever `payouts` is read.

    Perturbations name a payment by its `psp_reference`; each returns what the ground truth
    needs (a line or payout ID) where the finding has no checkout.
    """

    tag: str
    business_date: date
    schedule: FeeSchedule = REFERENCE_FEE_SCHEDULE
    lines: list[dict] = field(default_factory=list)
    # payout_id -> amount taken off its sum of net (a deliberately short payout).
    shortfalls: dict[str, int] = field(default_factory=dict)
    _serials: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _per_day: dict[date, int] = field(default_factory=dict, repr=False)

    # -- building lines -----------------------------------------------------------------------

    def fee(self, line_type: str, gross_minor: int, currency: str) -> int:
        """The schedule's fee for a line (0 where it sets none: refunds, the provider's own)."""
        return expected_fee(self.schedule, line_type, gross_minor, currency) or 0

    def add_line(
        self,
        line_type: str,
        psp_reference: str | None,
        gross_minor: int,
        currency: str,
        settle_date: date,
        *,
        fee_minor: int | None = None,
    ) -> dict:
        """Append one line (fee by the schedule unless given) and return it."""
        fee_minor = self.fee(line_type, gross_minor, currency) if fee_minor is None else fee_minor
        line = {
            "settlement_line_id": self._line_id(
                psp_reference or f"account:{settle_date}", line_type
            ),
            "payout_id": payout_id(self.tag, settle_date, currency),
            "psp_reference": psp_reference,
            "line_type": line_type,
            "gross_minor": gross_minor,
            "fee_minor": fee_minor,
            "net_minor": gross_minor - fee_minor,
            "currency": currency,
            # A second apart in the order added, so a day's lines keep one order in any file.
            "settled_at": _at(settle_date, SETTLE_CLOCK, self._next_second(settle_date)),
        }
        self.lines.append(line)
        return line

    def _next_second(self, settle_date: date) -> int:
        n = self._per_day.get(settle_date, 0)
        self._per_day[settle_date] = n + 1
        return n

    def _line_id(self, subject: str, line_type: str) -> str:
        # The n-th line of a subject and type: a duplicated line gets a new ID, and the tag keeps
        # IDs unique across generations written into one landing.
        n = self._serials.get((subject, line_type), 0) + 1
        self._serials[(subject, line_type)] = n
        return "sl_" + _digest(self.tag, subject, line_type, n)[:20]

    def _settle_payment(self, payment: dict) -> None:
        settle_date = _utc_date(payment["created_at"]) + timedelta(
            days=settle_delay_days(payment["payment_id"])
        )
        charge = payment["kind"] == "capture"
        gross = payment["amount_minor"] if charge else -payment["amount_minor"]
        line_type = "charge" if charge else "refund"
        self.add_line(line_type, payment["psp_reference"], gross, payment["currency"], settle_date)

    # -- reading ------------------------------------------------------------------------------

    def charge_lines(self, psp_reference: str) -> list[dict]:
        return [
            line
            for line in self.lines
            if line["line_type"] == "charge" and line["psp_reference"] == psp_reference
        ]

    def _charge(self, psp_reference: str) -> dict:
        found = self.charge_lines(psp_reference)
        if not found:
            raise KeyError(f"no charge line settles {psp_reference!r}")
        return found[0]

    @property
    def payouts(self) -> list[dict]:
        """One `paid` payout per (settle date, currency) of the lines: the sum of their net, less
        any shortfall; created the next day at 12:00, arriving the day after."""
        groups: dict[str, tuple[date, str, int]] = {}
        for line in self.lines:
            settle_date, currency = _utc_date(line["settled_at"]), line["currency"]
            _, _, total = groups.get(line["payout_id"], (settle_date, currency, 0))
            groups[line["payout_id"]] = (settle_date, currency, total + line["net_minor"])
        return [
            {
                "payout_id": pid,
                "amount_minor": total - self.shortfalls.get(pid, 0),
                "currency": currency,
                "status": "paid",
                "arrival_date": _at(settle_date + timedelta(days=2), time(0)),
                "created_at": _at(settle_date + timedelta(days=1), PAYOUT_CLOCK),
            }
            for pid, (settle_date, currency, total) in sorted(groups.items())
        ]

    @property
    def rows(self) -> dict[str, list[dict]]:
        """Landing rows per source, as `recon.landing_writer.write_rows` takes them."""
        return {"settlements": [dict(line) for line in self.lines], "payouts": self.payouts}

    # -- perturbations ------------------------------------------------------------------------

    def drop_charge(self, psp_reference: str) -> None:
        """The capture is never settled (capture_not_settled once past the SLA)."""
        dropped = {id(line) for line in self.charge_lines(psp_reference)}
        if not dropped:
            raise KeyError(f"no charge line settles {psp_reference!r}")
        self.lines = [line for line in self.lines if id(line) not in dropped]

    def duplicate_charge(self, psp_reference: str) -> dict:
        """A second charge line for the capture, same gross and fee (duplicate_settlement)."""
        first = self._charge(psp_reference)
        settle_date = _utc_date(first["settled_at"])
        return self.add_line(
            "charge",
            psp_reference,
            first["gross_minor"],
            first["currency"],
            settle_date,
            fee_minor=first["fee_minor"],
        )

    def change_gross(self, psp_reference: str, delta_minor: int) -> dict:
        """The charge line settles `delta_minor` more than captured, its fee recomputed by the
        schedule on its own gross (settlement_amount_mismatch, and no fee_mismatch)."""
        line = self._charge(psp_reference)
        gross = line["gross_minor"] + delta_minor
        fee = self.fee("charge", gross, line["currency"])
        line.update(gross_minor=gross, fee_minor=fee, net_minor=gross - fee)
        return line

    def change_fee(self, psp_reference: str, delta_minor: int) -> dict:
        """The charge line's fee is `delta_minor` off the schedule, net accordingly
        (fee_mismatch)."""
        line = self._charge(psp_reference)
        fee = line["fee_minor"] + delta_minor
        line.update(fee_minor=fee, net_minor=line["gross_minor"] - fee)
        return line

    def add_chargeback(self, psp_reference: str, *, reversed_: bool = False) -> list[dict]:
        """A chargeback of the whole charge, settled the day after its charge line; with
        `reversed_`, its reversal too, settled the same day (so one read window sees both)."""
        charge = self._charge(psp_reference)
        day = _utc_date(charge["settled_at"]) + timedelta(days=1)
        gross, currency = charge["gross_minor"], charge["currency"]
        added = [self.add_line("chargeback", psp_reference, -gross, currency, day)]
        if reversed_:
            reversal = self.add_line("chargeback_reversal", psp_reference, gross, currency, day)
            added.append(reversal)
        return added

    def add_foreign_charge(
        self, gross_minor: int, currency: str, settle_date: date, *, salt: str = ""
    ) -> dict:
        """A charge line whose psp_reference matches no payment (settlement_without_capture):
        e.g. a capture we recorded as failed after a timeout that the provider did make."""
        reference = "psp_" + _digest(self.tag, "foreign", salt)[:16]
        return self.add_line("charge", reference, gross_minor, currency, settle_date)

    def short_payout(self, settle_date: date, currency: str, shortfall_minor: int) -> str:
        """The payout of a settle date and currency pays `shortfall_minor` less than its lines'
        net (payout_mismatch); returns its payout_id."""
        pid = payout_id(self.tag, settle_date, currency)
        if not any(line["payout_id"] == pid for line in self.lines):
            raise KeyError(f"no line is paid out in {pid!r}")
        self.shortfalls[pid] = self.shortfalls.get(pid, 0) + shortfall_minor
        return pid


def settle(
    payments: Iterable[dict],
    *,
    tag: str,
    business_date: date,
    schedule: FeeSchedule = REFERENCE_FEE_SCHEDULE,
) -> SettlementReport:
    """The provider's settlement report for a batch of payment rows (dicts with the `payments`
    contract columns, `created_at` a datetime; other rows, such as failed or pending payments,
    authorizations and voids, are never settled).

    `tag` is unique per generation (the business date `YYYYMMDD`, plus a lane where several
    batches share a date): it makes line and payout IDs unique across generations written into
    one landing. `business_date` places the daily account fee lines (D-2 .. D+2). Pure: the
    same payments give the same report, whatever their order.
    """
    report = SettlementReport(tag=tag, business_date=business_date, schedule=schedule)
    settled = sorted(
        (p for p in payments if _is_settled(p)),
        key=lambda p: (_moment(p["created_at"]), p["payment_id"]),
    )
    for offset in ACCOUNT_FEE_DAYS:
        day = business_date + timedelta(days=offset)
        report.add_line("fee", None, 0, ACCOUNT_FEE_CURRENCY, day, fee_minor=ACCOUNT_FEE_MINOR)
    for payment in settled:
        report._settle_payment(payment)
    return report
