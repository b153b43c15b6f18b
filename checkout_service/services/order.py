"""Orders: create (status `placed`) and cancel.

`orders` holds each order's current state; `order_versions` gets a full copy at every change, which
is what the landing contract exports (a later row for an order supersedes an earlier one).
Server-side attribution is captured with the order, written once by the first request: it is not
part of the fingerprint, so a retry that lost or changed its UTM parameters is the same request.
"""

from typing import Any, ClassVar

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, model_validator
from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from checkout_service import idempotency
from checkout_service.db import UTCDateTime, reading
from checkout_service.idempotency import IdempotencyKey, Outcome, key_responses
from checkout_service.problems import ProblemError, problem_responses
from checkout_service.services.fields import (
    AttributionText,
    CheckoutId,
    Currency,
    NonNegativeMinor,
    PositiveMinor,
    ShortText,
    iso,
)
from checkout_service.services.runtime import (
    RuntimeDep,
    app_factory,
    service_router,
)

SERVICE = "order"
ATTRIBUTION_COLUMNS = ("utm_source", "utm_medium", "utm_campaign", "referrer")


def _order_columns() -> list[Column]:
    return [
        Column("checkout_id", String(255), nullable=False),
        Column("idempotency_key", String(255), nullable=False),
        Column("customer_id", String(255), nullable=False),
        Column("status", String(16), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("subtotal_minor", Integer, nullable=False),
        Column("tax_minor", Integer, nullable=False),
        Column("total_minor", Integer, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        *(Column(name, String(2048)) for name in ATTRIBUTION_COLUMNS),
    ]


metadata = MetaData()
keys = idempotency.define_table(metadata)
orders = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    *_order_columns(),
    Index("ix_orders_checkout_id", "checkout_id"),
)
order_versions = Table(
    "order_versions",
    metadata,
    Column("version_id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(64), nullable=False, index=True),
    *_order_columns(),
)

# Built once, so a request only binds its values (see `checkout_service.orchestrator.store`).
_of_order = orders.c.order_id == bindparam("b_order_id")
_INSERT_ORDER = insert(orders)
_INSERT_VERSION = insert(order_versions)
_ORDER = select(orders).where(_of_order)
_ORDER_LOCKED = _ORDER.with_for_update()
_CANCEL = (
    update(orders)
    .where(_of_order)
    .values(status="cancelled", updated_at=bindparam("new_updated_at"))
)


class AttributionBody(BaseModel):
    utm_source: AttributionText | None = None
    utm_medium: AttributionText | None = None
    utm_campaign: AttributionText | None = None
    referrer: AttributionText | None = None


class OrderRequest(BaseModel):
    fingerprint_exclude: ClassVar[frozenset[str]] = frozenset({"attribution"})

    checkout_id: CheckoutId
    customer_id: ShortText
    currency: Currency
    subtotal_minor: NonNegativeMinor
    tax_minor: NonNegativeMinor
    total_minor: PositiveMinor
    attribution: AttributionBody | None = None

    @model_validator(mode="after")
    def _total_adds_up(self) -> "OrderRequest":
        if self.subtotal_minor + self.tax_minor != self.total_minor:
            raise ValueError("total_minor must equal subtotal_minor + tax_minor")
        return self


class CancelRequest(BaseModel):
    reason: ShortText | None = None


router = service_router()
create_app = app_factory(SERVICE, metadata, keys, "Order service", router)


@router.post("/v1/orders", status_code=201, responses=key_responses())
def create_order(
    body: OrderRequest, key: IdempotencyKey, request: Request, runtime: RuntimeDep
) -> Response:
    def handler(conn: Connection) -> Outcome:
        now = runtime.clock()
        attribution = (body.attribution or AttributionBody()).model_dump()
        row = {
            "order_id": runtime.new_id("ord"),
            "checkout_id": body.checkout_id,
            "idempotency_key": key,
            "customer_id": body.customer_id,
            "status": "placed",
            "currency": body.currency,
            "subtotal_minor": body.subtotal_minor,
            "tax_minor": body.tax_minor,
            "total_minor": body.total_minor,
            "created_at": now,
            "updated_at": now,
            **attribution,
        }
        conn.execute(_INSERT_ORDER, row)
        conn.execute(_INSERT_VERSION, row)
        return Outcome(201, iso(row))

    return runtime.idempotency.execute(request, key, body, handler)


@router.post("/v1/orders/{order_id}/cancel", responses=key_responses(404))
def cancel_order(
    order_id: str, body: CancelRequest, key: IdempotencyKey, request: Request, runtime: RuntimeDep
) -> Response:
    def handler(conn: Connection) -> Outcome:
        row = _order(conn, order_id, lock=True)
        if row["status"] == "cancelled":
            return Outcome(200, iso(row))  # already undone: no second effect
        now = runtime.clock()
        conn.execute(_CANCEL, {"b_order_id": order_id, "new_updated_at": now})
        row = {**row, "status": "cancelled", "updated_at": now}
        # The version keeps the order's creating key: in the contract an order row's key
        # names the step that made the order; a cancellation is a later state of it.
        conn.execute(_INSERT_VERSION, row)
        return Outcome(200, iso(row))

    return runtime.idempotency.execute(request, key, body, handler)


@router.get("/v1/orders/{order_id}", responses=problem_responses(404))
def get_order(order_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    with reading(runtime.engine) as conn:
        return iso(_order(conn, order_id, lock=False))


def _order(conn: Connection, order_id: str, *, lock: bool) -> dict[str, Any]:
    query = _ORDER_LOCKED if lock else _ORDER
    row = conn.execute(query, {"b_order_id": order_id}).mappings().first()
    if row is None:
        raise ProblemError(404, "order-not-found", "Unknown order", f"No order {order_id}.")
    return dict(row)
