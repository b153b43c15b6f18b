"""Crashes, lost answers and redeliveries: whatever stops the orchestrator, recovery ends with
at most one effect per `{checkout_id}:{step}`, every authorization captured or voided and every
reservation committed or released."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from checkout_service.orchestrator.outbox import process_outbox
from checkout_service.orchestrator.recovery import recover
from checkout_service.orchestrator.steps import POINTS
from checkout_service.orchestrator.tables import outbox
from checkout_service.problems import PROBLEM_MEDIA_TYPE as PROBLEM
from checkout_service.services import fulfillment, inventory, order
from tests.checkout_service.orchestrator_fixtures import (
    any_stack_fixture,  # noqa: F401
    checkout_body,
    stack_fixture,  # noqa: F401
)


class SimulatedCrash(Exception):
    pass


def crash_once_at(point: str):
    """A hook that fails the runner right after `point` committed, the first time only."""
    fired: list[str] = []

    def hook(checkout_id: str, reached: str) -> None:
        if reached == point and not fired:
            fired.append(checkout_id)
            raise SimulatedCrash(point)

    return hook


def assert_settled_once(s, cid: str) -> None:
    """One authorization captured once, one order placed, the reservation committed, one
    fulfillment requested."""
    (auth,) = s.payments("authorization")
    (capture,) = s.payments("capture")
    assert capture["parent_payment_id"] == auth["payment_id"]
    assert capture["idempotency_key"] == f"{cid}:payment.capture"
    assert s.payments("void") == []
    (placed,) = s.rows("order", order.orders)
    assert placed["status"] == "placed"
    (reservation,) = s.rows("inventory", inventory.reservations)
    assert reservation["status"] == "committed"
    assert len(s.rows("fulfillment", fulfillment.fulfillments)) == 1


@pytest.mark.parametrize("point", POINTS[1:])
def test_a_crash_after_each_recovery_point_is_resumed_by_recover(stack, point):
    s = stack(after_point=crash_once_at(point))
    body = checkout_body()
    crashed = s.checkout("k1", body)
    assert crashed.status_code == 500
    results = recover(s.orch)
    assert [r.outcome for r in results] == ([] if point == "finished" else ["completed"])
    # The client's retry with the same key gets the saga's answer, not a second checkout.
    retry = s.checkout("k1", body)
    assert retry.status_code == 201
    cid = retry.json()["id"]
    assert s.get(cid).json()["status"] == "completed"
    process_outbox(s.orch)
    process_outbox(s.orch)
    assert_settled_once(s, cid)


@pytest.mark.parametrize("point", POINTS[1:-1])
def test_a_crash_is_resumed_by_the_clients_retry_alone(stack, point):
    s = stack(after_point=crash_once_at(point))
    assert s.checkout("k1", checkout_body()).status_code == 500
    retry = s.checkout("k1", checkout_body())
    assert retry.status_code == 201
    process_outbox(s.orch)
    assert_settled_once(s, retry.json()["id"])


@pytest.mark.parametrize("point", ["compensating", "compensated:inventory.release"])
def test_a_crash_while_compensating_a_decline_is_finished_by_recover(stack, point):
    s = stack(after_point=crash_once_at(point))
    body = checkout_body(payment_token="tok_decline")
    assert s.checkout("k1", body).status_code == 500
    assert [r.outcome for r in recover(s.orch)] == ["failed"]
    retry = s.checkout("k1", body)
    assert retry.status_code == 402
    (reservation,) = s.rows("inventory", inventory.reservations)
    assert reservation["status"] == "released"
    assert s.rows("order", order.orders) == []


def test_a_runner_killed_holding_its_lease_is_taken_over_once_the_lease_expires(stack):
    s = stack(after_point=crash_once_at("payment_authorized"))
    assert s.checkout("k1", checkout_body()).status_code == 500
    (cid,) = s.orch.saga_store.resumable()
    # A killed process never releases its lease: take it as that process would have held it.
    assert s.orch.saga_store.acquire_lease(cid) is not None
    assert recover(s.orch) == []
    s.clock.advance(s.orch.settings.saga_lease + timedelta(seconds=1))
    assert [r.outcome for r in recover(s.orch)] == ["completed"]
    process_outbox(s.orch)
    assert_settled_once(s, cid)


def test_a_lost_authorization_answer_is_resolved_by_lookup_not_a_second_charge(stack):
    s = stack()
    s.faults.add("POST", "/v1/authorizations", "lose")
    s.faults.add("POST", "/v1/orders", "fail")
    response = s.checkout("k1", checkout_body())
    assert response.status_code == 201, response.text
    process_outbox(s.orch)
    assert_settled_once(s, response.json()["id"])


def _lose_the_authorization(s) -> None:
    """The authorization runs, but neither its answer nor a lookup of it gets back: its outcome
    stays unknown until the faults are cleared."""
    s.faults.add("POST", "/v1/authorizations", "lose", times=None)
    s.faults.add("GET", "/v1/operations/.*:payment.authorize", "fail", times=None)


def test_an_unknown_outcome_answers_503_and_the_same_key_resumes_it(stack):
    s = stack()
    _lose_the_authorization(s)
    paused = s.checkout("k1", checkout_body())
    assert (paused.status_code, paused.headers["content-type"]) == (503, PROBLEM)
    assert paused.headers["retry-after"] == "1"
    assert paused.json()["type"].endswith(":outcome-unknown")
    s.faults.rules.clear()
    resumed = s.checkout("k1", checkout_body())
    assert resumed.status_code == 201, resumed.text
    process_outbox(s.orch)
    assert_settled_once(s, resumed.json()["id"])


def test_an_unknown_outcome_stays_pending_then_recover_resumes_it(stack):
    s = stack()
    _lose_the_authorization(s)
    assert s.checkout("k1", checkout_body()).status_code == 503
    assert [r.outcome for r in recover(s.orch)] == ["unknown"]
    s.faults.rules.clear()
    assert [r.outcome for r in recover(s.orch)] == ["completed"]
    (cid,) = [row["checkout_id"] for row in s.rows("order", order.orders)]
    process_outbox(s.orch)
    assert_settled_once(s, cid)


def _rolls_forward_past_the_deadline(s, waited: timedelta) -> None:
    """`waited` after the 503, past the 15 minutes recovery gives a saga: it stays unknown while
    the faults last (not abandoned), and completes once they clear."""
    s.clock.advance(waited)
    give_up = timedelta(minutes=15)
    assert [r.outcome for r in recover(s.orch, give_up_after=give_up)] == ["unknown"]
    s.faults.rules.clear()
    assert [r.outcome for r in recover(s.orch, give_up_after=give_up)] == ["completed"]


def test_a_saga_past_its_deadline_is_not_abandoned_while_its_step_may_have_run(stack):
    """The authorization ran but its answer was lost, and the service cannot be asked: past the
    deadline the saga waits rather than guess. Once the fence answers that the step ran, the
    saga rolls forward to one charge instead of being abandoned."""
    s = stack()
    _lose_the_authorization(s)
    s.faults.add("POST", "/v1/operations/.*:payment.authorize/fence", "fail", times=None)
    assert s.checkout("k1", checkout_body()).status_code == 503
    _rolls_forward_past_the_deadline(s, timedelta(hours=1))
    assert len(s.payments("authorization")) == 1
    assert s.payments("void") == []
    assert s.checkout("k1", checkout_body()).status_code == 201


def test_a_commit_that_ran_unseen_is_not_undone_by_giving_up(stack):
    """A committed reservation cannot be released: abandoning after an unseen commit would
    leave stock gone for an order cancelled and a payment voided."""
    s = stack()
    s.faults.add("POST", "/v1/reservations/.*/commit", "lose", times=None)
    s.faults.add("GET", "/v1/operations/.*", "fail", times=None)
    assert s.checkout("k1", checkout_body()).status_code == 503
    _rolls_forward_past_the_deadline(s, timedelta(minutes=16))
    (reservation,) = s.rows("inventory", inventory.reservations)
    assert reservation["status"] == "committed"
    assert [o["status"] for o in s.rows("order", order.orders)] == ["placed"]
    assert s.payments("void") == []


def test_an_authorization_arriving_after_the_saga_gave_up_is_refused(stack):
    """The authorize request never reached the PSP while the orchestrator waited (it is still on
    its way, say); the abandoned saga fences its key, so when it lands nothing is held."""
    s = stack()
    s.faults.add("POST", "/v1/authorizations", "fail", times=None)
    assert s.checkout("k1", checkout_body()).status_code == 503
    s.clock.advance(timedelta(hours=1))
    assert [r.outcome for r in recover(s.orch, give_up_after=timedelta(minutes=15))] == ["failed"]
    s.faults.rules.clear()
    (reservation,) = s.rows("inventory", inventory.reservations)
    assert reservation["status"] == "released"
    cid = reservation["checkout_id"]
    late = s.orch.services.clients["payment"].post(
        "/v1/authorizations",
        json={"checkout_id": cid, "amount_minor": 1000, "currency": "EUR", "payment_token": "t"},
        headers={"Idempotency-Key": f"{cid}:payment.authorize"},
    )
    assert late.status_code == 409
    assert late.json()["type"].endswith("idempotency-key-fenced")
    assert s.payments("authorization") == []


def test_the_outbox_delivers_one_capture_however_often_it_runs(stack, monkeypatch):
    s = stack()
    cid = s.checkout("k1", checkout_body()).json()["id"]
    store = s.orch.saga_store
    real_mark = store.mark_handled

    def crash_before_recording(*args, **kwargs):
        raise SimulatedCrash("worker killed after the call, before recording it")

    # The worker dies after capturing but before recording: the event is delivered again.
    monkeypatch.setattr(store, "mark_handled", crash_before_recording)
    with pytest.raises(SimulatedCrash):
        process_outbox(s.orch)
    monkeypatch.setattr(store, "mark_handled", real_mark)
    assert {d.outcome for d in process_outbox(s.orch)} == {"handled"}
    assert process_outbox(s.orch) == []
    # Duplicate delivery (the broker redelivers): the handled IDs absorb it.
    with s.orch.engine.begin() as conn:
        conn.execute(update(outbox).values(delivered_at=None))
    assert {d.outcome for d in process_outbox(s.orch)} == {"duplicate"}
    assert_settled_once(s, cid)
    assert sorted(e.event_id for e in process_outbox(s.orch)) == []


def test_crash_then_recover_charges_once_on_every_backend(any_stack):
    s = any_stack(after_point=crash_once_at("order_created"))
    assert s.checkout("k1", checkout_body()).status_code == 500
    assert [r.outcome for r in recover(s.orch)] == ["completed"]
    cid = s.checkout("k1", checkout_body()).json()["id"]
    process_outbox(s.orch)
    process_outbox(s.orch)
    assert_settled_once(s, cid)
