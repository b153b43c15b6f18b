"""Idempotency keys and checkouts are private to the merchant (API key) that made them.

Two merchants generating keys the same way (a counter, a UUID library with a shared seed, an
order number) will reuse each other's keys. Their requests must never meet: the same key gives
each merchant its own checkout, a replay answers only the merchant who made the request, and a
checkout ID is unknown (404, not 403: its existence is not disclosed) to any other merchant.
"""

from checkout_service.idempotency import REPLAYED_HEADER
from checkout_service.orchestrator.settings import OrchestratorSettings
from checkout_service.orchestrator.tables import checkouts
from tests.checkout_service.orchestrator_fixtures import (
    API_KEY,
    OTHER_API_KEY,
    Stack,
    any_stack_fixture,
    checkout_body,
)

__all__ = ["any_stack_fixture"]

MERCHANTS = {API_KEY: "mer_alpha", OTHER_API_KEY: "mer_beta"}


def _two_merchants(any_stack) -> Stack:
    s = any_stack()
    # The shared fixture maps both keys to one merchant; here each key is its own merchant.
    # The orchestrator reads its settings on every request, so this is its configuration.
    s.orch.settings = OrchestratorSettings(**{**dict(s.orch.settings), "api_keys": MERCHANTS})
    return s


def _checkout_rows(s: Stack) -> list[dict]:
    with s.orch.engine.connect() as conn:
        return [dict(row) for row in conn.execute(checkouts.select()).mappings()]


def test_the_same_key_gives_each_merchant_its_own_checkout(any_stack):
    s = _two_merchants(any_stack)
    alpha = s.checkout("order-1001", checkout_body())
    # Another body under the same key is not a "key reused" 422: the key is beta's own.
    beta = s.checkout("order-1001", checkout_body(currency="USD"), api_key=OTHER_API_KEY)
    assert (alpha.status_code, beta.status_code) == (201, 201), (alpha.text, beta.text)
    assert REPLAYED_HEADER not in alpha.headers and REPLAYED_HEADER not in beta.headers
    assert alpha.json()["id"] != beta.json()["id"]
    assert beta.json()["currency"] == "USD"

    # Each merchant's retry replays its own first answer, byte for byte.
    alpha_again = s.checkout("order-1001", checkout_body())
    beta_again = s.checkout("order-1001", checkout_body(currency="USD"), api_key=OTHER_API_KEY)
    assert alpha_again.headers[REPLAYED_HEADER] == "true"
    assert beta_again.headers[REPLAYED_HEADER] == "true"
    assert alpha_again.content == alpha.content
    assert beta_again.content == beta.content

    # Two checkouts, two merchants, two authorizations: one effect per merchant and key.
    rows = _checkout_rows(s)
    assert sorted(row["merchant_id"] for row in rows) == ["mer_alpha", "mer_beta"]
    assert len({row["scope"] for row in rows}) == 2
    authorizations = s.payments("authorization")
    assert sorted(row["currency"] for row in authorizations) == ["EUR", "USD"]


def test_a_checkout_is_unknown_to_another_merchant(any_stack):
    s = _two_merchants(any_stack)
    alpha = s.checkout("order-1", checkout_body())
    assert alpha.status_code == 201, alpha.text
    checkout_id = alpha.json()["id"]

    assert s.get(checkout_id).status_code == 200
    seen_by_beta = s.get(checkout_id, api_key=OTHER_API_KEY)
    assert seen_by_beta.status_code == 404
    assert seen_by_beta.json()["type"].endswith("checkout-not-found")
    # Exactly the answer for an ID that does not exist: nothing tells the two apart.
    unknown = s.get("chk_does_not_exist", api_key=OTHER_API_KEY)
    assert seen_by_beta.json()["title"] == unknown.json()["title"]

    cancel = s.cancel(checkout_id, "cancel-1", api_key=OTHER_API_KEY)
    assert cancel.status_code == 404
    assert s.get(checkout_id).json()["status"] == "completed"
    assert s.payments("void") == [] and s.payments("refund") == []

    # The owner can still cancel, under the key beta's refused attempt did not consume.
    assert s.cancel(checkout_id, "cancel-1").status_code == 200
    assert s.get(checkout_id).json()["status"] == "cancelled"
