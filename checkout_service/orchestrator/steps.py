"""The checkout's steps as data: what each calls, which recovery point it commits, what undoes
it, and how its answer is read. The runner that drives them is in `saga.py`."""

from dataclasses import dataclass, field
from typing import Any

from checkout_service.orchestrator.clients import Reply
from checkout_service.orchestrator.store import Checkout, OutboxEvent
from checkout_service.problems import problem_body

# The recovery points, in order: the name of each is "this step's result is committed".
POINTS = (
    "started",
    "fraud_screened",
    "tax_quoted",
    "inventory_reserved",
    "payment_authorized",
    "order_created",
    "finished",
)


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: Any


@dataclass(frozen=True)
class Undo:
    step: str  # the compensation's step, also its key suffix
    forward: str  # the step it undoes
    service: str
    # The forward step's answer → the ID the undo acts on.
    id_field: str
    path: str  # with `{id}`


@dataclass(frozen=True)
class Step:
    name: str
    service: str
    point: str
    undo: Undo | None = None


RELEASE = Undo(
    "inventory.release",
    "inventory.reserve",
    "inventory",
    "reservation_id",
    "/v1/reservations/{id}/release",
)
VOID = Undo(
    "payment.void", "payment.authorize", "payment", "payment_id", "/v1/authorizations/{id}/void"
)
CANCEL_ORDER = Undo("order.cancel", "order", "order", "order_id", "/v1/orders/{id}/cancel")

STEPS = (
    Step("fraud", "fraud", "fraud_screened"),
    Step("tax", "tax", "tax_quoted"),
    Step("inventory.reserve", "inventory", "inventory_reserved", RELEASE),
    Step("payment.authorize", "payment", "payment_authorized", VOID),
    Step("order", "order", "order_created", CANCEL_ORDER),
    Step("inventory.commit", "inventory", "finished"),
)


def step_key(checkout_id: str, step: str) -> str:
    return f"{checkout_id}:{step}"


def event_id(checkout_id: str, step: str, event: str) -> str:
    return f"{checkout_id}:{step}:{event}"


def checkout_view(checkout: Checkout) -> dict[str, Any]:
    """The public representation of a checkout."""
    return {
        "id": checkout.checkout_id,
        "status": checkout.status,
        "currency": checkout.currency,
        "customer_id": checkout.customer_id,
        "subtotal_minor": checkout.subtotal_minor,
        "tax_minor": checkout.tax_minor,
        "total_minor": checkout.total_minor,
        "reservation_id": checkout.reservation_id,
        "payment_id": checkout.payment_id,
        "order_id": checkout.order_id,
        "fulfillment_id": checkout.fulfillment_id,
        "created_at": checkout.created_at.isoformat(),
    }


@dataclass
class Decision:
    """A forward step's verdict: advance with these values, or fail with this answer."""

    values: dict[str, Any] = field(default_factory=dict)
    failure: Answer | None = None


def request_for(step: Step, checkout: Checkout) -> tuple[str, dict[str, Any]]:
    request = checkout.request
    cid = checkout.checkout_id
    match step.name:
        case "fraud":
            return "/v1/screenings", {
                "checkout_id": cid,
                "customer_id": request.customer.id,
                "amount_minor": checkout.subtotal_minor,
                "currency": checkout.currency,
                "payment_token": request.payment_token,
            }
        case "tax":
            return "/v1/quotes", {
                "checkout_id": cid,
                "currency": checkout.currency,
                "subtotal_minor": checkout.subtotal_minor,
                "country": request.customer.country,
            }
        case "inventory.reserve":
            lines = [{"sku": line.sku, "quantity": line.quantity} for line in request.lines]
            return "/v1/reservations", {"checkout_id": cid, "lines": lines}
        case "payment.authorize":
            return "/v1/authorizations", {
                "checkout_id": cid,
                "amount_minor": checkout.total_minor,
                "currency": checkout.currency,
                "payment_token": request.payment_token,
                "customer_id": request.customer.id,
            }
        case "order":
            attribution = {
                name: checkout.row[name]
                for name in ("utm_source", "utm_medium", "utm_campaign", "referrer")
            }
            return "/v1/orders", {
                "checkout_id": cid,
                "customer_id": request.customer.id,
                "currency": checkout.currency,
                "subtotal_minor": checkout.subtotal_minor,
                "tax_minor": checkout.tax_minor,
                "total_minor": checkout.total_minor,
                "attribution": attribution,
            }
        case "inventory.commit":
            return f"/v1/reservations/{checkout.reservation_id}/commit", {}
    raise ValueError(step.name)


def _failure(status: int, slug: str, title: str, detail: str, **extra: Any) -> Decision:
    """The checkout fails with this problem as its answer."""
    return Decision(failure=Answer(status, problem_body(status, slug, title, detail, **extra)))


def decide(step: Step, checkout: Checkout, reply: Reply) -> Decision:
    body = reply.body
    if step.name == "fraud" and reply.ok and body.get("decision") != "approved":
        return _failure(
            402,
            "checkout-declined",
            "Checkout declined",
            "The checkout was declined by fraud screening.",
            reason=body.get("reason"),
        )
    if step.name == "payment.authorize" and reply.status_code == 402:
        return _failure(
            402,
            "payment-declined",
            "Payment declined",
            body.get("detail", "The payment method was declined."),
            failure_code=body.get("failure_code"),
            checkout_id=checkout.checkout_id,
        )
    if step.name == "inventory.reserve" and reply.status_code == 409:
        return _failure(
            409,
            "out-of-stock",
            "Out of stock",
            body.get("detail", "Not enough stock."),
            shortages=body.get("shortages", []),
            checkout_id=checkout.checkout_id,
        )
    if not reply.ok:
        return _failure(
            502,
            "checkout-step-refused",
            "Checkout failed",
            f"The {step.name} step was refused (HTTP {reply.status_code}); "
            "everything done before it was undone.",
            step=step.name,
            upstream=body,
            checkout_id=checkout.checkout_id,
        )
    match step.name:
        case "tax":
            tax = body["tax_minor"]
            return Decision({"tax_minor": tax, "total_minor": checkout.subtotal_minor + tax})
        case "inventory.reserve":
            return Decision({"reservation_id": body["reservation_id"]})
        case "payment.authorize":
            return Decision({"payment_id": body["payment_id"]})
        case "order":
            return Decision({"order_id": body["order_id"]})
    return Decision()


def settlement_events(checkout: Checkout) -> list[OutboxEvent]:
    cid = checkout.checkout_id
    capture = {"payment_id": checkout.payment_id, "amount_minor": checkout.total_minor}
    fulfil = {"order_id": checkout.order_id}
    return [
        OutboxEvent(
            event_id(cid, "payment.capture", "requested"),
            cid,
            "payment.capture",
            "requested",
            capture,
        ),
        OutboxEvent(
            event_id(cid, "fulfillment", "requested"), cid, "fulfillment", "requested", fulfil
        ),
    ]
