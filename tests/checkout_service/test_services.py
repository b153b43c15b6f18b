"""Each downstream service over real HTTP: its happy path, its refusals, and that every mutating
endpoint requires and honours an Idempotency-Key."""

from datetime import UTC, datetime, timedelta

import pytest

from checkout_service.db import reading
from checkout_service.idempotency import REPLAYED_HEADER
from checkout_service.services import fraud, fulfillment, inventory, order, payment, tax
from checkout_service.services.inventory import InventorySettings
from checkout_service.services.runtime import ServiceSettings

PROBLEM = "application/problem+json"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def call(client, path: str, key: str | None, body: dict | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(path, json=body if body is not None else {}, headers=headers)


def rows(app, table) -> list[dict]:
    with reading(app.state.runtime.engine) as conn:
        return [dict(row) for row in conn.execute(table.select()).mappings()]


@pytest.mark.parametrize(
    ("module", "path", "body"),
    [
        (fraud, "/v1/screenings", {}),
        (payment, "/v1/authorizations", {}),
        (payment, "/v1/authorizations/pay_x/captures", {}),
        (payment, "/v1/authorizations/pay_x/void", {}),
        (payment, "/v1/authorizations/pay_x/refunds", {}),
        (payment, "/v1/authorizations/pay_x/manual-refunds", {}),
        (inventory, "/v1/reservations", {}),
        (inventory, "/v1/reservations/res_x/release", {}),
        (inventory, "/v1/reservations/res_x/commit", {}),
        (order, "/v1/orders", {}),
        (order, "/v1/orders/ord_x/cancel", {}),
        (tax, "/v1/quotes", {}),
        (fulfillment, "/v1/fulfillments", {}),
        (fulfillment, "/v1/fulfillments/ful_x/ship", {}),
        (fulfillment, "/v1/fulfillments/ful_x/cancel", {}),
    ],
)
def test_every_mutating_endpoint_requires_a_key(sqlite_db, start, module, path, body):
    client = start(module.create_app(ServiceSettings(database=sqlite_db)))
    response = call(client, path, None, body)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


def test_fraud_approves_and_declines_test_identities(backend, start):
    app = fraud.create_app(ServiceSettings(database=backend))
    client = start(app)
    body = {"checkout_id": "c1", "customer_id": "cus_1", "amount_minor": 100, "currency": "EUR"}
    approved = call(client, "/v1/screenings", "c1:fraud", body)
    assert (approved.status_code, approved.json()["decision"]) == (201, "approved")
    blocked = {**body, "checkout_id": "c2", "customer_id": "cus_fraud_7"}
    declined = call(client, "/v1/screenings", "c2:fraud", blocked)
    assert declined.json()["decision"] == "declined"
    by_token = {**body, "checkout_id": "c3", "payment_token": "tok_fraud_x"}
    assert call(client, "/v1/screenings", "c3:fraud", by_token).json()["decision"] == "declined"
    assert call(client, "/v1/screenings", "c1:fraud", body).headers[REPLAYED_HEADER] == "true"
    assert len(rows(app, fraud.screenings)) == 3


def authorize(client, checkout: str, amount: int = 1000, token: str = "tok_visa"):
    body = {"checkout_id": checkout, "amount_minor": amount, "currency": "EUR"}
    return call(
        client,
        "/v1/authorizations",
        f"{checkout}:payment.authorize",
        {
            **body,
            "payment_token": token,
        },
    )


def test_payment_authorize_capture_refund_and_refusals(backend, start):
    app = payment.create_app(ServiceSettings(database=backend))
    client = start(app)
    auth = authorize(client, "c1")
    assert auth.status_code == 201
    auth_id = auth.json()["payment_id"]
    assert auth.json()["psp_reference"].startswith("psp_")
    base = f"/v1/authorizations/{auth_id}"

    over = call(client, f"{base}/captures", "c1:payment.capture", {"amount_minor": 1001})
    assert over.status_code == 422
    assert over.json()["type"].endswith("capture-exceeds-authorization")
    # The refusal is the stored outcome of that key: replayed, not re-evaluated.
    again = call(client, f"{base}/captures", "c1:payment.capture", {"amount_minor": 1001})
    assert (again.status_code, again.headers[REPLAYED_HEADER]) == (422, "true")

    capture = call(client, f"{base}/captures", "c1:payment.capture-2", {"amount_minor": 600})
    assert capture.status_code == 201
    assert capture.json()["parent_payment_id"] == auth_id
    rest = call(client, f"{base}/captures", "c1:payment.capture-3", {})
    assert (rest.status_code, rest.json()["amount_minor"]) == (201, 400)

    void = call(client, f"{base}/void", "c1:payment.void", {})
    assert void.status_code == 409
    assert void.json()["type"].endswith("authorization-captured")

    refund = call(client, f"{base}/refunds", "c1:payment.refund", {"amount_minor": 700})
    assert refund.status_code == 201
    too_much = call(client, f"{base}/refunds", "c1:payment.refund-2", {"amount_minor": 301})
    assert too_much.status_code == 422
    assert too_much.json()["type"].endswith("refund-exceeds-capture")

    summary = client.get(base).json()
    assert (summary["captured_minor"], summary["refunded_minor"], summary["voided"]) == (
        1000,
        700,
        False,
    )
    kinds = sorted(row["kind"] for row in rows(app, payment.payments))
    assert kinds == ["authorization", "capture", "capture", "refund"]


def test_a_manual_refund_is_recorded_even_above_the_capture_and_only_once(backend, start):
    """Money support already paid back by hand is a fact the ledger keeps, so reconciliation can
    see a refund paid twice; a declined authorization still has nothing to refund."""
    app = payment.create_app(ServiceSettings(database=backend))
    client = start(app)
    auth_id = authorize(client, "c1").json()["payment_id"]
    base = f"/v1/authorizations/{auth_id}"
    call(client, f"{base}/captures", "c1:payment.capture", {})
    call(client, f"{base}/refunds", "c1:payment.refund", {"amount_minor": 1000})
    body = {"amount_minor": 1000, "reason": "bank transfer by support"}
    manual = call(client, f"{base}/manual-refunds", "c1:payment.refund:support-1", body)
    assert manual.status_code == 201
    assert (manual.json()["kind"], manual.json()["parent_payment_id"]) == ("refund", auth_id)
    replay = call(client, f"{base}/manual-refunds", "c1:payment.refund:support-1", body)
    assert (replay.status_code, replay.headers[REPLAYED_HEADER]) == (201, "true")
    summary = client.get(base).json()
    assert (summary["captured_minor"], summary["refunded_minor"]) == (1000, 2000)

    declined = authorize(client, "c2", token="tok_decline").json()["payment"]["payment_id"]
    refused = call(
        client, f"/v1/authorizations/{declined}/manual-refunds", "c2:payment.refund:s", body
    )
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("authorization-failed")


def test_payment_void_then_capture_is_refused_and_a_second_void_is_no_second_effect(backend, start):
    app = payment.create_app(ServiceSettings(database=backend))
    client = start(app)
    auth_id = authorize(client, "c1").json()["payment_id"]
    base = f"/v1/authorizations/{auth_id}"
    first = call(client, f"{base}/void", "c1:payment.void", {})
    assert first.status_code == 201
    second = call(client, f"{base}/void", "reaper:c1", {})
    assert (second.status_code, second.json()["payment_id"]) == (200, first.json()["payment_id"])
    capture = call(client, f"{base}/captures", "c1:payment.capture", {})
    assert capture.status_code == 409
    assert capture.json()["type"].endswith("authorization-voided")
    assert sorted(r["kind"] for r in rows(app, payment.payments)) == ["authorization", "void"]


def test_payment_decline_is_402_recorded_and_replayed(backend, start):
    app = payment.create_app(ServiceSettings(database=backend))
    client = start(app)
    declined = authorize(client, "c1", token="tok_decline_insufficient_funds")
    assert declined.status_code == 402
    assert declined.json()["failure_code"] == "insufficient_funds"
    replay = authorize(client, "c1", token="tok_decline_insufficient_funds")
    assert (replay.status_code, replay.content) == (402, declined.content)
    [row] = rows(app, payment.payments)
    assert (row["status"], row["failure_code"]) == ("failed", "insufficient_funds")
    assert authorize(client, "c2", token="tok_decline").json()["failure_code"] == "card_declined"


def test_unknown_parent_is_404_and_not_stored(backend, start):
    client = start(payment.create_app(ServiceSettings(database=backend)))
    missing = call(client, "/v1/authorizations/pay_nope/captures", "c1:payment.capture", {})
    assert missing.status_code == 404
    assert client.get("/v1/operations/c1:payment.capture").status_code == 404


def test_operations_lookup_resolves_an_unknown_outcome(backend, start):
    client = start(payment.create_app(ServiceSettings(database=backend)))
    auth = authorize(client, "c1")
    found = client.get("/v1/operations/c1:payment.authorize")
    assert found.status_code == 200
    assert (found.json()["status_code"], found.json()["body"]) == (201, auth.json())
    assert client.get("/v1/operations/c9:payment.authorize").status_code == 404


def inventory_app(backend, clock=None, **stock):
    settings = InventorySettings(database=backend, initial_stock=stock)
    return inventory.create_app(settings, clock=clock)


def stock(client, sku: str) -> tuple[int, int]:
    level = client.get(f"/v1/stock/{sku}").json()
    return level["on_hand"], level["reserved"]


def test_inventory_reserve_commit_release_and_out_of_stock(backend, start):
    app = inventory_app(backend, A=5, B=2)
    client = start(app)
    lines = [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 1}]
    reserved = call(
        client, "/v1/reservations", "c1:inventory.reserve", {"checkout_id": "c1", "lines": lines}
    )
    assert reserved.status_code == 201
    reservation_id = reserved.json()["reservation_id"]
    assert {(m["sku"], m["quantity"]) for m in reserved.json()["moves"]} == {("A", 3), ("B", 1)}
    assert stock(client, "A") == (5, 3)

    short = {"checkout_id": "c2", "lines": [{"sku": "A", "quantity": 3}]}
    out = call(client, "/v1/reservations", "c2:inventory.reserve", short)
    assert out.status_code == 409
    assert out.json()["shortages"] == [{"sku": "A", "requested": 3, "available": 2}]
    unknown = {"checkout_id": "c3", "lines": [{"sku": "Z", "quantity": 1}]}
    assert call(client, "/v1/reservations", "c3:inventory.reserve", unknown).status_code == 409

    committed = call(client, f"/v1/reservations/{reservation_id}/commit", "c1:inventory.commit")
    assert committed.status_code == 200
    assert stock(client, "A") == (2, 0)
    refused = call(client, f"/v1/reservations/{reservation_id}/release", "c1:inventory.release")
    assert refused.status_code == 409

    second = {"checkout_id": "c4", "lines": [{"sku": "B", "quantity": 1}]}
    res2 = call(client, "/v1/reservations", "c4:inventory.reserve", second).json()["reservation_id"]
    released = call(client, f"/v1/reservations/{res2}/release", "c4:inventory.release")
    assert released.status_code == 200
    assert stock(client, "B") == (1, 0)
    # Undo if it exists: releasing again (another key) answers the state, with no new move.
    again = call(client, f"/v1/reservations/{res2}/release", "reaper:c4")
    assert (again.status_code, again.json()["moves"]) == (200, [])
    assert call(client, f"/v1/reservations/{res2}/commit", "c4:inventory.commit").status_code == 409
    kinds = sorted(m["kind"] for m in rows(app, inventory.inventory_moves))
    assert kinds == ["commit", "commit", "release", "reserve", "reserve", "reserve"]


def test_inventory_ttl_refuses_late_commit_and_the_reaper_releases(backend, start):
    clock = Clock()
    app = inventory_app(backend, clock, A=1)
    client = start(app)
    body = {"checkout_id": "c1", "lines": [{"sku": "A", "quantity": 1}]}
    reserved = call(client, "/v1/reservations", "c1:inventory.reserve", body).json()
    assert reserved["expires_at"] == (clock.now + timedelta(minutes=30)).isoformat()
    clock.now += timedelta(minutes=31)
    late = call(
        client, f"/v1/reservations/{reserved['reservation_id']}/commit", "c1:inventory.commit"
    )
    assert late.status_code == 409
    assert late.json()["type"].endswith("reservation-expired")
    assert inventory.release_expired(app.state.runtime) == [reserved["reservation_id"]]
    assert inventory.release_expired(app.state.runtime) == []
    assert stock(client, "A") == (1, 0)
    [release] = [m for m in rows(app, inventory.inventory_moves) if m["kind"] == "release"]
    assert release["idempotency_key"] == "c1:inventory.release"


def order_body(**overrides) -> dict:
    return {
        "checkout_id": "c1",
        "customer_id": "cus_1",
        "currency": "EUR",
        "subtotal_minor": 1000,
        "tax_minor": 200,
        "total_minor": 1200,
        "attribution": {"utm_source": "newsletter", "utm_campaign": "spring"},
        **overrides,
    }


def test_order_create_cancel_and_attribution_written_once(backend, start):
    app = order.create_app(ServiceSettings(database=backend))
    client = start(app)
    created = call(client, "/v1/orders", "c1:order", order_body())
    assert created.status_code == 201
    assert (created.json()["status"], created.json()["utm_source"]) == ("placed", "newsletter")
    # A retry that lost its UTM parameters is the same request, and does not overwrite them.
    retry = call(client, "/v1/orders", "c1:order", order_body(attribution=None))
    assert (retry.status_code, retry.headers[REPLAYED_HEADER]) == (201, "true")
    mismatch = call(client, "/v1/orders", "c1:order", order_body(total_minor=1300))
    assert (mismatch.status_code, mismatch.headers["content-type"]) == (422, PROBLEM)
    assert "subtotal_minor + tax_minor" in mismatch.text
    order_id = created.json()["order_id"]
    cancelled = call(client, f"/v1/orders/{order_id}/cancel", "c1:order.cancel")
    assert cancelled.json()["status"] == "cancelled"
    again = call(client, f"/v1/orders/{order_id}/cancel", "c1:order.cancel-2")
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")
    assert client.get(f"/v1/orders/{order_id}").json()["utm_source"] == "newsletter"
    assert [v["status"] for v in rows(app, order.order_versions)] == ["placed", "cancelled"]


def test_tax_quotes_are_deterministic_per_country_then_currency(backend, start):
    client = start(tax.create_app(ServiceSettings(database=backend)))

    def quote(checkout: str, **body) -> dict:
        response = call(client, "/v1/quotes", f"{checkout}:tax", {"checkout_id": checkout, **body})
        assert response.status_code == 201
        return response.json()

    assert quote("c1", currency="EUR", country="DE", subtotal_minor=1005)["tax_minor"] == 191
    assert quote("c2", currency="USD", country="US", subtotal_minor=1000)["tax_minor"] == 0
    by_currency = quote("c3", currency="GBP", subtotal_minor=999)
    assert (by_currency["rate_bp"], by_currency["tax_minor"]) == (2000, 200)


def test_fulfillment_cancel_after_ship_is_refused_and_recorded(backend, start):
    app = fulfillment.create_app(ServiceSettings(database=backend))
    client = start(app)
    body = {"checkout_id": "c1", "order_id": "ord_1"}
    requested = call(client, "/v1/fulfillments", "c1:fulfillment", body)
    assert (requested.status_code, requested.json()["status"]) == (201, "requested")
    fid = requested.json()["fulfillment_id"]
    assert (
        call(client, f"/v1/fulfillments/{fid}/ship", "c1:fulfillment.ship").json()["status"]
        == "shipped"
    )
    refused = call(client, f"/v1/fulfillments/{fid}/cancel", "c1:fulfillment.cancel")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("fulfillment-shipped")
    events = client.get(f"/v1/fulfillments/{fid}").json()["events"]
    assert [(e["status"], e["accepted"]) for e in events] == [
        ("requested", True),
        ("shipped", True),
        ("cancelled", False),
    ]

    other = call(
        client, "/v1/fulfillments", "c2:fulfillment", {"checkout_id": "c2", "order_id": "o2"}
    )
    oid = other.json()["fulfillment_id"]
    assert (
        call(client, f"/v1/fulfillments/{oid}/cancel", "c2:fulfillment.cancel").status_code == 200
    )
    assert call(client, f"/v1/fulfillments/{oid}/ship", "c2:fulfillment.ship").status_code == 409
