"""Fraud screening. Deterministic test identities decide: a customer ID starting with
`cus_fraud` or a payment token starting with `tok_fraud` is declined, everything else approved.

A decline is a business answer (200 with `decision: declined`), not an error: the screening ran.
"""

from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Column, Integer, String, insert
from sqlalchemy.engine import Connection

from checkout_service.db import UTCDateTime, step_table
from checkout_service.idempotency import Outcome, key_responses, service_metadata
from checkout_service.services.fields import CheckoutId, Currency, NonNegativeMinor, ShortText, iso
from checkout_service.services.runtime import KeyedCallDep, app_factory, service_router

SERVICE = "fraud"
FRAUD_CUSTOMER_PREFIX = "cus_fraud"
FRAUD_TOKEN_PREFIX = "tok_fraud"

metadata, keys = service_metadata()
screenings = step_table(
    "screenings",
    metadata,
    "screening_id",
    Column("customer_id", String(255), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reason", String(64)),
    Column("amount_minor", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
# Built once, so a request only binds its values (see `checkout_service.orchestrator.store`).
_INSERT = insert(screenings)


class ScreeningRequest(BaseModel):
    checkout_id: CheckoutId
    customer_id: ShortText
    amount_minor: NonNegativeMinor
    currency: Currency
    payment_token: ShortText | None = None


def decide(customer_id: str, payment_token: str | None) -> tuple[str, str | None]:
    if customer_id.startswith(FRAUD_CUSTOMER_PREFIX):
        return "declined", "customer_blocklisted"
    if payment_token and payment_token.startswith(FRAUD_TOKEN_PREFIX):
        return "declined", "payment_method_blocklisted"
    return "approved", None


router = service_router()
create_app = app_factory(SERVICE, metadata, keys, "Fraud screening service", router)


@router.post("/v1/screenings", status_code=201, responses=key_responses())
def screen(body: ScreeningRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        decision, reason = decide(body.customer_id, body.payment_token)
        row: dict[str, Any] = {
            "screening_id": call.runtime.new_id("scr"),
            "checkout_id": body.checkout_id,
            "idempotency_key": call.key,
            "customer_id": body.customer_id,
            "decision": decision,
            "reason": reason,
            "amount_minor": body.amount_minor,
            "currency": body.currency,
            "created_at": call.runtime.clock(),
        }
        conn.execute(_INSERT, row)
        return Outcome(201, iso(row))

    return call.execute(body, handler)
