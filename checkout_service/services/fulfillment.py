"""Fulfillment: request, ship, cancel.

`fulfillments` holds the current state; `fulfillment_events` records every transition and every
refused one (a cancellation after shipping is refused and recorded, never hidden). The contract
export reads the accepted transitions, one row per state (latest `updated_at` wins).
"""

from datetime import datetime
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Boolean, Column, String, Table, bindparam, insert, select
from sqlalchemy.engine import Connection

from checkout_service.db import UTCDateTime, checkout_index, reading, record_id, timestamps
from checkout_service.idempotency import Outcome, key_responses, problem_outcome, service_metadata
from checkout_service.problems import problem_responses
from checkout_service.services.fields import CheckoutId, RecordId, ShortText, iso
from checkout_service.services.lookup import RecordLookup
from checkout_service.services.runtime import (
    KeyedCall,
    KeyedCallDep,
    RuntimeDep,
    app_factory,
    service_router,
)

SERVICE = "fulfillment"

metadata, keys = service_metadata()
# Not a `db.step_table`: the order's ID stands between the checkout and the key.
fulfillments = Table(
    "fulfillments",
    metadata,
    record_id("fulfillment_id"),
    Column("checkout_id", String(255), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    *timestamps(),
    checkout_index("fulfillments"),
)
fulfillment_events = Table(
    "fulfillment_events",
    metadata,
    record_id("event_id"),
    Column("fulfillment_id", String(64), nullable=False, index=True),
    Column("idempotency_key", String(255), nullable=False),
    # requested | shipped | cancelled; `accepted` false for a refused transition.
    Column("status", String(16), nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("reason", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
)

# Built once, so a request only binds its values (see `checkout_service.orchestrator.store`).
_FULFILLMENTS = RecordLookup(fulfillments, "fulfillment_id", "fulfillment")
_INSERT = insert(fulfillments)
_INSERT_EVENT = insert(fulfillment_events)
_EVENTS = (
    select(fulfillment_events)
    .where(fulfillment_events.c.fulfillment_id == bindparam("b_fulfillment_id"))
    .order_by(fulfillment_events.c.created_at)
)


class FulfillmentRequest(BaseModel):
    checkout_id: CheckoutId
    order_id: RecordId


class TransitionRequest(BaseModel):
    reason: ShortText | None = None


# Which current states a transition may leave from; the same state again is a no-op.
_ALLOWED_FROM = {"shipped": {"requested"}, "cancelled": {"requested"}}


router = service_router()
create_app = app_factory(SERVICE, metadata, keys, "Fulfillment service", router)


@router.post("/v1/fulfillments", status_code=201, responses=key_responses())
def request_fulfillment(body: FulfillmentRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        now = call.runtime.clock()
        row = {
            "fulfillment_id": call.runtime.new_id("ful"),
            "checkout_id": body.checkout_id,
            "order_id": body.order_id,
            "idempotency_key": call.key,
            "status": "requested",
            "created_at": now,
            "updated_at": now,
        }
        conn.execute(_INSERT, row)
        _event(conn, call, row["fulfillment_id"], "requested", True, None, now)
        return Outcome(201, iso(row))

    return call.execute(body, handler)


def _transition(
    call: KeyedCall, body: TransitionRequest, fulfillment_id: str, target: str
) -> Response:
    def handler(conn: Connection) -> Outcome:
        row = _FULFILLMENTS.get(conn, fulfillment_id, lock=True)
        if row["status"] == target:
            return Outcome(200, iso(row))
        now = call.runtime.clock()
        if row["status"] not in _ALLOWED_FROM[target]:
            # Recorded, then answered; kept for replay like any outcome.
            _event(conn, call, fulfillment_id, target, False, body.reason, now)
            verb = "ship" if target == "shipped" else "cancel"
            return problem_outcome(
                409,
                f"fulfillment-{row['status']}",
                f"Cannot {verb} a {row['status']} fulfillment",
                f"Fulfillment {fulfillment_id} is {row['status']}; the {verb} request "
                "was refused and recorded.",
                fulfillment=iso(row),
            )
        row = _FULFILLMENTS.set_status(conn, row, target, now)
        _event(conn, call, fulfillment_id, target, True, body.reason, now)
        return Outcome(200, iso(row))

    return call.execute(body, handler)


@router.post("/v1/fulfillments/{fulfillment_id}/ship", responses=key_responses(404))
def ship(fulfillment_id: str, body: TransitionRequest, call: KeyedCallDep) -> Response:
    return _transition(call, body, fulfillment_id, "shipped")


@router.post("/v1/fulfillments/{fulfillment_id}/cancel", responses=key_responses(404))
def cancel(fulfillment_id: str, body: TransitionRequest, call: KeyedCallDep) -> Response:
    return _transition(call, body, fulfillment_id, "cancelled")


@router.get("/v1/fulfillments/{fulfillment_id}", responses=problem_responses(404))
def get_fulfillment(fulfillment_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    with reading(runtime.engine) as conn:
        row = _FULFILLMENTS.get(conn, fulfillment_id, lock=False)
        events = conn.execute(_EVENTS, {"b_fulfillment_id": fulfillment_id}).mappings()
        return {**iso(row), "events": [iso(dict(event)) for event in events]}


def _event(
    conn: Connection,
    call: KeyedCall,
    fulfillment_id: str,
    status: str,
    accepted: bool,
    reason: str | None,
    now: datetime,
) -> None:
    """Record a transition asked for under the call's key, `accepted` or refused."""
    conn.execute(
        _INSERT_EVENT,
        {
            "event_id": call.runtime.new_id("fev"),
            "fulfillment_id": fulfillment_id,
            "idempotency_key": call.key,
            "status": status,
            "accepted": accepted,
            "reason": reason,
            "created_at": now,
        },
    )
