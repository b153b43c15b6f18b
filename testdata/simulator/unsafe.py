"""Unsafe behaviours, each reproducing one discrepancy type of docs/rules.md.

The safe orchestrator cannot make these mistakes, so they are made the way a buggy client or an
older orchestrator build would: calls straight to the downstream services (past the fault
layer), under keys that break the `{checkout_id}:{step}` rule or with a step left out. Each
returns the anomalies it caused; an empty list means the mistake did not take effect.
"""

from typing import Any

from testdata.simulator.stack import Stack

Anomaly = tuple[str, str, str]  # checkout_id, type, cause


def retry_with_fresh_key(stack: Stack, checkout_id: str, body: dict[str, Any]) -> list[Anomaly]:
    """A client that timed out on "pay" charged again under a new key: a second authorization
    for the same checkout that nothing captures or voids."""
    response = stack.service(
        "payment",
        "/v1/authorizations",
        f"{checkout_id}:payment.authorize:retry-1",
        _authorization(checkout_id, body),
    )
    if response.status_code != 201:
        return []
    return [(checkout_id, "duplicate_charge", "client retried payment with a fresh key")]


def order_with_fresh_key(
    stack: Stack, checkout_id: str, body: dict[str, Any], answer: dict[str, Any]
) -> list[Anomaly]:
    """An older orchestrator build that timed out on the order step and created it again under a
    new key: a second order for one checkout (paid once)."""
    response = stack.service(
        "order",
        "/v1/orders",
        f"{checkout_id}:order:retry-1",
        {
            "checkout_id": checkout_id,
            "customer_id": body["customer"]["id"],
            "currency": answer["currency"],
            "subtotal_minor": answer["subtotal_minor"],
            "tax_minor": answer["tax_minor"],
            "total_minor": answer["total_minor"],
            "attribution": body["client_context"],
        },
    )
    if response.status_code != 201:
        return []
    return [(checkout_id, "duplicate_order", "order step retried with a fresh key")]


def skip_compensation(stack: Stack, body: dict[str, Any], skipped: str) -> tuple[str, list]:
    """A buggy orchestrator build: reserve and authorize, the order step fails, and of the two
    compensations it runs only one (`skipped` is `payment.void` or `inventory.release`)."""
    checkout_id = stack.new_id("chk")
    # The bug is in handling a failed order step, so the card is one the PSP accepts.
    body = {**body, "payment_token": "tok_visa"}
    lines = [{"sku": line["sku"], "quantity": line["quantity"]} for line in body["lines"]]
    reserved = stack.service(
        "inventory",
        "/v1/reservations",
        f"{checkout_id}:inventory.reserve",
        {"checkout_id": checkout_id, "lines": lines},
    )
    authorized = stack.service(
        "payment",
        "/v1/authorizations",
        f"{checkout_id}:payment.authorize",
        _authorization(checkout_id, body),
    )
    if reserved.status_code != 201 or authorized.status_code != 201:
        return checkout_id, []
    if skipped != "inventory.release":
        stack.service(
            "inventory",
            f"/v1/reservations/{reserved.json()['reservation_id']}/release",
            f"{checkout_id}:inventory.release",
            {"reason": "order failed"},
        )
    if skipped != "payment.void":
        stack.service(
            "payment",
            f"/v1/authorizations/{authorized.json()['payment_id']}/void",
            f"{checkout_id}:payment.void",
            {"reason": "order failed"},
        )
    kind = "payment_without_order" if skipped == "payment.void" else "orphaned_reservation"
    return checkout_id, [(checkout_id, kind, f"orchestrator skipped the {skipped} compensation")]


def stale_fulfillment(stack: Stack, checkout_id: str, order_id: str) -> list[Anomaly]:
    """A cancellation racing fulfillment: an older worker build read the checkout before it was
    cancelled and requests fulfillment for an order that no longer stands. The safe worker
    cannot: it checks under the checkout's lease, and the cancellation fences the step's key.
    This build makes a key per delivery attempt, which no fence covers."""
    response = stack.service(
        "fulfillment",
        "/v1/fulfillments",
        f"{checkout_id}:fulfillment:attempt-2",
        {"checkout_id": checkout_id, "order_id": order_id},
    )
    if response.status_code != 201:
        return []
    return [(checkout_id, "fulfillment_after_cancellation", "cancellation raced the fulfillment")]


def double_refund(stack: Stack, checkout_id: str, answer: dict[str, Any]) -> list[Anomaly]:
    """Support pays back by hand (a bank transfer, recorded as a manual refund) a checkout the
    shopper's cancellation had already refunded through the PSP: refunds twice the capture."""
    response = stack.service(
        "payment",
        f"/v1/authorizations/{answer['payment_id']}/manual-refunds",
        f"{checkout_id}:payment.refund:support-1",
        {"amount_minor": answer["total_minor"], "reason": "bank transfer by support"},
    )
    if response.status_code != 201:
        return []
    return [(checkout_id, "refund_exceeds_capture", "support refunded a cancelled checkout again")]


def _authorization(checkout_id: str, body: dict[str, Any]) -> dict[str, Any]:
    amount = sum(line["quantity"] * line["unit_price_minor"] for line in body["lines"])
    return {
        "checkout_id": checkout_id,
        "amount_minor": amount,
        "currency": body["currency"],
        "payment_token": body["payment_token"],
        "customer_id": body["customer"]["id"],
    }
