"""Fulfillment: request, ship, cancel.

`fulfillments` holds the current state; `fulfillment_events` records every transition and every
refused one (a cancellation after shipping is refused and recorded, never hidden). The contract
export reads the accepted transitions, one row per state (latest `updated_at` wins).
"""

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import (
    Boolean,
    Column,
    Index,
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
from checkout_service.problems import ProblemError, problem_body, problem_responses
from checkout_service.services.fields import CheckoutId, RecordId, ShortText, iso
from checkout_service.services.runtime import (
    IdFactory,
    Runtime,
    RuntimeDep,
    app_factory,
    service_router,
)

SERVICE = "fulfillment"

metadata = MetaData()
keys = idempotency.define_table(metadata)
fulfillments = Table(
    "fulfillments",
    metadata,
    Column("fulfillment_id", String(64), primary_key=True),
    Column("checkout_id", String(255), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_fulfillments_checkout_id", "checkout_id"),
)
fulfillment_events = Table(
    "fulfillment_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("fulfillment_id", String(64), nullable=False, index=True),
    Column("idempotency_key", String(255), nullable=False),
    # requested | shipped | cancelled; `accepted` false for a refused transition.
    Column("status", String(16), nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("reason", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
)

# Built once, so a request only binds its values (see `checkout_service.orchestrator.store`).
_of_fulfillment = fulfillments.c.fulfillment_id == bindparam("b_fulfillment_id")
_INSERT = insert(fulfillments)
_INSERT_EVENT = insert(fulfillment_events)
_FULFILLMENT = select(fulfillments).where(_of_fulfillment)
_FULFILLMENT_LOCKED = _FULFILLMENT.with_for_update()
_TRANSITION = (
    update(fulfillments)
    .where(_of_fulfillment)
    .values(status=bindparam("new_status"), updated_at=bindparam("new_updated_at"))
)
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
def request_fulfillment(
    body: FulfillmentRequest, key: IdempotencyKey, request: Request, runtime: RuntimeDep
) -> Response:
    def handler(conn: Connection) -> Outcome:
        now = runtime.clock()
        row = {
            "fulfillment_id": runtime.new_id("ful"),
            "checkout_id": body.checkout_id,
            "order_id": body.order_id,
            "idempotency_key": key,
            "status": "requested",
            "created_at": now,
            "updated_at": now,
        }
        conn.execute(_INSERT, row)
        _event(conn, runtime.new_id, row["fulfillment_id"], key, "requested", True, None, now)
        return Outcome(201, iso(row))

    return runtime.idempotency.execute(request, key, body, handler)


def _transition(
    runtime: Runtime,
    request: Request,
    key: str,
    body: TransitionRequest,
    fulfillment_id: str,
    target: str,
) -> Response:
    def handler(conn: Connection) -> Outcome:
        row = _fulfillment(conn, fulfillment_id, lock=True)
        if row["status"] == target:
            return Outcome(200, iso(row))
        now = runtime.clock()
        if row["status"] not in _ALLOWED_FROM[target]:
            # Recorded, then answered; kept for replay like any outcome.
            _event(conn, runtime.new_id, fulfillment_id, key, target, False, body.reason, now)
            verb = "ship" if target == "shipped" else "cancel"
            return Outcome(
                409,
                problem_body(
                    409,
                    f"fulfillment-{row['status']}",
                    f"Cannot {verb} a {row['status']} fulfillment",
                    f"Fulfillment {fulfillment_id} is {row['status']}; the {verb} request "
                    "was refused and recorded.",
                    fulfillment=iso(row),
                ),
                "application/problem+json",
            )
        conn.execute(
            _TRANSITION,
            {"b_fulfillment_id": fulfillment_id, "new_status": target, "new_updated_at": now},
        )
        _event(conn, runtime.new_id, fulfillment_id, key, target, True, body.reason, now)
        return Outcome(200, iso({**row, "status": target, "updated_at": now}))

    return runtime.idempotency.execute(request, key, body, handler)


@router.post("/v1/fulfillments/{fulfillment_id}/ship", responses=key_responses(404))
def ship(
    fulfillment_id: str,
    body: TransitionRequest,
    key: IdempotencyKey,
    request: Request,
    runtime: RuntimeDep,
) -> Response:
    return _transition(runtime, request, key, body, fulfillment_id, "shipped")


@router.post("/v1/fulfillments/{fulfillment_id}/cancel", responses=key_responses(404))
def cancel(
    fulfillment_id: str,
    body: TransitionRequest,
    key: IdempotencyKey,
    request: Request,
    runtime: RuntimeDep,
) -> Response:
    return _transition(runtime, request, key, body, fulfillment_id, "cancelled")


@router.get("/v1/fulfillments/{fulfillment_id}", responses=problem_responses(404))
def get_fulfillment(fulfillment_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    with reading(runtime.engine) as conn:
        row = _fulfillment(conn, fulfillment_id, lock=False)
        events = conn.execute(_EVENTS, {"b_fulfillment_id": fulfillment_id}).mappings()
        return {**iso(row), "events": [iso(dict(event)) for event in events]}


def _event(
    conn: Connection,
    ids: IdFactory,
    fulfillment_id: str,
    key: str,
    status: str,
    accepted: bool,
    reason: str | None,
    now: datetime,
) -> None:
    conn.execute(
        _INSERT_EVENT,
        {
            "event_id": ids("fev"),
            "fulfillment_id": fulfillment_id,
            "idempotency_key": key,
            "status": status,
            "accepted": accepted,
            "reason": reason,
            "created_at": now,
        },
    )


def _fulfillment(conn: Connection, fulfillment_id: str, *, lock: bool) -> dict[str, Any]:
    query = _FULFILLMENT_LOCKED if lock else _FULFILLMENT
    row = conn.execute(query, {"b_fulfillment_id": fulfillment_id}).mappings().first()
    if row is None:
        raise ProblemError(
            404, "fulfillment-not-found", "Unknown fulfillment", f"No fulfillment {fulfillment_id}."
        )
    return dict(row)
