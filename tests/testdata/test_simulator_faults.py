"""The fault layer: seeded decisions, each fault's effect on the service, no real sleeping; and
the payment provider's faults: which captures they may take."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

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
from testdata.simulator.profiles import ProviderFaults
from testdata.simulator.provider import provider_report


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


# -- the provider's faults: which captures they may take ------------------------------------------

DAY = date(2026, 3, 10)


def paid(checkout_id: str, at: datetime, *kinds: str) -> list[dict]:
    """Payment rows of one checkout: an authorization, then `kinds` (capture, refund, void)."""
    rows = []
    for n, kind in enumerate(("authorization", *kinds)):
        payment_id = f"pay_{checkout_id}_{n}"
        rows.append(
            {
                "payment_id": payment_id,
                "checkout_id": checkout_id,
                "kind": kind,
                "status": "succeeded",
                "amount_minor": 2_500,
                "currency": "EUR",
                "created_at": at + timedelta(seconds=n),
                "psp_reference": f"psp_{payment_id}",
            }
        )
    return rows


def injected(payments, faults, ground_truth=(), seed="1"):
    return provider_report(
        payments,
        DAY,
        tag="20260310-0",
        seed=seed,
        faults=faults,
        checkouts=len({p["checkout_id"] for p in payments}),
        ground_truth=ground_truth,
    )


def morning(hour: int) -> datetime:
    return datetime.combine(DAY, time(hour), UTC)


def test_a_provider_without_faults_settles_every_capture_and_refund_once():
    payments = paid("chk_a", morning(9), "capture") + paid(
        "chk_b", morning(15), "capture", "refund"
    )
    report, anomalies = injected(payments, ProviderFaults())
    assert anomalies == []
    settled = Counter((line["psp_reference"], line["line_type"]) for line in report.lines)
    assert settled == {
        ("psp_pay_chk_a_1", "charge"): 1,
        ("psp_pay_chk_b_1", "charge"): 1,
        ("psp_pay_chk_b_2", "refund"): 1,
        (None, "fee"): 5,
    }
    assert report.shortfalls == {}


def test_provider_faults_take_only_clean_captures_each_once():
    payments = (
        paid("chk_refunded", morning(8), "capture", "refund")
        + paid("chk_twice", morning(8), "capture", "capture")
        + paid("chk_charged_twice", morning(8), "capture")
        + paid("chk_browser", morning(8), "capture")
        + [p for n in range(12) for p in paid(f"chk_{n:02d}", morning(13), "capture")]
    )
    truth = [("chk_charged_twice", "duplicate_charge"), ("chk_browser", "unattributed_revenue")]
    report, anomalies = injected(payments, ProviderFaults.each(0.01), truth)
    by_checkout = Counter(checkout_id for checkout_id, *_ in anomalies)
    assert by_checkout[None] == 2 and max(by_checkout.values()) == 2
    touched = {c for c in by_checkout if c is not None}
    assert touched.isdisjoint({"chk_refunded", "chk_twice", "chk_charged_twice"})
    # Only one capture was made before noon: the one that may go unsettled, browser trouble
    # being no payment anomaly.
    unsettled = [c for c, type_, *_ in anomalies if type_ == "capture_not_settled"]
    assert unsettled == ["chk_browser"]
    assert report.charge_lines("psp_pay_chk_browser_1") == []
    types = Counter(type_ for _, type_, *_ in anomalies)
    assert set(types.values()) == {1} and len(types) == 7
    # The chosen captures follow from the seed.
    assert injected(payments, ProviderFaults.each(0.01), truth)[1] == anomalies
    assert injected(payments, ProviderFaults.each(0.01), truth, seed="2")[1] != anomalies


def test_no_capture_goes_unsettled_without_one_made_before_noon():
    payments = [p for n in range(10) for p in paid(f"chk_{n}", morning(12), "capture")]
    _, anomalies = injected(payments, ProviderFaults(not_settled=0.5, fee_overcharged=0.2))
    assert Counter(type_ for _, type_, *_ in anomalies) == {"fee_mismatch": 2}
