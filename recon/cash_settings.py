"""The cash side's settings: the provider's fee schedule and the rules' tolerances.

Both are given as JSON (`RECON_FEE_SCHEDULE`, `RECON_TOLERANCES`), keyed by ISO-4217 currency
with `*` for every other currency. The rules read them as two small tables of the partition
(`meta.fee_schedule`, `meta.tolerances`, see `recon.run_params`), `*` resolved to a row per
currency so that a rule joins on currency alone; the generators compute the same
fee with `expected_fee`, so test data and rules cannot disagree on rounding.

Arithmetic is in integers: a percentage becomes parts per million, and a fee is rounded half up
to the minor unit."""

import json
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from recon.currencies import ISO_4217

ANY_CURRENCY = "*"
PPM = 1_000_000

# The rules whose comparisons take a tolerance, and what each compares.
TOLERANCE_RULES = {
    "amount_mismatch": "an order's total against its captures",
    "settlement_amount_mismatch": "a settlement line's gross against its capture or refund",
    "payout_mismatch": "a payout's amount against the sum of its lines' net",
    "fee_mismatch": "a line's fee against the schedule",
}
# Line types whose fee the schedule sets; `fee` and `adjustment` lines are the provider's own
# bookings and are not checked.
FEE_CHECKED_LINES = ("charge", "refund", "chargeback", "chargeback_reversal")


def _currency_key(value: str) -> str:
    key = value.strip().upper()
    if key != ANY_CURRENCY and key not in ISO_4217:
        raise ValueError(f"{value!r} is neither an ISO-4217 currency nor {ANY_CURRENCY!r}")
    return key


class FeeRule(BaseModel):
    """What the provider charges per line in one currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    percent: Annotated[Decimal, Field(ge=0, le=100, decimal_places=4)] = Decimal(0)
    fixed_minor: int = Field(0, ge=0, description="Added to a charge's percentage fee.")
    chargeback_fee_minor: int = Field(0, ge=0, description="The fee of a chargeback line.")
    tolerance_minor: int = Field(
        0, ge=0, description="Largest difference from the schedule that is not a fee_mismatch."
    )

    @property
    def rate_ppm(self) -> int:
        return int(self.percent * 10_000)


class Tolerance(BaseModel):
    """A difference is tolerated when it is at most `absolute_minor`, or at most `relative` of
    the expected amount (a fraction: 0.001 is 0.1 %)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    absolute_minor: int = Field(0, ge=0)
    relative: Annotated[Decimal, Field(ge=0, le=1, decimal_places=6)] = Decimal(0)

    @property
    def relative_ppm(self) -> int:
        return int(self.relative * PPM)

    def allows(self, difference: int, expected: int) -> bool:
        difference = abs(difference)
        return difference <= self.absolute_minor or difference * PPM <= self.relative_ppm * abs(
            expected
        )


def _by_currency(value: dict) -> dict:
    """The mapping keyed by upper-cased currency; two spellings of one currency are an error,
    not a silent choice between them."""
    keyed: dict = {}
    for key, entry in dict(value).items():
        currency = _currency_key(key)
        if currency in keyed:
            raise ValueError(f"{currency} is given twice (as {key!r} and another spelling)")
        keyed[currency] = entry
    return keyed


class _ByCurrency(BaseModel):
    """Given in settings as the mapping itself (JSON text or a dict), held under `rules`."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def parse(cls, value: "str | dict | Self | None") -> Self:
        if value is None or isinstance(value, cls):
            return value or cls()
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        return cls(rules=value)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json")["rules"], sort_keys=True)


class FeeSchedule(_ByCurrency):
    """Currency (or `*`) -> fee rule. Empty: fees are not checked (no fee_mismatch)."""

    rules: dict[str, FeeRule] = Field(default_factory=dict)

    @field_validator("rules", mode="before")
    @classmethod
    def _keys(cls, value: dict) -> dict:
        return _by_currency(value)

    def rule_for(self, currency: str) -> FeeRule | None:
        return self.rules.get(currency.upper(), self.rules.get(ANY_CURRENCY))


class Tolerances(_ByCurrency):
    """Rule -> currency (or `*`) -> tolerance. A rule or currency not given tolerates nothing,
    except amount_mismatch, whose `*` defaults to `amount_tolerance_minor`."""

    rules: dict[str, dict[str, Tolerance]] = Field(default_factory=dict)

    @field_validator("rules", mode="before")
    @classmethod
    def _keys(cls, value: dict) -> dict:
        unknown = sorted(set(value) - set(TOLERANCE_RULES))
        if unknown:
            known = ", ".join(TOLERANCE_RULES)
            raise ValueError(f"no tolerance for rule(s) {', '.join(unknown)} (rules: {known})")
        return {rule: _by_currency(per_currency) for rule, per_currency in value.items()}

    def for_rule(self, rule: str, currency: str) -> Tolerance:
        per_currency = self.rules.get(rule, {})
        return per_currency.get(currency.upper(), per_currency.get(ANY_CURRENCY, Tolerance()))


def expected_fee(
    schedule: FeeSchedule, line_type: str, gross_minor: int, currency: str
) -> int | None:
    """The fee the schedule sets for a settlement line, or None when it sets none (no rule for
    the currency, or a `fee`/`adjustment` line)."""
    rule = schedule.rule_for(currency)
    if rule is None or line_type not in FEE_CHECKED_LINES:
        return None
    if line_type == "charge":
        return (abs(gross_minor) * rule.rate_ppm + PPM // 2) // PPM + rule.fixed_minor
    if line_type == "chargeback":
        return rule.chargeback_fee_minor
    return 0


def fee_rows(schedule: FeeSchedule) -> list[tuple[str, int, int, int]]:
    """(currency, rate_ppm, fixed_minor, chargeback_fee_minor) rows of `meta.fee_schedule`, one
    per currency the schedule covers (`*` resolved): the rules join on currency alone, and a
    currency without a row is not checked."""
    return [
        (currency, rule.rate_ppm, rule.fixed_minor, rule.chargeback_fee_minor)
        for currency in sorted(ISO_4217)
        if (rule := schedule.rule_for(currency)) is not None
    ]


def tolerance_rows(
    tolerances: Tolerances, schedule: FeeSchedule, amount_tolerance_minor: int
) -> list[tuple[str, str, int, int]]:
    """(rule, currency, absolute_minor, relative_ppm) rows of `meta.tolerances`, one per rule and
    currency with `*` resolved, so the rules join on (rule, currency) alone. Most specific first:
    the rule's own tolerance for the currency, the fee schedule's `tolerance_minor` for the
    currency (fee_mismatch), the rule's `*`, the schedule's `*`; else amount_mismatch tolerates
    the older single setting and the other rules nothing."""
    rows = []
    for rule in TOLERANCE_RULES:
        given = tolerances.rules.get(rule, {})
        for currency in sorted(ISO_4217):
            tolerance = _resolved(rule, currency, given, schedule, amount_tolerance_minor)
            rows.append((rule, currency, tolerance.absolute_minor, tolerance.relative_ppm))
    return rows


def _resolved(
    rule: str,
    currency: str,
    given: dict[str, Tolerance],
    schedule: FeeSchedule,
    amount_tolerance_minor: int,
) -> Tolerance:
    fee_rules = schedule.rules if rule == "fee_mismatch" else {}
    for key in (currency, ANY_CURRENCY):
        if key in given:
            return given[key]
        if key in fee_rules:
            return Tolerance(absolute_minor=fee_rules[key].tolerance_minor)
    if rule == "amount_mismatch":
        return Tolerance(absolute_minor=amount_tolerance_minor)
    return Tolerance()
