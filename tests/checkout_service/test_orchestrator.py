"""The orchestrator end to end over real HTTP: the happy path, the public API's idempotency
answers, declines and compensations."""

import httpx
import pytest

from checkout_service.idempotency import REPLAYED_HEADER
from checkout_service.orchestrator.app import create_app
from checkout_service.orchestrator.clients import InProcessTransport, ServiceClients
from checkout_service.orchestrator.outbox import process_outbox
from checkout_service.orchestrator.runtime import build_orchestrator
from checkout_service.orchestrator.settings import OrchestratorSettings
from checkout_service.services import fraud, fulfillment, inventory, order, payment, tax
from checkout_service.services.inventory import InventorySettings
from checkout_service.services.runtime import ServiceSettings
from tests.checkout_service.orchestrator_fixtures import (
    OTHER_API_KEY,
    checkout_body,
    stack_fixture,  # noqa: F401
)

PROBLEM = "application/problem+json"


def test_happy_path_authorizes_orders_commits_then_the_worker_captures_and_fulfils(stack):
    s = stack()
    response = s.checkout("k1", checkout_body())
    assert response.status_code == 201, response.text
    checkout = response.json()
    # 2 × 1250 + 500 = 3000, German VAT 19 % = 570.
    assert (checkout["subtotal_minor"], checkout["tax_minor"], checkout["total_minor"]) == (
        3000,
        570,
        3570,
    )
    assert checkout["status"] == "completed"
    cid = checkout["id"]

    auths = s.payments("authorization")
    assert [(a["amount_minor"], a["idempotency_key"]) for a in auths] == [
        (3570, f"{cid}:payment.authorize")
    ]
    assert s.payments("capture") == []  # settlement waits for the outbox
    orders = s.rows("order", order.orders)
    assert [(o["order_id"], o["status"], o["utm_campaign"]) for o in orders] == [
        (checkout["order_id"], "placed", "spring")
    ]
    (reservation,) = s.rows("inventory", inventory.reservations)
    assert reservation["status"] == "committed"

    deliveries = process_outbox(s.orch)
    assert sorted(d.outcome for d in deliveries) == ["handled", "handled"]
    (capture,) = s.payments("capture")
    assert (capture["amount_minor"], capture["idempotency_key"]) == (
        3570,
        f"{cid}:payment.capture",
    )
    (ful,) = s.rows("fulfillment", fulfillment.fulfillments)
    assert (ful["order_id"], ful["status"]) == (checkout["order_id"], "requested")

    view = s.get(cid).json()
    assert view["fulfillment_id"] == ful["fulfillment_id"]
    assert view["attribution"]["utm_source"] == "newsletter"
    assert view["recovery_point"] == "finished"
    assert {c["state"] for c in view["compensations"]} == {"registered"}


def test_replay_returns_the_first_answer_and_keeps_the_first_attribution(stack):
    s = stack()
    first = s.checkout("k1", checkout_body())
    # A retry that lost its UTM parameters is the same request (no 422), and a replay.
    retry = s.checkout("k1", checkout_body(client_context={"referrer": "https://other/"}))
    assert retry.status_code == 201
    assert retry.headers[REPLAYED_HEADER] == "true"
    assert retry.content == first.content
    view = s.get(first.json()["id"]).json()
    assert view["attribution"]["referrer"] == "https://mail.example.com/"
    assert len(s.payments("authorization")) == 1


def test_missing_key_is_400_and_same_key_different_payload_is_422(stack):
    s = stack()
    missing = s.checkout(None, checkout_body())
    assert (missing.status_code, missing.headers["content-type"]) == (400, PROBLEM)
    # The key is checked before the body: an invalid body without a key is still a 400.
    assert s.checkout(None, {"lines": []}).status_code == 400
    assert s.checkout("k0", {"lines": []}).status_code == 422
    assert s.checkout("k1", checkout_body()).status_code == 201
    changed = s.checkout("k1", checkout_body(currency="USD"))
    assert (changed.status_code, changed.headers["content-type"]) == (422, PROBLEM)
    assert changed.json()["type"].endswith("idempotency-key-reused")
    assert len(s.payments("authorization")) == 1


def test_api_key_is_required_and_scopes_idempotency_keys(stack):
    s = stack()
    unauthenticated = s.checkout("k1", checkout_body(), api_key="sk_wrong")
    assert unauthenticated.status_code == 401
    a = s.checkout("k1", checkout_body())
    b = s.checkout("k1", checkout_body(), api_key=OTHER_API_KEY)
    assert (a.status_code, b.status_code) == (201, 201)
    assert REPLAYED_HEADER not in b.headers
    assert a.json()["id"] != b.json()["id"]


def test_payment_decline_releases_the_reservation_and_replays_the_402(stack):
    s = stack()
    response = s.checkout("k1", checkout_body(payment_token="tok_decline_insufficient_funds"))
    assert (response.status_code, response.headers["content-type"]) == (402, PROBLEM)
    assert response.json()["failure_code"] == "insufficient_funds"
    (reservation,) = s.rows("inventory", inventory.reservations)
    assert reservation["status"] == "released"
    assert s.rows("order", order.orders) == []
    assert s.payments("void") == []  # the failed authorization left nothing to void
    replay = s.checkout("k1", checkout_body(payment_token="tok_decline_insufficient_funds"))
    assert replay.status_code == 402
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert replay.content == response.content
    view = s.get(response.json()["checkout_id"]).json()
    assert view["status"] == "failed"
    states = {c["step"]: c["state"] for c in view["compensations"]}
    assert states == {"inventory.release": "done", "payment.void": "nothing_to_undo"}
    assert process_outbox(s.orch) == []


def test_fraud_decline_is_402_before_any_effect(stack):
    s = stack()
    response = s.checkout("k1", checkout_body(customer={"id": "cus_fraud_1"}))
    assert response.status_code == 402
    assert s.rows("inventory", inventory.reservations) == []
    assert s.rows("payment", payment.payments) == []


def test_out_of_stock_is_409_stored_with_nothing_to_undo(stack):
    s = stack()
    body = checkout_body(lines=[{"sku": "LAST", "quantity": 2, "unit_price_minor": 100}])
    response = s.checkout("k1", body)
    assert response.status_code == 409
    assert response.json()["shortages"][0]["sku"] == "LAST"
    assert s.checkout("k1", body).headers[REPLAYED_HEADER] == "true"
    assert s.rows("payment", payment.payments) == []


@pytest.mark.parametrize(
    ("method", "path", "undone"),
    [
        ("POST", "/v1/orders", {"inventory.release", "payment.void"}),
        (
            "POST",
            "/v1/reservations/[^/]+/commit",
            {"inventory.release", "payment.void", "order.cancel"},
        ),
    ],
)
def test_a_refused_later_step_compensates_everything_before_it(stack, method, path, undone):
    s = stack()
    refusal = {"type": "urn:test:refused", "title": "Refused", "status": 422}
    s.faults.add(method, path, "respond", times=None, status=422, body=refusal)
    response = s.checkout("k1", checkout_body())
    assert response.status_code == 502, response.text
    assert response.json()["upstream"] == refusal
    view = s.get(response.json()["checkout_id"]).json()
    assert view["status"] == "failed"
    assert {c["step"] for c in view["compensations"] if c["state"] == "done"} == undone
    (reservation,) = s.rows("inventory", inventory.reservations)
    assert reservation["status"] == "released"
    assert len(s.payments("void")) == 1
    assert s.payments("capture") == []
    assert all(o["status"] == "cancelled" for o in s.rows("order", order.orders))
    assert process_outbox(s.orch) == []


def test_the_saga_runs_in_process_with_injected_clients(sqlite_db):
    """No ports: every service, and the orchestrator itself, called through httpx.ASGITransport."""
    apps = {
        "fraud": fraud.create_app(ServiceSettings(database=sqlite_db)),
        "tax": tax.create_app(ServiceSettings(database=sqlite_db)),
        "inventory": inventory.create_app(
            InventorySettings(database=sqlite_db, initial_stock={"SKU-1": 5, "SKU-2": 5})
        ),
        "payment": payment.create_app(ServiceSettings(database=sqlite_db)),
        "order": order.create_app(ServiceSettings(database=sqlite_db)),
        "fulfillment": fulfillment.create_app(ServiceSettings(database=sqlite_db)),
    }
    services = ServiceClients.in_process(apps)
    orch = build_orchestrator(
        OrchestratorSettings(database=sqlite_db, api_keys={"sk_in_process": "mer_1"}),
        services=services,
    )
    try:
        transport = InProcessTransport(create_app(orchestrator=orch))
        with httpx.Client(base_url="http://orchestrator.internal", transport=transport) as client:
            response = client.post(
                "/v1/checkouts",
                json=checkout_body(),
                headers={"Authorization": "Bearer sk_in_process", "Idempotency-Key": "k1"},
            )
        assert response.status_code == 201, response.text
        assert [d.outcome for d in process_outbox(orch)] == ["handled", "handled"]
    finally:
        orch.close()
        for app in apps.values():
            app.state.runtime.engine.dispose()
