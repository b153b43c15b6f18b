"""Orders: create (status `placed`) and cancel.

`orders` holds each order's current state; `order_versions` gets a full copy at every change, which
is what the landing contract exports (a later row for an order supersedes an earlier one).
Server-side attribution is captured with the order, written once by the first request: it is not
part of the fingerprint, so a retry that lost or changed its UTM parameters is the same request.
"""

from typing import Any, ClassVar

from fastapi.responses import Response
from pydantic import BaseModel, model_validator
from sqlalchemy import Column, Integer, String, Table, insert
from sqlalchemy.engine import Connection

from checkout_service.db import reading, step_columns, step_table, timestamps
from checkout_service.idempotency import Outcome, key_responses, service_metadata
from checkout_service.problems import problem_responses
from checkout_service.services.fields import (
    AttributionText,
    CheckoutId,
    Currency,
    NonNegativeMinor,
    PositiveMinor,
    ShortText,
    iso,
)
from checkout_service.services.lookup import RecordLookup
from checkout_service.services.runtime import KeyedCallDep, RuntimeDep, app_factory, service_router

SERVICE = "order"
ATTRIBUTION_COLUMNS = ("utm_source", "utm_medium", "utm_campaign", "referrer")


def _order_columns() -> list[Column]:
    """An order's state after `step_columns`: an order row and each of its versions."""
    return [
        Column("customer_id", String(255), nullable=False),
        Column("status", String(16), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("subtotal_minor", Integer, nullable=False),
        Column("tax_minor", Integer, nullable=False),
        Column("total_minor", Integer, nullable=False),
        *timestamps(),
        *(Column(name, String(2048)) for name in ATTRIBUTION_COLUMNS),
    ]


metadata, keys = service_metadata()
orders = step_table("orders", metadata, "order_id", *_order_columns())
order_versions = Table(
    "order_versions",
    metadata,
    Column("version_id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(64), nullable=False, index=True),
    *step_columns(),
    *_order_columns(),
)

# Built once, so a request only binds its values (see `checkout_service.orchestrator.store`).
_ORDERS = RecordLookup(orders, "order_id", "order")
_INSERT_ORDER = insert(orders)
_INSERT_VERSION = insert(order_versions)


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
def create_order(body: OrderRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        now = call.runtime.clock()
        attribution = (body.attribution or AttributionBody()).model_dump()
        row = {
            "order_id": call.runtime.new_id("ord"),
            "checkout_id": body.checkout_id,
            "idempotency_key": call.key,
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

    return call.execute(body, handler)


@router.post("/v1/orders/{order_id}/cancel", responses=key_responses(404))
def cancel_order(order_id: str, body: CancelRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        row = _ORDERS.get(conn, order_id, lock=True)
        if row["status"] == "cancelled":
            return Outcome(200, iso(row))  # already undone: no second effect
        row = _ORDERS.set_status(conn, row, "cancelled", call.runtime.clock())
        # The version keeps the order's creating key: in the contract an order row's key
        # names the step that made the order; a cancellation is a later state of it.
        conn.execute(_INSERT_VERSION, row)
        return Outcome(200, iso(row))

    return call.execute(body, handler)


@router.get("/v1/orders/{order_id}", responses=problem_responses(404))
def get_order(order_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    with reading(runtime.engine) as conn:
        return iso(_ORDERS.get(conn, order_id, lock=False))
