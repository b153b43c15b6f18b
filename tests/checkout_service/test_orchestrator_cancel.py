"""Cancelling a completed checkout: before settlement the authorization is voided, after it the
capture is refunded; a shipped fulfillment refuses, and the refusal is recorded, not hidden."""

from datetime import timedelta

from checkout_service.idempotency import REPLAYED_HEADER
from checkout_service.orchestrator.outbox import process_outbox
from checkout_service.orchestrator.recovery import recover
from checkout_service.services import fulfillment, order
from tests.checkout_service.orchestrator_fixtures import (
    checkout_body,
    stack_fixture,  # noqa: F401
)


def test_cancel_before_settlement_voids_and_the_worker_neither_captures_nor_fulfils(stack):
    s = stack()
    cid = s.checkout("k1", checkout_body()).json()["id"]
    cancelled = s.cancel(cid, "c1")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert s.cancel(cid, "c1").headers[REPLAYED_HEADER] == "true"
    assert len(s.payments("void")) == 1
    assert [o["status"] for o in s.rows("order", order.orders)] == ["cancelled"]
    deliveries = {d.event_id.split(":")[1]: d for d in process_outbox(s.orch)}
    # The capture is refused by the PSP (voided) and recorded as handled; nothing is shipped.
    assert deliveries["payment.capture"].status_code == 409
    assert s.payments("capture") == []
    assert s.rows("fulfillment", fulfillment.fulfillments) == []


def test_cancel_after_settlement_refunds_and_cancels_the_fulfillment(stack):
    s = stack()
    cid = s.checkout("k1", checkout_body()).json()["id"]
    process_outbox(s.orch)
    assert s.cancel(cid, "c1").status_code == 200
    (capture,) = s.payments("capture")
    (refund,) = s.payments("refund")
    assert refund["amount_minor"] == capture["amount_minor"]
    (ful,) = s.rows("fulfillment", fulfillment.fulfillments)
    assert ful["status"] == "cancelled"
    assert s.get(cid).json()["status"] == "cancelled"


def _shipped_checkout(s) -> str:
    """A settled checkout's ID, its order shipped: the warehouse talks to the fulfillment
    service directly."""
    cid = s.checkout("k1", checkout_body()).json()["id"]
    process_outbox(s.orch)
    fulfillment_id = s.get(cid).json()["fulfillment_id"]
    shipped = s.orch.services.clients["fulfillment"].post(
        f"/v1/fulfillments/{fulfillment_id}/ship",
        json={},
        headers={"Idempotency-Key": f"{cid}:fulfillment.ship"},
    )
    assert shipped.status_code == 200
    return cid


def test_cancel_after_shipping_is_refused_and_recorded(stack):
    s = stack()
    cid = _shipped_checkout(s)
    refused = s.cancel(cid, "c1")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("checkout-not-cancellable")
    events = s.rows("fulfillment", fulfillment.fulfillment_events)
    assert [(e["status"], e["accepted"]) for e in events if e["status"] == "cancelled"] == [
        ("cancelled", False)
    ]
    assert s.get(cid).json()["status"] == "completed"
    assert s.payments("refund") == s.payments("void") == []


def test_a_cancellation_stopped_part_way_is_finished_by_recover(stack):
    def crash(_checkout_id: str, point: str) -> None:
        if point == "cancelling" and not fired:
            fired.append(point)
            raise RuntimeError("orchestrator died while cancelling")

    fired: list[str] = []
    s = stack(after_point=crash)
    cid = s.checkout("k1", checkout_body()).json()["id"]
    assert s.cancel(cid, "c1").status_code == 500
    assert [r.outcome for r in recover(s.orch)] == ["cancelled"]
    assert s.cancel(cid, "c1").json()["status"] == "cancelled"
    assert len(s.payments("void")) == 1
    assert [o["status"] for o in s.rows("order", order.orders)] == ["cancelled"]


def test_a_fulfillment_the_worker_requested_but_never_recorded_is_found_and_cancelled(stack):
    """The race the chaos soak found: the worker asked for fulfillment and died (or had not yet
    recorded the answer) when the cancellation ran; the cancellation must not miss it."""
    s = stack()
    checkout = s.checkout("k1", checkout_body()).json()
    cid = checkout["id"]
    requested = s.orch.services.call(
        "fulfillment",
        "/v1/fulfillments",
        f"{cid}:fulfillment",
        {"checkout_id": cid, "order_id": checkout["order_id"]},
    )
    assert requested.status_code == 201
    assert s.get(cid).json()["fulfillment_id"] is None  # the worker never recorded it

    assert s.cancel(cid, "c1").status_code == 200
    (ful,) = s.rows("fulfillment", fulfillment.fulfillments)
    assert ful["status"] == "cancelled"
    assert s.get(cid).json()["fulfillment_id"] == ful["fulfillment_id"]
    # The redelivered outbox event ships nothing for the cancelled checkout.
    process_outbox(s.orch)
    assert [f["status"] for f in s.rows("fulfillment", fulfillment.fulfillments)] == ["cancelled"]


def test_the_worker_does_not_request_fulfillment_while_a_cancellation_holds_the_lease(stack):
    s = stack()
    cid = s.checkout("k1", checkout_body()).json()["id"]
    token = s.orch.saga_store.acquire_lease(cid)  # a cancellation in progress
    assert token is not None
    outcomes = {d.event_id.split(":")[1]: d.outcome for d in process_outbox(s.orch)}
    assert outcomes["fulfillment"] == "failed"  # retried on a later pass
    assert s.rows("fulfillment", fulfillment.fulfillments) == []
    s.orch.saga_store.release_lease(cid, token)
    outcomes = {d.event_id.split(":")[1]: d.outcome for d in process_outbox(s.orch)}
    assert outcomes["fulfillment"] == "handled"
    assert len(s.rows("fulfillment", fulfillment.fulfillments)) == 1


def test_a_cancellation_stopped_after_the_fulfillment_was_cancelled_is_finished_by_the_worker(
    stack,
):
    """The fulfillment service cancels, its answer is lost, and the shopper never retries: the
    worker must finish the cancellation (refund, order), not leave a paid checkout unshipped."""
    s = stack()
    cid = s.checkout("k1", checkout_body()).json()["id"]
    process_outbox(s.orch)
    s.faults.add("POST", "/v1/fulfillments/.*/cancel", "lose", times=None)
    s.faults.add("GET", "/v1/operations/.*", "fail", times=None)
    assert s.cancel(cid, "c1").status_code == 503
    (ful,) = s.rows("fulfillment", fulfillment.fulfillments)
    assert ful["status"] == "cancelled"
    s.faults.rules.clear()
    s.clock.advance(timedelta(minutes=5))
    assert [r.outcome for r in recover(s.orch)] == ["cancelled"]
    (capture,) = s.payments("capture")
    (refund,) = s.payments("refund")
    assert refund["amount_minor"] == capture["amount_minor"]
    assert [o["status"] for o in s.rows("order", order.orders)] == ["cancelled"]
    assert s.get(cid).json()["status"] == "cancelled"


def test_a_refused_cancellation_leaves_the_checkout_completed(stack):
    s = stack()
    cid = _shipped_checkout(s)
    assert s.cancel(cid, "c1").status_code == 409
    assert s.get(cid).json()["status"] == "completed"
    assert recover(s.orch) == []
    assert s.payments("refund") == []


def test_a_paused_cancellations_key_still_refuses_another_checkout(stack):
    """After a 503 the key keeps its payload: reused to cancel another checkout it is a 422
    (not a second cancellation), and the first request's retry still resumes it."""
    s = stack()
    first = s.checkout("k1", checkout_body()).json()["id"]
    other = s.checkout("k2", checkout_body()).json()["id"]
    process_outbox(s.orch)
    s.faults.add("POST", "/v1/fulfillments/.*/cancel", "lose", times=None)
    s.faults.add("GET", "/v1/operations/.*", "fail", times=None)
    assert s.cancel(first, "c1").status_code == 503
    s.faults.rules.clear()
    reused = s.cancel(other, "c1")
    assert reused.status_code == 422
    assert reused.json()["type"].endswith("idempotency-key-reused")
    assert s.get(other).json()["status"] == "completed"
    retried = s.cancel(first, "c1")
    assert (retried.status_code, retried.json()["status"]) == (200, "cancelled")
