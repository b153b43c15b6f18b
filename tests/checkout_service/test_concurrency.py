"""Exactly-once under concurrency: K identical requests at the same moment give one side effect
and K−1 answers that are 409 (in flight / retry) or replays, on SQLite and on PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from checkout_service.db import create_service_engine, create_tables
from checkout_service.idempotency import REPLAYED_HEADER, IdempotencyStore, fingerprint
from checkout_service.services import inventory, payment
from checkout_service.services.inventory import InventorySettings
from checkout_service.services.runtime import ServiceSettings

K = 8


def test_concurrent_identical_authorizations_charge_once(backend, start):
    app = payment.create_app(ServiceSettings(database=backend))
    client = start(app)
    base_url = str(client.base_url)
    body = {"checkout_id": "chk_1", "amount_minor": 4990, "currency": "EUR", "payment_token": "tok"}
    barrier = threading.Barrier(K)

    def attempt(_: int) -> httpx.Response:
        # One connection per thread, like K independent clients retrying at once.
        with httpx.Client(base_url=base_url, timeout=60) as own:
            barrier.wait()
            return own.post(
                "/v1/authorizations",
                json=body,
                headers={"Idempotency-Key": "chk_1:payment.authorize"},
            )

    with ThreadPoolExecutor(K) as pool:
        responses = list(pool.map(attempt, range(K)))

    with app.state.runtime.engine.connect() as conn:
        charges = conn.execute(select(func.count()).select_from(payment.payments)).scalar_one()
    assert charges == 1
    originals = [r for r in responses if r.status_code == 201 and REPLAYED_HEADER not in r.headers]
    others = [r for r in responses if r not in originals]
    assert len(originals) == 1
    assert len(others) == K - 1
    for response in others:
        assert response.status_code == 409 or (
            response.headers.get(REPLAYED_HEADER) == "true"
            and response.content == originals[0].content
        ), (response.status_code, response.text)
    # The outcome is settled: a retry now is a replay of the one charge.
    replay = client.post(
        "/v1/authorizations", json=body, headers={"Idempotency-Key": "chk_1:payment.authorize"}
    )
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert replay.content == originals[0].content


def test_racing_processes_take_the_lock_once(backend):
    """K independent engines (as K processes would have) race `begin` on one key: the unique
    constraint lets exactly one INSERT win."""
    engines = [create_service_engine("testsvc", backend) for _ in range(K)]
    create_tables(engines[0], payment.metadata)
    stores = [IdempotencyStore(engine, payment.keys) for engine in engines]
    fp = fingerprint("POST", "/v1/authorizations", {"amount_minor": 1})
    barrier = threading.Barrier(K)

    def attempt(store: IdempotencyStore) -> str:
        barrier.wait()
        return store.begin("orchestrator", "chk_1:payment.authorize", fp).kind

    try:
        with ThreadPoolExecutor(K) as pool:
            kinds = list(pool.map(attempt, stores))
    finally:
        for engine in engines:
            engine.dispose()
    assert kinds.count("acquired") == 1
    assert set(kinds) <= {"acquired", "in_flight", "busy"}


def race(base_url: str, requests: list[tuple[str, str, dict]]) -> list[httpx.Response]:
    """Send (path, key, body) requests at the same moment, one client each."""
    barrier = threading.Barrier(len(requests))

    def attempt(request: tuple[str, str, dict]) -> httpx.Response:
        path, key, body = request
        with httpx.Client(base_url=base_url, timeout=60) as own:
            barrier.wait()
            return own.post(path, json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(attempt, requests))


def test_concurrent_captures_under_different_keys_never_exceed_the_authorization(backend, start):
    app = payment.create_app(ServiceSettings(database=backend))
    client = start(app)
    body = {"checkout_id": "chk_1", "amount_minor": 1000, "currency": "EUR", "payment_token": "t"}
    auth = client.post("/v1/authorizations", json=body, headers={"Idempotency-Key": "chk_1:auth"})
    path = f"/v1/authorizations/{auth.json()['payment_id']}/captures"
    # Unsafe retries: each with a fresh key, each asking for the whole amount.
    requests = [(path, f"chk_1:capture-{i}", {"amount_minor": 1000}) for i in range(K)]
    responses = race(str(client.base_url), requests)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1
    assert set(statuses) <= {201, 409, 422}
    with app.state.runtime.engine.connect() as conn:
        captured = conn.execute(
            select(func.coalesce(func.sum(payment.payments.c.amount_minor), 0)).where(
                payment.payments.c.kind == "capture"
            )
        ).scalar_one()
    assert captured == 1000


def test_concurrent_reservations_never_oversell(backend, start):
    settings = InventorySettings(database=backend, initial_stock={"LAST": 1})
    client = start(inventory.create_app(settings))
    lines = [{"sku": "LAST", "quantity": 1}]
    requests = [
        ("/v1/reservations", f"c{i}:inventory.reserve", {"checkout_id": f"c{i}", "lines": lines})
        for i in range(K)
    ]
    responses = race(str(client.base_url), requests)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1
    assert set(statuses) <= {201, 409}
    level = client.get("/v1/stock/LAST").json()
    assert (level["on_hand"], level["reserved"]) == (1, 1)
