"""The checkout saga: fraud → tax → inventory reserve → payment authorize → order → commit.

Each step is a downstream call under the key `{checkout_id}:{step}`, then a recovery point
committed on its own; the last one also writes the outbox events (capture, fulfillment request)
in the same transaction. A step that may leave an effect has its compensation registered before
it is called. A permanent refusal decides the checkout's answer (402 decline, 409 out of stock,
502 for a refusal of a later step), which is recorded before the compensations run, so a crash
while compensating resumes the compensations and gives the same answer.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from checkout_service.orchestrator.clients import OutcomeUnknown, Reply, ServiceClients
from checkout_service.orchestrator.steps import (
    CANCEL_ORDER,
    POINTS,
    RELEASE,
    STEPS,
    VOID,
    Answer,
    Undo,
    checkout_view,
    decide,
    request_for,
    settlement_events,
    step_key,
)
from checkout_service.orchestrator.store import Checkout, OutboxEvent, SagaStore
from checkout_service.problems import problem_body, render_json

# Called after each recovery point commits, with (checkout_id, point): tests raise here to
# simulate a crash at every boundary.
PointHook = Callable[[str, str], None]


class SagaBusy(Exception):
    """Another runner holds the checkout's lease."""


class SagaRunner:
    def __init__(
        self, store: SagaStore, services: ServiceClients, after_point: PointHook | None = None
    ) -> None:
        self.store = store
        self.services = services
        self.after_point = after_point

    def run(self, checkout_id: str) -> Answer:
        """Drive the checkout from its last recovery point to a terminal state; its answer.

        Raises SagaBusy if another runner owns it, OutcomeUnknown if a step's outcome cannot be
        established (the saga stays where it was, to be resumed)."""
        with self._lease(checkout_id) as token:
            checkout = self.store.load(checkout_id)
            if checkout.status == "pending":
                checkout = self._forward(checkout, token)
            return self._settle(checkout, token)

    @contextmanager
    def _lease(self, checkout_id: str) -> Iterator[str]:
        """The checkout's lease token, held for the block: one runner at a time per saga."""
        token = self.store.acquire_lease(checkout_id)
        if token is None:
            raise SagaBusy(checkout_id)
        try:
            yield token
        finally:
            self.store.release_lease(checkout_id, token)

    def _settle(self, checkout: Checkout, token: str) -> Answer:
        """The decided saga's stored answer, once the compensations it was decided with ran."""
        if checkout.status == "compensating":
            checkout = self._compensate(checkout, token)
        return Answer(checkout.response_status, _stored_body(checkout))

    # -- forward ------------------------------------------------------------------------------

    def _forward(self, checkout: Checkout, token: str) -> Checkout:
        done = POINTS.index(checkout.recovery_point)
        for step in STEPS[done:]:
            if step.undo is not None:
                self.store.register_compensation(
                    checkout.checkout_id, token, step.undo.step, step.name
                )
            path, body = request_for(step, checkout)
            reply = self.services.call(
                step.service, path, step_key(checkout.checkout_id, step.name), body
            )
            decision = decide(step, checkout, reply)
            result = (reply.status_code, reply.body)
            if decision.failure is not None:
                failure = decision.failure
                checkout = self.store.advance(
                    checkout.checkout_id,
                    token,
                    step=step.name,
                    result=result,
                    status="compensating",
                    response_status=failure.status_code,
                    response_body=render_json(failure.body).decode(),
                )
                self._hook(checkout.checkout_id, "compensating")
                return checkout
            values = {**decision.values, "recovery_point": step.point}
            events: list[OutboxEvent] = []
            if step.point == "finished":
                # `checkout` is as the last recovery point committed it: under the lease, nothing
                # else writes it before this one.
                final = checkout.row | values | {"status": "completed"}
                values |= {
                    "status": "completed",
                    "response_status": 201,
                    "response_body": render_json(checkout_view(Checkout(final))).decode(),
                }
                events = settlement_events(Checkout(final))
            checkout = self.store.advance(
                checkout.checkout_id, token, step=step.name, result=result, events=events, **values
            )
            self._hook(checkout.checkout_id, step.point)
        return checkout

    def abandon(self, checkout_id: str) -> Answer:
        """Give up on a saga whose step outcome stayed unknown: answer 504 and undo whatever
        its registered steps may have done.

        The step in progress is fenced first. If it turns out to have run, the saga is not
        abandoned (OutcomeUnknown: the next pass rolls it forward through the replay), since
        some effects cannot be undone (a committed reservation refuses its release). If the
        fence cannot be placed either, the outcome is still unknown and the saga waits."""
        with self._lease(checkout_id) as token:
            checkout = self.store.load(checkout_id)
            if checkout.status == "pending":
                step = STEPS[POINTS.index(checkout.recovery_point)]
                key = step_key(checkout_id, step.name)
                if self.services.fence(step.service, key) is not None:
                    raise OutcomeUnknown(f"{key} ran after all; resuming instead of abandoning")
                answer = problem_body(
                    504,
                    "checkout-abandoned",
                    "Checkout abandoned",
                    f"A step's outcome stayed unknown past the recovery deadline (last recovery "
                    f"point: {checkout.recovery_point}); everything done was undone.",
                    checkout_id=checkout_id,
                )
                checkout = self.store.advance(
                    checkout_id,
                    token,
                    status="compensating",
                    response_status=504,
                    response_body=render_json(answer).decode(),
                )
            return self._settle(checkout, token)

    # -- compensation -------------------------------------------------------------------------

    def _compensate(self, checkout: Checkout, token: str) -> Checkout:
        """Undo, newest first, every effect a registered step may have left."""
        undos = {undo.step: undo for undo in (RELEASE, VOID, CANCEL_ORDER)}
        pending = [
            row
            for row in self.store.compensations(checkout.checkout_id)
            if row["state"] == "registered"
        ]
        for row in reversed(pending):
            undo = undos[row["step"]]
            state, detail = self._undo(checkout, undo)
            self.store.settle_compensation(checkout.checkout_id, token, undo.step, state, detail)
            self._hook(checkout.checkout_id, f"compensated:{undo.step}")
        return self.store.advance(
            checkout.checkout_id, token, status="failed", recovery_point="compensated"
        )

    def _undo(self, checkout: Checkout, undo: Undo) -> tuple[str, Any]:
        target = checkout.row.get(undo.id_field)
        if target is None:
            # The forward step's answer was never recorded (lost response, crash): ask the
            # service what it did under the step's key rather than assume it did nothing, and
            # fence the key so that a request still on its way cannot land after this undo.
            forward = self.services.fence(
                undo.service, step_key(checkout.checkout_id, undo.forward)
            )
            if forward is None or not forward.ok:
                return "nothing_to_undo", forward.body if forward else None
            target = forward.body[undo.id_field]
        reply = self.services.call(
            undo.service,
            undo.path.format(id=target),
            step_key(checkout.checkout_id, undo.step),
            {"reason": "checkout compensation"},
        )
        return ("done" if reply.ok else "refused"), reply.body

    # -- cancellation -------------------------------------------------------------------------

    def cancel(self, checkout_id: str) -> Answer:
        """Cancel a completed checkout: fulfillment first (a shipped one refuses, and the refusal
        is recorded and answered, never hidden), then the payment (void, or refund once
        captured) and the order.

        `cancelling` is recorded before the first effect, so a cancellation stopped anywhere
        (a crash, a lost answer, a shopper who never retries) is finished by the worker; a
        refusal puts the checkout back to `completed`."""
        with self._lease(checkout_id) as token:
            checkout = self.store.load(checkout_id)
            if checkout.status in ("pending", "compensating"):
                raise SagaBusy(checkout_id)
            if checkout.status == "completed":
                # From here the outbox worker no longer requests fulfillment for this checkout.
                self.store.advance(checkout_id, token, status="cancelling")
                checkout = self.store.load(checkout_id)
            if checkout.status == "cancelling":
                refusal = self._cancel_fulfillment(checkout, token)
                if refusal is not None:
                    self.store.advance(checkout_id, token, status="completed")
                    return refusal
                self._hook(checkout_id, "cancelling")
                checkout = self.store.load(checkout_id)
                self._cancel_payment(checkout)
                self._recorded_call(
                    checkout_id,
                    "order",
                    "order.cancel",
                    f"/v1/orders/{checkout.order_id}/cancel",
                    {"reason": "checkout cancelled"},
                )
                # The checkout keeps its POST's answer; the cancellation's answer is stored
                # under the cancel request's own key.
                self.store.advance(
                    checkout_id, token, status="cancelled", recovery_point="cancelled"
                )
                return Answer(200, checkout_view(self.store.load(checkout_id)))
            return Answer(200, checkout_view(checkout))

    def _cancel_fulfillment(self, checkout: Checkout, token: str) -> Answer | None:
        cid = checkout.checkout_id
        fulfillment_id = checkout.fulfillment_id
        if fulfillment_id is None:
            # The worker may have requested it and died (or not yet recorded it) before this
            # cancellation took the lease: the fulfillment service knows, under the step's key,
            # and the fence keeps a request still on its way from landing after this check.
            # Still in flight there: OutcomeUnknown, and the cancellation is retried.
            found = self.services.fence("fulfillment", step_key(cid, "fulfillment"))
            if found is None or not found.ok:
                return None
            fulfillment_id = found.body["fulfillment_id"]
            self.store.advance(cid, token, fulfillment_id=fulfillment_id)
        reply = self._recorded_call(
            cid,
            "fulfillment",
            "fulfillment.cancel",
            f"/v1/fulfillments/{fulfillment_id}/cancel",
            {"reason": "checkout cancelled"},
        )
        if reply.ok:
            return None
        return Answer(
            409,
            problem_body(
                409,
                "checkout-not-cancellable",
                "Checkout already fulfilled",
                "Fulfillment refused the cancellation (it has shipped); the refusal is recorded.",
                checkout_id=cid,
                upstream=reply.body,
            ),
        )

    def _cancel_payment(self, checkout: Checkout) -> None:
        cid = checkout.checkout_id
        voided = self._recorded_call(
            cid,
            "payment",
            "payment.void",
            f"/v1/authorizations/{checkout.payment_id}/void",
            {"reason": "checkout cancelled"},
        )
        if voided.ok or voided.body.get("type") != _CAPTURED:
            return
        # The worker captured first: give the money back instead.
        self._recorded_call(
            cid,
            "payment",
            "payment.refund",
            f"/v1/authorizations/{checkout.payment_id}/refunds",
            {"amount_minor": voided.body.get("captured_minor", checkout.total_minor)},
        )

    def _recorded_call(
        self, checkout_id: str, service: str, step: str, path: str, body: dict[str, Any]
    ) -> Reply:
        """Call a cancellation step under its key and record its answer, whatever it is."""
        reply = self.services.call(service, path, step_key(checkout_id, step), body)
        self.store.record_result(checkout_id, step, _result(reply))
        return reply

    def _hook(self, checkout_id: str, point: str) -> None:
        if self.after_point is not None:
            self.after_point(checkout_id, point)


_CAPTURED = "urn:checkout-recon:problem:authorization-captured"


def _result(reply: Reply) -> tuple[int, Any]:
    return reply.status_code, reply.body


def _stored_body(checkout: Checkout) -> Any:
    return json.loads(checkout.response_body)
