"""What a notice holds. IDs, types, severities, amounts and currencies only: no personal data."""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date

from assets.currencies import format_money

KINDS = ("new", "resolve", "check_failed")


@dataclass(frozen=True)
class Item:
    discrepancy_id: str
    type: str
    severity: str
    checkout_id: str | None
    amount_minor: int | None
    currency: str | None


@dataclass(frozen=True)
class CheckFailure:
    name: str
    description: str


@dataclass(frozen=True)
class Notice:
    notice_id: str
    channel: str
    kind: str
    business_date: date
    mode: str  # "digest" or "each"
    items: tuple[Item, ...] = ()
    # A digest lists only the largest items; `total` and `total_minor` summarise all of them.
    total: int = 0
    total_minor: dict[str, int] = field(default_factory=dict)
    checks: tuple[CheckFailure, ...] = ()
    # Every discrepancy the notice covers, listed or not: the record of what went out.
    discrepancy_ids: tuple[str, ...] = ()

    def to_json(self) -> str:
        data = asdict(self)
        data["business_date"] = self.business_date.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Notice":
        data = json.loads(text)
        return cls(
            notice_id=data["notice_id"],
            channel=data["channel"],
            kind=data["kind"],
            business_date=date.fromisoformat(data["business_date"]),
            mode=data["mode"],
            items=tuple(Item(**item) for item in data["items"]),
            total=data["total"],
            total_minor=data["total_minor"],
            checks=tuple(CheckFailure(**check) for check in data["checks"]),
            discrepancy_ids=tuple(data["discrepancy_ids"]),
        )

    @property
    def title(self) -> str:
        day = self.business_date.isoformat()
        if self.kind == "check_failed":
            return f"[recon {day}] {len(self.checks)} data-quality check(s) failed"
        verb = "new" if self.kind == "new" else "resolved"
        if self.mode == "each" and len(self.items) == 1:
            item = self.items[0]
            return f"[recon {day}] {verb} {item.severity} {item.type}: {money(item)}"
        return f"[recon {day}] {self.total} {verb} discrepanc{'y' if self.total == 1 else 'ies'}"

    def lines(self) -> list[str]:
        """The body as plain lines, shared by the text-based channels."""
        if self.kind == "check_failed":
            return [f"{check.name}: {check.description}" for check in self.checks]
        lines = [
            f"{item.severity} {item.type} {money(item)} "
            f"discrepancy {item.discrepancy_id} checkout {item.checkout_id or '-'}"
            for item in self.items
        ]
        if self.mode == "digest":
            totals = ", ".join(
                format_money(minor, cur) for cur, minor in sorted(self.total_minor.items())
            )
            lines.append(f"total at risk: {totals or 'n/a'}")
            if self.total > len(self.items):
                lines.append(f"... and {self.total - len(self.items)} more (largest listed)")
        return lines


def money(item: Item) -> str:
    if item.amount_minor is None:
        return "no amount"
    return format_money(item.amount_minor, item.currency)


def notice_id(*parts: object) -> str:
    """Deterministic: the same channel, kind and content always give the same ID, so a rerun
    finds the notice already in the outbox instead of enqueuing a second copy."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
