"""A simulated payment service provider: authorize, capture, void, refund.

Every operation is a row of `payments` in the shape of the landing contract (capture, void and
refund point at their authorization through `parent_payment_id`). Test tokens decide declines:
`tok_decline_<code>` is declined with failure code `<code>` (`card_declined` when empty).

Refusals (capture above authorized or after a void, void after a capture, refund above captured)
are answered with a problem body and stored for replay; nothing is written for them. A void of
an already voided authorization answers the existing void: compensations are "undo if it
exists", and a second void must not be a second effect.

A manual refund is the record of money a person already paid back outside the PSP (a bank
transfer or goodwill payment by support). The money has left, so the ledger records it even
above what was captured; refusing it would hide it. Reconciliation's `refund_exceeds_capture`
is what catches such a refund paid twice.
"""

import hashlib
from datetime import datetime
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Column, Index, Integer, String, bindparam, func, insert, select
from sqlalchemy.engine import Connection

from checkout_service.db import UTCDateTime, reading, step_table
from checkout_service.idempotency import (
    Outcome,
    Refused,
    key_responses,
    problem_outcome,
    service_metadata,
)
from checkout_service.problems import problem_responses
from checkout_service.services.fields import CheckoutId, Currency, PositiveMinor, ShortText, iso
from checkout_service.services.lookup import RecordLookup
from checkout_service.services.runtime import (
    KeyedCall,
    KeyedCallDep,
    RuntimeDep,
    app_factory,
    service_router,
)

SERVICE = "payment"
DECLINE_PREFIX = "tok_decline"

metadata, keys = service_metadata()
payments = step_table(
    "payments",
    metadata,
    "payment_id",
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount_minor", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("psp_reference", String(64), nullable=False),
    Column("parent_payment_id", String(64)),
    Column("failure_code", String(64)),
    Index("ix_payments_parent_payment_id", "parent_payment_id"),
)

# Built once, so a request only binds its values (see `checkout_service.orchestrator.store`).
_INSERT = insert(payments)
_children = payments.c.parent_payment_id == bindparam("b_payment_id")
# Locked by default (`_authorization`), so two captures cannot both pass the amount check.
_AUTHORIZATIONS = RecordLookup(
    payments, "payment_id", "authorization", payments.c.kind == "authorization", slug="payment"
)
_VOID = select(payments).where(_children, payments.c.kind == "void")
_TOTALS = (
    select(payments.c.kind, func.coalesce(func.sum(payments.c.amount_minor), 0))
    .where(_children, payments.c.status == "succeeded")
    .group_by(payments.c.kind)
)
_OPERATIONS = (
    select(payments).where(_children).order_by(payments.c.created_at, payments.c.payment_id)
)


class AuthorizeRequest(BaseModel):
    checkout_id: CheckoutId
    amount_minor: PositiveMinor
    currency: Currency
    payment_token: ShortText
    customer_id: ShortText | None = None


class CaptureRequest(BaseModel):
    # None: capture what is left of the authorization.
    amount_minor: PositiveMinor | None = None


class RefundRequest(BaseModel):
    amount_minor: PositiveMinor


class ManualRefundRequest(BaseModel):
    amount_minor: PositiveMinor
    # Who paid it back and how, for the people reading the ledger.
    reason: ShortText | None = None


class VoidRequest(BaseModel):
    reason: ShortText | None = None


def psp_reference(payment_id: str) -> str:
    # Stands in for the processor's own ID: stable per payment, unrelated to our naming.
    return "psp_" + hashlib.sha256(payment_id.encode()).hexdigest()[:16]


def decline_code(payment_token: str) -> str | None:
    """The failure code a test token is declined with, or None when it is approved."""
    if not payment_token.startswith(DECLINE_PREFIX):
        return None
    # At most as wide as the `failure_code` column.
    return payment_token[len(DECLINE_PREFIX) :].strip("_")[:64] or "card_declined"


router = service_router()
create_app = app_factory(SERVICE, metadata, keys, "Payment service (simulated PSP)", router)


@router.post("/v1/authorizations", status_code=201, responses=key_responses(402))
def authorize(body: AuthorizeRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        code = decline_code(body.payment_token)
        row = _insert(
            conn,
            call.runtime.new_id("pay"),
            call.runtime.clock(),
            checkout_id=body.checkout_id,
            idempotency_key=call.key,
            kind="authorization",
            status="failed" if code else "succeeded",
            amount_minor=body.amount_minor,
            currency=body.currency,
            failure_code=code,
        )
        if code:
            # A permanent decline: recorded as a failed authorization and kept for replay.
            return problem_outcome(
                402,
                "payment-declined",
                "Payment declined",
                f"The payment method was declined ({code}).",
                failure_code=code,
                payment=iso(row),
            )
        return Outcome(201, iso(row))

    return call.execute(body, handler)


@router.post(
    "/v1/authorizations/{payment_id}/captures", status_code=201, responses=key_responses(404)
)
def capture(payment_id: str, body: CaptureRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        auth = _authorization(conn, payment_id)
        totals = _totals(conn, payment_id)
        if totals["void"]:
            raise Refused(
                409,
                "authorization-voided",
                "Authorization voided",
                "A voided authorization cannot be captured.",
                payment_id=payment_id,
            )
        remaining = auth["amount_minor"] - totals["capture"]
        amount = body.amount_minor if body.amount_minor is not None else remaining
        if amount <= 0 or amount > remaining:
            raise Refused(
                422,
                "capture-exceeds-authorization",
                "Capture above the authorized amount",
                f"Capturing {amount} would exceed the {remaining} left of the authorization.",
                payment_id=payment_id,
                authorized_minor=auth["amount_minor"],
                captured_minor=totals["capture"],
            )
        return Outcome(201, iso(_child(conn, call, auth, "capture", amount)))

    return call.execute(body, handler)


@router.post(
    "/v1/authorizations/{payment_id}/void",
    status_code=201,
    responses={200: {"description": "Voided before: the existing void"}, **key_responses(404)},
)
def void(payment_id: str, body: VoidRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        auth = _authorization(conn, payment_id)
        existing = conn.execute(_VOID, {"b_payment_id": payment_id}).mappings().first()
        if existing is not None:
            return Outcome(200, iso(dict(existing)))
        totals = _totals(conn, payment_id)
        if totals["capture"]:
            raise Refused(
                409,
                "authorization-captured",
                "Authorization already captured",
                "A captured authorization cannot be voided; refund it instead.",
                payment_id=payment_id,
                captured_minor=totals["capture"],
            )
        return Outcome(201, iso(_child(conn, call, auth, "void", auth["amount_minor"])))

    return call.execute(body, handler)


@router.post(
    "/v1/authorizations/{payment_id}/refunds", status_code=201, responses=key_responses(404)
)
def refund(payment_id: str, body: RefundRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        auth = _authorization(conn, payment_id)
        totals = _totals(conn, payment_id)
        refundable = totals["capture"] - totals["refund"]
        if body.amount_minor > refundable:
            raise Refused(
                422,
                "refund-exceeds-capture",
                "Refund above the captured amount",
                f"Refunding {body.amount_minor} would exceed the {refundable} left to refund.",
                payment_id=payment_id,
                captured_minor=totals["capture"],
                refunded_minor=totals["refund"],
            )
        return Outcome(201, iso(_child(conn, call, auth, "refund", body.amount_minor)))

    return call.execute(body, handler)


@router.post(
    "/v1/authorizations/{payment_id}/manual-refunds",
    status_code=201,
    responses=key_responses(404),
)
def manual_refund(payment_id: str, body: ManualRefundRequest, call: KeyedCallDep) -> Response:
    """Record a refund already paid outside the PSP. Never refused for its amount: see the
    module docstring."""

    def handler(conn: Connection) -> Outcome:
        auth = _authorization(conn, payment_id)
        return Outcome(201, iso(_child(conn, call, auth, "refund", body.amount_minor)))

    return call.execute(body, handler)


@router.get("/v1/authorizations/{payment_id}", responses=problem_responses(404))
def get_authorization(payment_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    with reading(runtime.engine) as conn:
        auth = _authorization(conn, payment_id, lock=False, usable=False)
        totals = _totals(conn, payment_id)
        operations = conn.execute(_OPERATIONS, {"b_payment_id": payment_id}).mappings()
        return {
            "authorization": iso(auth),
            "captured_minor": totals["capture"],
            "refunded_minor": totals["refund"],
            "voided": bool(totals["void"]),
            "operations": [iso(dict(row)) for row in operations],
        }


def _insert(conn: Connection, payment_id: str, now: datetime, **values: Any) -> dict[str, Any]:
    row = {
        "payment_id": payment_id,
        "created_at": now,
        "psp_reference": psp_reference(payment_id),
        "parent_payment_id": None,
        "failure_code": None,
        **values,
    }
    conn.execute(_INSERT, row)
    return row


def _child(
    conn: Connection, call: KeyedCall, auth: dict[str, Any], kind: str, amount: int
) -> dict[str, Any]:
    """A capture, void or refund of `auth`, succeeded, written under the call's key."""
    return _insert(
        conn,
        call.runtime.new_id("pay"),
        call.runtime.clock(),
        checkout_id=auth["checkout_id"],
        idempotency_key=call.key,
        kind=kind,
        status="succeeded",
        amount_minor=amount,
        currency=auth["currency"],
        parent_payment_id=auth["payment_id"],
    )


def _authorization(
    conn: Connection, payment_id: str, *, lock: bool = True, usable: bool = True
) -> dict[str, Any]:
    auth = _AUTHORIZATIONS.get(conn, payment_id, lock=lock)
    if usable and auth["status"] != "succeeded":
        raise Refused(
            409,
            "authorization-failed",
            "Authorization not usable",
            "This authorization was declined; nothing can be captured, voided or refunded.",
            payment_id=payment_id,
        )
    return auth


def _totals(conn: Connection, payment_id: str) -> dict[str, int]:
    rows = conn.execute(_TOTALS, {"b_payment_id": payment_id}).all()
    totals = {"capture": 0, "void": 0, "refund": 0}
    totals.update({kind: int(amount) for kind, amount in rows})
    return totals
