"""The outbox worker: delivers settlement (capture) and the fulfillment request, at least once.

Handlers are idempotent twice over: a handled event ID is recorded in the same transaction that
marks its row delivered, and each handler's downstream call carries the key
`{checkout_id}:{step}`, so a redelivery (a crash between the call and the record, two workers
racing) finds either the recorded ID or the service's stored outcome, never a second effect.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from checkout_service.orchestrator.clients import OutcomeUnknown, Reply
from checkout_service.orchestrator.recovery import recover
from checkout_service.orchestrator.runtime import Orchestrator
from checkout_service.orchestrator.steps import step_key
from checkout_service.orchestrator.store import OutboxEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    event_id: str
    # handled | duplicate | failed
    outcome: str
    status_code: int | None = None


def process_outbox(orch: Orchestrator, limit: int = 100) -> list[Delivery]:
    """Deliver up to `limit` pending events, oldest first; what happened to each."""
    deliveries = []
    for event in orch.saga_store.pending_events(limit):
        deliveries.append(_deliver(orch, event))
    return deliveries


def _deliver(orch: Orchestrator, event: OutboxEvent) -> Delivery:
    store = orch.saga_store
    if store.handled(event.event_id):
        store.deliver(event.event_id)
        return Delivery(event.event_id, "duplicate")
    handler = _HANDLERS[(event.step, event.event)]
    try:
        reply, values = handler(orch, event)
    except OutcomeUnknown as error:
        store.delivery_failed(event.event_id, str(error))
        log.warning("outbox event %s not delivered: %s", event.event_id, error)
        return Delivery(event.event_id, "failed")
    # A refusal (capture of a voided authorization after a cancellation...) is an answer too:
    # it is recorded as handled, so it is not retried forever.
    store.mark_handled(event, (reply.status_code, reply.body), **values)
    return Delivery(event.event_id, "handled", reply.status_code)


def _capture(orch: Orchestrator, event: OutboxEvent) -> tuple[Reply, dict[str, Any]]:
    payment_id = event.payload["payment_id"]
    reply = orch.services.call(
        "payment",
        f"/v1/authorizations/{payment_id}/captures",
        step_key(event.checkout_id, "payment.capture"),
        {"amount_minor": event.payload["amount_minor"]},
    )
    return reply, {}


def _request_fulfillment(orch: Orchestrator, event: OutboxEvent) -> tuple[Reply, dict[str, Any]]:
    # Under the checkout's lease, so a cancellation cannot run between the status check and
    # the request: it would see no fulfillment to cancel while one is being created.
    store = orch.saga_store
    token = store.acquire_lease(event.checkout_id)
    if token is None:
        raise OutcomeUnknown(f"checkout {event.checkout_id} is busy (a cancellation runs)")
    try:
        checkout = store.load(event.checkout_id)
        if checkout.status != "completed":
            # Cancelled before the worker got here: nothing to ship.
            return Reply(200, {"skipped": f"checkout {checkout.status}"}), {}
        reply = orch.services.call(
            "fulfillment",
            "/v1/fulfillments",
            step_key(event.checkout_id, "fulfillment"),
            {"checkout_id": event.checkout_id, "order_id": event.payload["order_id"]},
        )
    finally:
        store.release_lease(event.checkout_id, token)
    values = {"fulfillment_id": reply.body["fulfillment_id"]} if reply.ok else {}
    return reply, values


_HANDLERS: dict[tuple[str, str], Callable[[Orchestrator, OutboxEvent], tuple[Reply, dict]]] = {
    ("payment.capture", "requested"): _capture,
    ("fulfillment", "requested"): _request_fulfillment,
}


def run_worker(
    orch: Orchestrator,
    stop: threading.Event,
    poll_seconds: float = 1.0,
    limit: int = 100,
    give_up_after: timedelta | None = timedelta(minutes=15),
) -> None:
    """The worker loop (`recon worker`): resume stopped sagas (abandoning those undecided past
    `give_up_after`), deliver the outbox, wait `poll_seconds` or until `stop` is set."""
    while not stop.is_set():
        try:
            recover(orch, give_up_after)
            process_outbox(orch, limit)
        except Exception:
            log.exception("worker pass failed; retrying after the poll interval")
        stop.wait(poll_seconds)
