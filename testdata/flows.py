"""Builders of one checkout's landing rows, in the shape of the data contract (docs/contract.md).

A `CheckoutFlow` plays one checkout step by step (client events, inventory, payments, order,
fulfillment) and accumulates the rows each service would export, with deterministic IDs and an
internal clock so rows come out time-ordered. It refuses contract-breaking values (non-positive
amounts, unknown enums): bad rows are made on purpose, by editing a row afterwards.

Timestamps in the rows are timezone-aware UTC `datetime`s; `recon.landing_writer.write_rows`
turns them into each landing format's representation.
"""

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from checkout_service.services.payment import psp_reference
from recon.contract import IDEMPOTENCY_STEPS
from recon.landing_writer import SOURCES

STEPS = IDEMPOTENCY_STEPS

EVENT_NAMES = ("checkout_viewed", "checkout_started", "checkout_completed", "payment_failed")
ORDER_STATUSES = ("placed", "cancelled")
FULFILLMENT_STATUSES = ("requested", "shipped", "cancelled")


@dataclass(frozen=True)
class Attribution:
    """Campaign parameters as the server captured them (orders) or the browser sent them."""

    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer: str | None = None

    @staticmethod
    def columns(attribution: "Attribution | None") -> dict[str, str | None]:
        return asdict(attribution or Attribution())


class Inherit(Enum):
    """Marker for "use the flow's own attribution" (None already means "no attribution")."""

    FLOW = "flow"


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive input is taken to be UTC already, as everywhere here."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass
class CheckoutFlow:
    """Accumulates the contract rows of one checkout.

    Every step advances the clock by a few seconds unless `at=` pins it (never backwards); the
    first step happens at `start`. IDs are `<prefix>_<checkout suffix>_<n>` and idempotency keys
    `{checkout_id}:{step}`; `retry_key(step)` makes the fresh key of an unsafe retry.
    """

    checkout_id: str
    start: datetime
    currency: str = "EUR"
    total_minor: int = 4_990
    utm: Attribution | None = None
    tax_minor: int | None = None  # default: 20 % tax included in the total
    customer_id: str | None = None
    rng: random.Random | None = field(default=None, repr=False)
    step_seconds: tuple[int, int] = (2, 20)
    clock: datetime = field(init=False)
    retry_keys: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.total_minor <= 0:
            raise ValueError(f"{self.checkout_id}: total_minor must be positive")
        if self.tax_minor is None:
            self.tax_minor = self.total_minor * 20 // 120
        if not 0 <= self.tax_minor <= self.total_minor:
            raise ValueError(f"{self.checkout_id}: tax_minor must lie between 0 and the total")
        self.start = utc(self.start)
        self.clock = self.start
        # Seeding from the checkout keeps a flow reproducible on its own, outside any generator.
        self.rng = self.rng or random.Random(self.checkout_id)
        self.customer_id = self.customer_id or f"cus_{self._suffix}"
        self._started = False
        self._counters: Counter[str] = Counter()
        self._rows: dict[str, list[dict]] = {source: [] for source in SOURCES}
        self._authorizations: dict[str, int] = {}
        self._reservations: dict[str, tuple[str, int]] = {}
        self._orders: dict[str, dict] = {}
        self._fulfillments: dict[str, dict] = {}

    # -- rows and identities ------------------------------------------------------------------

    @property
    def rows(self) -> dict[str, list[dict]]:
        """Copies of the rows so far, per source (every source present, possibly empty)."""
        return {source: [dict(row) for row in rows] for source, rows in self._rows.items()}

    @property
    def subtotal_minor(self) -> int:
        return self.total_minor - self.tax_minor

    @property
    def _suffix(self) -> str:
        return self.checkout_id.removeprefix("chk_")

    def key(self, step: str) -> str:
        if step not in STEPS:
            raise ValueError(f"unknown idempotency step {step!r}; known: {', '.join(STEPS)}")
        return f"{self.checkout_id}:{step}"

    def retry_key(self, step: str) -> str:
        """A fresh key for a step already done: what an unsafe client retry sends."""
        self._counters[f"retry:{step}"] += 1
        retry = f"{self.key(step)}:retry-{self._counters[f'retry:{step}']}"
        self.retry_keys.append(retry)
        return retry

    def _id(self, prefix: str) -> str:
        self._counters[prefix] += 1
        return f"{prefix}_{self._suffix}_{self._counters[prefix]}"

    def _advance(self, at: datetime | None) -> datetime:
        if at is not None:
            at = utc(at)
            if at < self.clock:
                raise ValueError(
                    f"{self.checkout_id}: {at} is before the flow's clock {self.clock}"
                )
            self.clock = at
        elif self._started:
            self.clock += timedelta(seconds=self.rng.randint(*self.step_seconds))
        self._started = True
        return self.clock

    # -- client-side analytics ----------------------------------------------------------------

    def client_event(
        self,
        name: str,
        *,
        utm: Attribution | Inherit | None = Inherit.FLOW,
        revenue: int | None = None,
        at: datetime | None = None,
        with_checkout_id: bool = True,
    ) -> str:
        """One browser event; `checkout_completed` carries the flow total unless told otherwise."""
        if name not in EVENT_NAMES:
            raise ValueError(f"unknown event name {name!r}")
        completed = name == "checkout_completed"
        if revenue is not None and not completed:
            raise ValueError("only checkout_completed carries revenue")
        if completed and revenue is None:
            revenue = self.total_minor
        if not with_checkout_id and name != "checkout_viewed":
            raise ValueError("only checkout_viewed may lack a checkout_id")
        # Client clocks have sub-second noise; the collector receives a second or so later.
        occurred_at = self._advance(at) + timedelta(milliseconds=self.rng.randint(0, 999))
        received_at = occurred_at + timedelta(milliseconds=self.rng.randint(800, 2_500))
        event_id = self._id("evt")
        self._rows["analytics_events"].append(
            {
                "event_id": event_id,
                "event_name": name,
                "anonymous_id": f"anon_{self._suffix}",
                "session_id": f"sess_{self._suffix}",
                "checkout_id": self.checkout_id if with_checkout_id else None,
                "occurred_at": occurred_at,
                "received_at": received_at,
                **Attribution.columns(self.utm if utm is Inherit.FLOW else utm),
                "revenue_minor": revenue,
                "currency": self.currency if completed else None,
            }
        )
        return event_id

    def view(self, *, at: datetime | None = None, with_checkout_id: bool = True) -> str:
        return self.client_event("checkout_viewed", at=at, with_checkout_id=with_checkout_id)

    def start_checkout(self, *, at: datetime | None = None) -> str:
        return self.client_event("checkout_started", at=at)

    def complete(
        self,
        *,
        utm: Attribution | Inherit | None = Inherit.FLOW,
        revenue: int | None = None,
        at: datetime | None = None,
    ) -> str:
        return self.client_event("checkout_completed", utm=utm, revenue=revenue, at=at)

    def payment_failed(self, *, at: datetime | None = None) -> str:
        return self.client_event("payment_failed", at=at)

    # -- inventory ----------------------------------------------------------------------------

    def reserve(
        self, sku: str, qty: int = 1, *, key: str | None = None, at: datetime | None = None
    ) -> str:
        """Reserve stock; returns the reservation_id that release/commit refer to."""
        if qty <= 0:
            raise ValueError("quantity must be positive")
        reservation_id = self._id("res")
        self._reservations[reservation_id] = (sku, qty)
        self._move(reservation_id, "reserve", key or self.key("inventory.reserve"), at)
        return reservation_id

    def release(
        self, reservation_id: str, *, key: str | None = None, at: datetime | None = None
    ) -> str:
        return self._move(reservation_id, "release", key or self.key("inventory.release"), at)

    def commit(
        self, reservation_id: str, *, key: str | None = None, at: datetime | None = None
    ) -> str:
        return self._move(reservation_id, "commit", key or self.key("inventory.commit"), at)

    def _move(self, reservation_id: str, kind: str, key: str, at: datetime | None) -> str:
        if reservation_id not in self._reservations:
            raise ValueError(f"unknown reservation {reservation_id!r}")
        sku, quantity = self._reservations[reservation_id]
        move_id = self._id("mov")
        self._rows["inventory_moves"].append(
            {
                "move_id": move_id,
                "checkout_id": self.checkout_id,
                "idempotency_key": key,
                "reservation_id": reservation_id,
                "sku": sku,
                "quantity": quantity,
                "kind": kind,
                "created_at": self._advance(at),
            }
        )
        return move_id

    # -- payments -----------------------------------------------------------------------------

    def authorize(
        self,
        amount: int | None = None,
        succeeded: bool = True,
        key: str | None = None,
        *,
        at: datetime | None = None,
        failure_code: str = "card_declined",
    ) -> str:
        """Authorize `amount` (default: the total); a failed one carries `failure_code`."""
        amount = self.total_minor if amount is None else amount
        payment_id = self._payment(
            "authorization",
            amount,
            key or self.key("payment.authorize"),
            at,
            status="succeeded" if succeeded else "failed",
            failure_code=None if succeeded else failure_code,
        )
        self._authorizations[payment_id] = amount
        return payment_id

    def capture(
        self,
        auth_id: str,
        amount: int | None = None,
        at: datetime | None = None,
        key: str | None = None,
    ) -> str:
        """Capture against an authorization (default: its full amount)."""
        amount = self._authorized(auth_id) if amount is None else amount
        key = key or self.key("payment.capture")
        return self._payment("capture", amount, key, at, parent=auth_id)

    def void(self, auth_id: str, *, at: datetime | None = None, key: str | None = None) -> str:
        """Void an authorization; a void's amount is the authorized amount."""
        amount = self._authorized(auth_id)
        key = key or self.key("payment.void")
        return self._payment("void", amount, key, at, parent=auth_id)

    def refund(
        self, auth_id: str, amount: int, *, at: datetime | None = None, key: str | None = None
    ) -> str:
        key = key or self.key("payment.refund")
        return self._payment("refund", amount, key, at, parent=self._known(auth_id))

    def _authorized(self, auth_id: str) -> int:
        return self._authorizations[self._known(auth_id)]

    def _known(self, auth_id: str) -> str:
        if auth_id not in self._authorizations:
            raise ValueError(f"unknown authorization {auth_id!r}")
        return auth_id

    def _payment(
        self,
        kind: str,
        amount: int,
        key: str,
        at: datetime | None,
        *,
        parent: str | None = None,
        status: str = "succeeded",
        failure_code: str | None = None,
    ) -> str:
        if amount <= 0:
            raise ValueError("amount_minor must be positive")
        payment_id = self._id("pay")
        self._rows["payments"].append(
            {
                "payment_id": payment_id,
                "checkout_id": self.checkout_id,
                "idempotency_key": key,
                "kind": kind,
                "status": status,
                "amount_minor": amount,
                "currency": self.currency,
                "created_at": self._advance(at),
                "psp_reference": psp_reference(payment_id),
                "parent_payment_id": parent,
                "failure_code": failure_code,
            }
        )
        return payment_id

    # -- orders and fulfillment ---------------------------------------------------------------

    def place_order(
        self, status: str = "placed", *, key: str | None = None, at: datetime | None = None
    ) -> str:
        """Write the order (with the flow's server-side attribution); returns its order_id."""
        if status not in ORDER_STATUSES:
            raise ValueError(f"unknown order status {status!r}")
        order_id = self._id("ord")
        placed_at = self._advance(at)
        row = {
            "order_id": order_id,
            "checkout_id": self.checkout_id,
            "idempotency_key": key or self.key("order"),
            "customer_id": self.customer_id,
            "status": status,
            "currency": self.currency,
            "subtotal_minor": self.subtotal_minor,
            "tax_minor": self.tax_minor,
            "total_minor": self.total_minor,
            "created_at": placed_at,
            "updated_at": placed_at,
            **Attribution.columns(self.utm),
        }
        self._orders[order_id] = row
        self._rows["orders"].append(row)
        return order_id

    def cancel_order(self, order_id: str, at: datetime | None = None) -> None:
        """A later row for the same order: status cancelled, same created_at, greater updated_at."""
        self._orders[order_id] = self._new_version(self._orders, order_id, "cancelled", at)
        self._rows["orders"].append(self._orders[order_id])

    def request_fulfillment(self, order_id: str, *, at: datetime | None = None) -> str:
        if order_id not in self._orders:
            raise ValueError(f"unknown order {order_id!r}")
        fulfillment_id = self._id("ful")
        requested_at = self._advance(at)
        row = {
            "fulfillment_id": fulfillment_id,
            "checkout_id": self.checkout_id,
            "order_id": order_id,
            "status": "requested",
            "created_at": requested_at,
            "updated_at": requested_at,
        }
        self._fulfillments[fulfillment_id] = row
        self._rows["fulfillments"].append(row)
        return fulfillment_id

    def ship(self, fulfillment_id: str, *, at: datetime | None = None) -> None:
        self._fulfillment_status(fulfillment_id, "shipped", at)

    def cancel_fulfillment(self, fulfillment_id: str, *, at: datetime | None = None) -> None:
        self._fulfillment_status(fulfillment_id, "cancelled", at)

    def _fulfillment_status(self, fulfillment_id: str, status: str, at: datetime | None) -> None:
        row = self._new_version(self._fulfillments, fulfillment_id, status, at)
        self._fulfillments[fulfillment_id] = row
        self._rows["fulfillments"].append(row)

    def _new_version(
        self, latest: dict[str, dict], record_id: str, status: str, at: datetime | None
    ) -> dict:
        if record_id not in latest:
            raise ValueError(f"unknown record {record_id!r}")
        previous = latest[record_id]
        updated_at = self._advance(at)
        # "Latest row wins" needs a strictly greater updated_at to be unambiguous.
        if updated_at <= previous["updated_at"]:
            raise ValueError(f"{record_id}: a status change needs a later updated_at")
        return {**previous, "status": status, "updated_at": updated_at}


def combine_rows(parts: Iterable[dict[str, list[dict]]]) -> dict[str, list[dict]]:
    """Concatenate several flows' rows (or row dicts) per source, in the given order."""
    combined: dict[str, list[dict]] = {source: [] for source in SOURCES}
    for part in parts:
        for source, rows in part.items():
            combined.setdefault(source, []).extend(rows)
    return combined
