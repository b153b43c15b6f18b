"""The fault layer: seeded decisions, each fault's effect on the service, no real sleeping."""

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI, Request

from checkout_service.orchestrator.clients import InProcessTransport
from testdata.faults import (
    CrashHook,
    FaultLog,
    FaultPlan,
    FaultTransport,
    OrchestratorCrash,
    StepFaults,
    step_of,
)


def counting_app() -> tuple[FastAPI, list[str]]:
    """A service that records each request it executed."""
    app = FastAPI()
    executed: list[str] = []

    @app.post("/v1/things")
    def create(request: Request) -> dict[str, str]:
        executed.append(request.headers["Idempotency-Key"])
        return {"ok": "yes"}

    return app, executed


def client_for(plan: FaultPlan, log: FaultLog, **kwargs) -> tuple[httpx.Client, list[str]]:
    app, executed = counting_app()
    transport = FaultTransport(InProcessTransport(app), "svc", plan, log, **kwargs)
    return httpx.Client(base_url="http://svc.internal", transport=transport), executed


def post(client: httpx.Client, key: str) -> httpx.Response:
    return client.post("/v1/things", json={}, headers={"Idempotency-Key": key})


def test_a_lost_response_comes_after_the_service_executed():
    plan = FaultPlan(seed=1, steps={"*": StepFaults(lose_response=1.0)}, faulty_attempts=1)
    log = FaultLog()
    client, executed = client_for(plan, log)
    with pytest.raises(httpx.ReadTimeout):
        post(client, "chk_1:order")
    assert executed == ["chk_1:order"]
    # Past the faulty attempts the same key gets through.
    assert post(client, "chk_1:order").status_code == 200
    assert executed == ["chk_1:order", "chk_1:order"]
    assert [f.kind for f in log.faults] == ["lose_response"]


def test_a_failure_before_processing_never_reaches_the_service():
    plan = FaultPlan(seed=1, steps={"order": StepFaults(fail_before=1.0)}, faulty_attempts=2)
    log = FaultLog()
    client, executed = client_for(plan, log)
    for _ in range(2):
        with pytest.raises(httpx.ConnectError):
            post(client, "chk_1:order")
    assert executed == []
    # Other steps are not configured, so they pass.
    assert post(client, "chk_1:tax").status_code == 200
    assert post(client, "chk_1:order").status_code == 200
    assert log.count("fail_before") == 2


def test_latency_is_recorded_and_handed_to_the_clock_not_slept():
    plan = FaultPlan(seed=1, steps={"*": StepFaults(latency=1.0, latency_ms=2500)})
    log = FaultLog()
    advanced: list[timedelta] = []
    client, executed = client_for(plan, log, on_delay=advanced.append)
    assert post(client, "chk_1:order").status_code == 200
    assert executed == ["chk_1:order"]
    assert advanced == [timedelta(milliseconds=2500)]
    assert log.delay == timedelta(milliseconds=2500)


def test_the_same_seed_gives_the_same_faults():
    steps = {"*": StepFaults(lose_response=0.3, fail_before=0.3, latency=0.3)}

    def run(seed: int) -> list[tuple[str, int, str]]:
        log = FaultLog()
        client, _ = client_for(FaultPlan(seed=seed, steps=steps), log)
        for n in range(40):
            for _ in range(3):
                try:
                    post(client, f"chk_{n}:order")
                    break
                except httpx.TransportError:
                    continue
        return [(f.key, f.attempt, f.kind) for f in log.faults]

    first = run(11)
    assert first and run(11) == first
    assert run(12) != first


def test_lookups_pass_untouched():
    plan = FaultPlan(seed=1, steps={"*": StepFaults(fail_before=1.0)})
    app = FastAPI()

    @app.get("/v1/operations/{key}")
    def lookup(key: str) -> dict[str, str]:
        return {"key": key}

    transport = FaultTransport(InProcessTransport(app), "svc", plan, FaultLog())
    with httpx.Client(base_url="http://svc.internal", transport=transport) as client:
        assert client.get("/v1/operations/chk_1:order").status_code == 200


def test_a_crash_fires_once_per_checkout_and_point():
    plan = FaultPlan(seed=3, steps={"order": StepFaults(crash_after=1.0)})
    log = FaultLog()
    hook = CrashHook(plan, log)
    hook("chk_1", "tax_quoted")  # no crash configured for tax
    with pytest.raises(OrchestratorCrash):
        hook("chk_1", "order_created")
    hook("chk_1", "order_created")  # the resumed saga goes on
    assert log.count("crash") == 1


def test_the_step_is_read_from_the_key():
    assert step_of("chk_1:payment.authorize") == "payment.authorize"
    assert step_of("chk_1:payment.authorize:retry-1") == "payment.authorize"
    assert step_of("no-step") == "*"
