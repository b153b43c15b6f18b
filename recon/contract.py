"""The landing-file contract as data (docs/contract.md describes it): which columns each source
has and what a valid value is. Ingestion turns this into validation SQL; `sql/raw_*.sql` holds the
same shape as DDL (a test keeps the two in step)."""

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Kind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    TIMESTAMP = "timestamp"
    ENUM = "enum"
    CURRENCY = "currency"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.TEXT
    required: bool = False  # null or empty → quarantined
    values: tuple[str, ...] = ()  # for ENUM, compared lower-cased
    minimum: int | None = None  # for INTEGER, inclusive
    # For TEXT, in bytes of UTF-8: room for any ID or URL, not for a payload smuggled into one.
    max_bytes: int = 2048
    # SQL condition (on the raw text columns) under which a nullable column must have a value.
    required_when: str | None = None
    # SQL condition (on the raw columns, text or native) a present value must meet, and what it
    # says when it does not: a rule across columns (a line's net is its gross less its fee).
    consistent_when: tuple[str, str] | None = None

    @property
    def sql_type(self) -> str:
        return {Kind.INTEGER: "bigint", Kind.TIMESTAMP: "timestamp"}.get(self.kind, "varchar")


@dataclass(frozen=True)
class Source:
    name: str
    key: str
    # The timestamp whose UTC date puts a row in a landing folder: when the row was written. A
    # status change is a new row written at its updated_at (so a cancellation on D+1 arrives in
    # D+1's folder), and client events are exported by the collector as it receives them.
    landing_time: str
    columns: tuple[Column, ...]
    # An optional source is reconciled only where the landing directory has its folder: the
    # cash side (settlements, payouts) is for those who receive the provider's reports.
    optional: bool = False
    # Whether every business date has rows: `export_arrived` fails on an empty day's folder of a
    # daily source; payouts are not made every day.
    daily: bool = True
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))
        timestamps = {c.name for c in self.columns if c.kind is Kind.TIMESTAMP}
        if self.landing_time not in timestamps:
            raise ValueError(f"{self.name}: landing_time {self.landing_time!r} is no timestamp")

    @property
    def table(self) -> str:
        return f"raw.{self.name}"


def _id(name: str) -> Column:
    return Column(name, required=True)


def _ts(name: str) -> Column:
    return Column(name, Kind.TIMESTAMP, required=True)


def _money(name: str, minimum: int) -> Column:
    return Column(name, Kind.INTEGER, required=True, minimum=minimum)


def _enum(name: str, *values: str) -> Column:
    return Column(name, Kind.ENUM, required=True, values=values)


_CURRENCY = Column("currency", Kind.CURRENCY, required=True)
_ATTRIBUTION = (
    Column("utm_source"),
    Column("utm_medium"),
    Column("utm_campaign"),
    Column("referrer"),
)

ORDERS = Source(
    "orders",
    key="order_id",
    landing_time="updated_at",
    columns=(
        _id("order_id"),
        _id("checkout_id"),
        _id("idempotency_key"),
        Column("customer_id"),
        _enum("status", "placed", "cancelled"),
        _CURRENCY,
        _money("subtotal_minor", 0),
        _money("tax_minor", 0),
        _money("total_minor", 0),
        _ts("created_at"),
        _ts("updated_at"),
        *_ATTRIBUTION,
    ),
)

PAYMENTS = Source(
    "payments",
    key="payment_id",
    landing_time="created_at",
    columns=(
        _id("payment_id"),
        _id("checkout_id"),
        _id("idempotency_key"),
        _enum("kind", "authorization", "capture", "void", "refund"),
        _enum("status", "succeeded", "failed", "pending"),
        _money("amount_minor", 1),
        _CURRENCY,
        _ts("created_at"),
        Column("psp_reference"),
        Column("parent_payment_id"),
        Column("failure_code"),
    ),
)

INVENTORY_MOVES = Source(
    "inventory_moves",
    key="move_id",
    landing_time="created_at",
    columns=(
        _id("move_id"),
        _id("checkout_id"),
        _id("idempotency_key"),
        _id("reservation_id"),
        _id("sku"),
        _money("quantity", 1),
        _enum("kind", "reserve", "release", "commit"),
        _ts("created_at"),
    ),
)

FULFILLMENTS = Source(
    "fulfillments",
    key="fulfillment_id",
    landing_time="updated_at",
    columns=(
        _id("fulfillment_id"),
        _id("checkout_id"),
        _id("order_id"),
        _enum("status", "requested", "shipped", "cancelled"),
        _ts("created_at"),
        _ts("updated_at"),
    ),
)

_EVENT_NAME = "lower(trim(cast(event_name as varchar)))"
_EVENT_IS_NOT_VIEW = f"{_EVENT_NAME} <> 'checkout_viewed'"
_EVENT_IS_COMPLETION = f"{_EVENT_NAME} = 'checkout_completed'"

ANALYTICS_EVENTS = Source(
    "analytics_events",
    key="event_id",
    landing_time="received_at",
    columns=(
        _id("event_id"),
        _enum(
            "event_name",
            "checkout_viewed",
            "checkout_started",
            "checkout_completed",
            "payment_failed",
        ),
        Column("anonymous_id"),
        Column("session_id"),
        # A checkout_viewed event may happen before a checkout exists; every other event has one.
        Column("checkout_id", required_when=_EVENT_IS_NOT_VIEW),
        _ts("occurred_at"),
        _ts("received_at"),
        *_ATTRIBUTION,
        # Only checkout_completed carries revenue.
        Column("revenue_minor", Kind.INTEGER, minimum=1, required_when=_EVENT_IS_COMPLETION),
        Column("currency", Kind.CURRENCY, required_when=_EVENT_IS_COMPLETION),
    ),
)


def _integer(name: str) -> str:
    return f"try_cast(trim(cast({name} as varchar)) as bigint)"


_LINE_TYPE = "lower(trim(cast(line_type as varchar)))"
_LINE_OF_A_PAYMENT = f"{_LINE_TYPE} in ('charge', 'refund', 'chargeback', 'chargeback_reversal')"
_NET_IS_GROSS_LESS_FEE = (
    f"{_integer('net_minor')} = {_integer('gross_minor')} - {_integer('fee_minor')}",
    "is not gross_minor - fee_minor",
)

SETTLEMENTS = Source(
    "settlements",
    key="settlement_line_id",
    landing_time="settled_at",
    optional=True,
    columns=(
        _id("settlement_line_id"),
        _id("payout_id"),
        # The payment the line settles: a charge or chargeback names the capture's reference, a
        # refund the refund's. The provider's own fee and adjustment lines may name none.
        Column("psp_reference", required_when=_LINE_OF_A_PAYMENT),
        _enum(
            "line_type",
            "charge",
            "refund",
            "chargeback",
            "chargeback_reversal",
            "fee",
            "adjustment",
        ),
        # Signed: money to the merchant is positive.
        Column("gross_minor", Kind.INTEGER, required=True),
        _money("fee_minor", 0),
        Column("net_minor", Kind.INTEGER, required=True, consistent_when=_NET_IS_GROSS_LESS_FEE),
        _CURRENCY,
        _ts("settled_at"),
    ),
)

PAYOUTS = Source(
    "payouts",
    key="payout_id",
    landing_time="created_at",
    optional=True,
    daily=False,
    columns=(
        _id("payout_id"),
        # Signed: a negative payout is a debit from the bank account.
        Column("amount_minor", Kind.INTEGER, required=True),
        _CURRENCY,
        _enum("status", "paid", "failed"),
        # A date; a timestamp is read as its UTC date.
        _ts("arrival_date"),
        _ts("created_at"),
    ),
)

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        ORDERS,
        PAYMENTS,
        INVENTORY_MOVES,
        FULFILLMENTS,
        ANALYTICS_EVENTS,
        SETTLEMENTS,
        PAYOUTS,
    )
}

# The steps of an idempotency key `{checkout_id}:{step}` (docs/contract.md, "Idempotency keys").
IDEMPOTENCY_STEPS = (
    "fraud",
    "payment.authorize",
    "payment.capture",
    "payment.void",
    "payment.refund",
    "inventory.reserve",
    "inventory.release",
    "inventory.commit",
    "order",
    "tax",
    "fulfillment",
)

# The columns ingestion adds to every raw row, ahead of the contract's own.
LINEAGE_COLUMNS = ("_partition_date", "_landing_date", "_source_file", "_line", "_loaded_at")


def source_in_use(source: Source, landing: Path) -> bool:
    """Whether the pipeline reconciles `source`: always, unless it is optional and the landing
    directory has no folder for it."""
    return not source.optional or (Path(landing) / source.name).is_dir()
