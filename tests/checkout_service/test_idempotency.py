"""The idempotency layer, each answer of docs/service-api.md's Idempotency-Key table, over real
HTTP and real databases.

A small app uses the layer the way the services do; its fault header (`X-Fault`) is not part of
the fingerprint, like the tracing and fault-injection headers of the real system, so a retry
without the fault is the same request.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.engine import Connection

from checkout_service import idempotency
from checkout_service.db import DatabaseSettings, create_service_engine, create_tables
from checkout_service.idempotency import (
    REPLAYED_HEADER,
    Idempotency,
    IdempotencyKey,
    IdempotencyStore,
    Outcome,
    fingerprint,
)
from checkout_service.problems import install_problem_handler

metadata = MetaData()
keys = idempotency.define_table(metadata)
effects = Table(
    "effects",
    metadata,
    Column("effect_id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(255), nullable=False),
    Column("value", String(255), nullable=False),
)
uniques = Table("uniques", metadata, Column("value", String(255), primary_key=True))

PROBLEM = "application/problem+json"


class EffectRequest(BaseModel):
    value: str


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def make_app(settings: DatabaseSettings, store_clock: Clock | None = None) -> FastAPI:
    engine = create_service_engine("testsvc", settings)
    create_tables(engine, metadata)
    store = IdempotencyStore(engine, keys, clock=store_clock or Clock())
    layer = Idempotency(store, scope=lambda request: request.headers.get("X-Api-Key", "anon"))
    app = FastAPI()
    install_problem_handler(app)
    app.include_router(layer.router())
    app.state.blocked = threading.Event()
    app.state.unblock = threading.Event()

    class Runtime:  # what the `start` fixture disposes
        pass

    app.state.runtime = Runtime()
    app.state.runtime.engine = engine
    app.state.store = store

    @app.post("/v1/effects")
    def create_effect(
        body: EffectRequest,
        key: IdempotencyKey,
        request: Request,
        x_fault: str | None = Header(default=None),
    ) -> Response:
        def handler(conn: Connection) -> Outcome:
            conn.execute(insert(effects).values(idempotency_key=key, value=body.value))
            if x_fault == "boom":
                raise RuntimeError("injected failure after the write")
            if x_fault == "unique-race":
                conn.execute(insert(uniques).values(value="taken"))
            if x_fault == "block":
                app.state.blocked.set()
                assert app.state.unblock.wait(timeout=30)
            if body.value.startswith("decline"):
                return Outcome(402, {"declined": True, "failure_code": "card_declined"})
            return Outcome(201, {"value": body.value, "key": key})

        return layer.execute(request, key, body, handler)

    return app


def count_effects(app: FastAPI) -> int:
    with app.state.runtime.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(effects)).scalar_one()


@contextmanager
def direct_store(backend: DatabaseSettings, clock: Clock, **options) -> Iterator:
    """The store on its own, without an app: (engine, store), the engine disposed after."""
    engine = create_service_engine("testsvc", backend)
    create_tables(engine, metadata)
    try:
        yield engine, IdempotencyStore(engine, keys, clock=clock, **options)
    finally:
        engine.dispose()


@pytest.fixture
def app(backend) -> FastAPI:
    return make_app(backend)


def post(client, key: str | None, value: str = "a", **headers: str):
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/effects", json={"value": value}, headers=headers)


def test_missing_key_is_400_problem_even_with_an_invalid_body(sqlite_db, start):
    client = start(make_app(sqlite_db))
    response = client.post("/v1/effects", json={"wrong": 1})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == 400


@pytest.mark.parametrize("bad_key", ["", "has space", "x" * 256, 'a"b', "é"])
def test_malformed_key_is_400(sqlite_db, start, bad_key):
    client = start(make_app(sqlite_db))
    # Non-ASCII is sent as raw UTF-8 bytes, as a careless client would.
    headers = {"Idempotency-Key": bad_key.encode()}
    response = client.post("/v1/effects", json={"value": "a"}, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


def test_quoted_key_of_the_ietf_draft_is_the_same_key(sqlite_db, start):
    app = make_app(sqlite_db)
    client = start(app)
    assert post(client, '"k-1"').status_code == 201
    replay = post(client, "k-1")
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert count_effects(app) == 1


def test_replay_returns_identical_status_and_body_with_the_replay_header(app, start):
    client = start(app)
    first = post(client, "k-1", traceparent="00-aaa-bbb-01")
    assert first.status_code == 201
    assert REPLAYED_HEADER not in first.headers
    # Different tracing headers: still the same request.
    again = post(client, "k-1", traceparent="00-ccc-ddd-01", **{"X-Fault": "none"})
    assert again.status_code == 201
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.content == first.content
    assert count_effects(app) == 1


def test_same_key_different_payload_is_422_and_not_stored(app, start):
    client = start(app)
    assert post(client, "k-1", "a").status_code == 201
    response = post(client, "k-1", "b")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert count_effects(app) == 1
    assert post(client, "k-1", "a").headers[REPLAYED_HEADER] == "true"


def test_invalid_body_is_422_problem_and_not_stored(app, start):
    client = start(app)
    invalid = client.post("/v1/effects", json={"value": 3}, headers={"Idempotency-Key": "k-1"})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == PROBLEM
    assert invalid.json()["errors"]
    # Validation comes before execution: the key was never taken, a corrected retry runs.
    assert post(client, "k-1").status_code == 201


def test_keys_are_scoped_by_caller(app, start):
    client = start(app)
    assert post(client, "k-1", **{"X-Api-Key": "merchant-a"}).status_code == 201
    other = post(client, "k-1", **{"X-Api-Key": "merchant-b"})
    assert other.status_code == 201
    assert REPLAYED_HEADER not in other.headers
    assert count_effects(app) == 2


def test_decline_402_is_stored_and_replayed(app, start):
    client = start(app)
    first = post(client, "k-1", "decline-me")
    assert first.status_code == 402
    replay = post(client, "k-1", "decline-me")
    assert (replay.status_code, replay.content) == (402, first.content)
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert count_effects(app) == 1  # the decline's own record, written once


def test_unexpected_error_is_500_not_stored_and_a_retry_succeeds(app, start):
    client = start(app)
    failed = post(client, "k-1", **{"X-Fault": "boom"})
    assert failed.status_code == 500
    assert failed.headers["content-type"] == PROBLEM
    assert count_effects(app) == 0  # the write before the failure was rolled back
    assert client.get("/v1/operations/k-1").status_code == 404  # lock released, nothing kept
    retry = post(client, "k-1")
    assert retry.status_code == 201
    assert REPLAYED_HEADER not in retry.headers
    assert count_effects(app) == 1


def test_unique_constraint_race_is_409_retry_with_same_key_and_lock_released(app, start):
    client = start(app)
    with app.state.runtime.engine.begin() as conn:
        conn.execute(insert(uniques).values(value="taken"))
    raced = post(client, "k-1", **{"X-Fault": "unique-race"})
    assert raced.status_code == 409
    assert raced.json()["type"].endswith("idempotency-retry")
    assert count_effects(app) == 0
    assert client.get("/v1/operations/k-1").status_code == 404
    assert post(client, "k-1").status_code == 201


def test_same_key_while_in_flight_is_409_then_the_first_completes(backend, start):
    # On SQLite the first request's transaction holds the single write lock, so the second one
    # waits out the busy timeout before it reads the key row (kept short here).
    app = make_app(backend.model_copy(update={"sqlite_busy_timeout_ms": 200}))
    client = start(app)
    results = {}

    def first_request() -> None:
        results["first"] = post(client, "k-1", **{"X-Fault": "block"})

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert app.state.blocked.wait(timeout=30), "the first request never reached its handler"
        in_flight = post(client, "k-1")
        assert in_flight.status_code == 409
        assert in_flight.headers["content-type"] == PROBLEM
        assert in_flight.json()["type"].endswith("idempotency-request-in-flight")
        lookup = client.get("/v1/operations/k-1").json()
        assert lookup["state"] == "in_flight"
        # A different payload is refused as such even while in flight.
        assert post(client, "k-1", "other").status_code == 422
    finally:
        app.state.unblock.set()
        thread.join(timeout=30)
    assert results["first"].status_code == 201
    replay = post(client, "k-1")
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert replay.content == results["first"].content
    assert count_effects(app) == 1


def test_operation_lookup_returns_the_stored_outcome(app, start):
    client = start(app)
    first = post(client, "k-1")
    lookup = client.get("/v1/operations/k-1")
    assert lookup.status_code == 200
    answer = lookup.json()
    assert (answer["state"], answer["status_code"], answer["body"]) == (
        "completed",
        201,
        first.json(),
    )
    assert client.get("/v1/operations/unknown").status_code == 404


def test_a_stale_lock_is_taken_over_and_its_holder_can_no_longer_complete(backend):
    clock = Clock()
    fp = fingerprint("POST", "/v1/effects", {"value": "a"})
    with direct_store(backend, clock, lock_timeout=timedelta(seconds=30)) as (engine, store):
        first = store.begin("s", "k", fp)
        assert first.kind == "acquired"
        assert store.begin("s", "k", fp).kind == "in_flight"
        clock.now += timedelta(seconds=31)
        second = store.begin("s", "k", fp)
        assert second.kind == "acquired"
        stale = idempotency.StoredResponse(201, b"{}")
        with engine.begin() as conn:
            assert not store.complete(conn, first.lock, stale)
        with engine.begin() as conn:
            assert store.complete(conn, second.lock, idempotency.StoredResponse(201, b'{"ok":1}'))
        replay = store.begin("s", "k", fp)
        assert (replay.kind, replay.response.body) == ("replay", b'{"ok":1}')


def test_retention_expires_keys_and_purge_deletes_them(backend):
    clock = Clock()
    fp = fingerprint("POST", "/v1/effects", {"value": "a"})
    with direct_store(backend, clock, retention=timedelta(hours=24)) as (engine, store):
        for key in ("old", "young"):
            lock = store.begin("s", key, fp).lock
            with engine.begin() as conn:
                store.complete(conn, lock, idempotency.StoredResponse(201, b"{}"))
            clock.now += timedelta(hours=12)
        clock.now += timedelta(hours=1)  # "old" is 25 h old, "young" 13 h
        assert store.purge() == 1
        assert store.get("s", "old") is None
        assert store.get("s", "young") is not None
        # Past its retention a key is new again, even before the purge ran.
        clock.now += timedelta(hours=12)
        assert store.begin("s", "young", fp).kind == "acquired"


def test_a_fenced_key_refuses_the_request_that_arrives_late(app, start):
    client = start(app)
    fenced = client.post("/v1/operations/k-1/fence")
    assert fenced.status_code == 200
    assert fenced.json()["state"] == "fenced"
    late = post(client, "k-1")
    assert (late.status_code, late.headers["content-type"]) == (409, PROBLEM)
    assert late.json()["type"].endswith("idempotency-key-fenced")
    assert count_effects(app) == 0
    # Fencing again, or looking the key up, says the same; other keys are untouched.
    assert client.post("/v1/operations/k-1/fence").json()["state"] == "fenced"
    assert client.get("/v1/operations/k-1").json()["state"] == "fenced"
    assert post(client, "k-2").status_code == 201


def test_fencing_a_key_that_ran_answers_its_outcome_and_changes_nothing(app, start):
    client = start(app)
    first = post(client, "k-1")
    fenced = client.post("/v1/operations/k-1/fence").json()
    assert (fenced["state"], fenced["status_code"], fenced["body"]) == (
        "completed",
        201,
        first.json(),
    )
    assert post(client, "k-1").headers[REPLAYED_HEADER] == "true"
    assert count_effects(app) == 1


def test_a_malformed_key_cannot_be_fenced(sqlite_db, start):
    client = start(make_app(sqlite_db))
    response = client.post("/v1/operations/has space/fence")
    assert (response.status_code, response.headers["content-type"]) == (400, PROBLEM)


def test_a_live_request_cannot_be_fenced_and_a_stale_one_is_fenced_out(backend):
    clock = Clock()
    fp = fingerprint("POST", "/v1/effects", {"value": "a"})
    with direct_store(backend, clock, lock_timeout=timedelta(seconds=30)) as (engine, store):
        holder = store.begin("s", "k", fp)
        with pytest.raises(idempotency.KeyInFlight):
            store.fence("s", "k")
        clock.now += timedelta(seconds=31)
        assert store.fence("s", "k") is None
        # The holder outlived its lock: it can no longer complete, and a retry is refused.
        with engine.begin() as conn:
            assert not store.complete(conn, holder.lock, idempotency.StoredResponse(201, b"{}"))
        assert store.begin("s", "k", fp).kind == "fenced"
