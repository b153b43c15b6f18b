"""Fault injection between the orchestrator and the downstream services.

`FaultTransport` wraps the httpx transport of one service's client and, per step, loses the
answer after the service executed (an ambiguous timeout), fails the request before it reaches
the service, or adds latency. `CrashHook` is the saga's after-point hook: it stops the
orchestrator between steps, as a killed process would.

Every decision is a hash of the run's seed and the request's identity (service, step key,
attempt), never a shared RNG draw: the same seed gives the same faults whatever the order or
number of other requests, so a dataset and its faults regenerate exactly.
"""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from pydantic import BaseModel, Field

from checkout_service.idempotency import KEY_HEADER

Rate = float


class StepFaults(BaseModel):
    """Rates (0..1) per downstream request of one step."""

    lose_response: Rate = Field(default=0.0, ge=0, le=1)
    fail_before: Rate = Field(default=0.0, ge=0, le=1)
    latency: Rate = Field(default=0.0, ge=0, le=1)
    latency_ms: int = Field(default=800, ge=0)
    # Crash the orchestrator right after this step's recovery point commits.
    crash_after: Rate = Field(default=0.0, ge=0, le=1)


class FaultPlan(BaseModel):
    """Fault rates by step (`payment.authorize`, `order`, ...; `*` for any other step).

    Only the first `faulty_attempts` attempts of a request are faulted, so a client retrying
    with the same key always gets through eventually: faults test recovery, not patience."""

    seed: int
    steps: dict[str, StepFaults] = Field(default_factory=dict)
    faulty_attempts: int = Field(default=2, ge=0)

    def for_step(self, step: str) -> StepFaults:
        return self.steps.get(step) or self.steps.get("*") or StepFaults()

    def draw(self, *parts: object) -> float:
        """A uniform number in [0, 1) fixed by the seed and `parts`."""
        text = "\x1f".join(str(p) for p in (self.seed, *parts))
        digest = hashlib.sha256(text.encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class InjectedFault:
    service: str
    key: str
    attempt: int
    # lose_response | fail_before | latency | crash
    kind: str
    delay_ms: int = 0


@dataclass
class FaultLog:
    """What was injected, in order; latency is recorded here (and handed to `on_delay`, which
    may advance a simulated clock) rather than slept."""

    faults: list[InjectedFault] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.faults if f.kind == kind)

    @property
    def delay(self) -> timedelta:
        return timedelta(milliseconds=sum(f.delay_ms for f in self.faults))


# `{checkout_id}:{step}` → the step; keys from unsafe clients may carry a suffix.
_KEY = re.compile(r"^[^:]+:(?P<step>[^:]+)")


def step_of(key: str) -> str:
    match = _KEY.match(key)
    return match.group("step") if match else "*"


class FaultTransport(httpx.BaseTransport):
    """Faults for the POSTs (the effects) of one service. Lookups (`GET /v1/operations/...`)
    pass untouched: they are how the orchestrator resolves an ambiguous outcome."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        service: str,
        plan: FaultPlan,
        log: FaultLog,
        on_delay: Callable[[timedelta], None] | None = None,
    ) -> None:
        self.inner = inner
        self.service = service
        self.plan = plan
        self.log = log
        self.on_delay = on_delay
        self.attempts: dict[str, int] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get(KEY_HEADER)
        if request.method != "POST" or key is None:
            return self.inner.handle_request(request)
        attempt = self.attempts.get(key, 0)
        self.attempts[key] = attempt + 1
        if attempt >= self.plan.faulty_attempts:
            return self.inner.handle_request(request)
        rates = self.plan.for_step(step_of(key))
        ident = (self.service, key, attempt)
        if self.plan.draw(*ident, "latency") < rates.latency:
            self._record(key, attempt, "latency", rates.latency_ms)
        if self.plan.draw(*ident, "fail_before") < rates.fail_before:
            self._record(key, attempt, "fail_before")
            raise httpx.ConnectError("injected: request not delivered", request=request)
        response = self.inner.handle_request(request)
        if self.plan.draw(*ident, "lose_response") < rates.lose_response:
            response.read()
            response.close()
            self._record(key, attempt, "lose_response")
            raise httpx.ReadTimeout("injected: response lost", request=request)
        return response

    def _record(self, key: str, attempt: int, kind: str, delay_ms: int = 0) -> None:
        self.log.faults.append(InjectedFault(self.service, key, attempt, kind, delay_ms))
        if delay_ms and self.on_delay is not None:
            self.on_delay(timedelta(milliseconds=delay_ms))

    def close(self) -> None:
        self.inner.close()


class OrchestratorCrash(RuntimeError):
    """Raised by `CrashHook`: the orchestrator process 'dies' after a recovery point."""


# Recovery points after which a crash leaves work for a retry or `recover` to finish.
_POINT_STEP = {
    "fraud_screened": "fraud",
    "tax_quoted": "tax",
    "inventory_reserved": "inventory.reserve",
    "payment_authorized": "payment.authorize",
    "order_created": "order",
    "finished": "inventory.commit",
}


class CrashHook:
    """The saga's `after_point` hook: crash after a step's recovery point at the step's
    `crash_after` rate, at most once per (checkout, point), so the resumed saga goes on."""

    def __init__(self, plan: FaultPlan, log: FaultLog) -> None:
        self.plan = plan
        self.log = log
        self.fired: set[tuple[str, str]] = set()

    def __call__(self, checkout_id: str, point: str) -> None:
        step = _POINT_STEP.get(point)
        if step is None or (checkout_id, point) in self.fired:
            return
        if self.plan.draw("crash", checkout_id, point) < self.plan.for_step(step).crash_after:
            self.fired.add((checkout_id, point))
            self.log.faults.append(InjectedFault("orchestrator", checkout_id, 0, "crash"))
            raise OrchestratorCrash(f"injected crash after {point} of {checkout_id}")
