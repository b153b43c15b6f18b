"""K identical checkouts at the same moment: one checkout, one charge, and K−1 answers that are
409 (in flight) or replays of the one answer; on SQLite and on PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from checkout_service.db import reading
from checkout_service.idempotency import REPLAYED_HEADER
from checkout_service.orchestrator.outbox import process_outbox
from checkout_service.orchestrator.tables import checkouts
from checkout_service.services import order
from tests.checkout_service.orchestrator_fixtures import (
    API_KEY,
    any_stack_fixture,  # noqa: F401
    checkout_body,
)

K = 8


def test_concurrent_identical_checkouts_charge_once(any_stack):
    s = any_stack()
    base_url = str(s.client.base_url)
    body = checkout_body()
    barrier = threading.Barrier(K)
    headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "k1"}

    def attempt(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=60) as own:
            barrier.wait()
            return own.post("/v1/checkouts", json=body, headers=headers)

    with ThreadPoolExecutor(K) as pool:
        responses = list(pool.map(attempt, range(K)))

    originals = [r for r in responses if r.status_code == 201 and REPLAYED_HEADER not in r.headers]
    assert len(originals) == 1, [(r.status_code, r.text) for r in responses]
    for response in responses:
        if response is not originals[0]:
            assert response.status_code == 409 or (
                response.headers.get(REPLAYED_HEADER) == "true"
                and response.content == originals[0].content
            ), (response.status_code, response.text)
    with reading(s.orch.engine) as conn:
        assert len(conn.execute(checkouts.select()).all()) == 1
    assert len(s.payments("authorization")) == 1
    assert len(s.rows("order", order.orders)) == 1
    # Two workers racing over the same outbox still capture once.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: process_outbox(s.orch), range(2)))
    assert len(s.payments("capture")) == 1
