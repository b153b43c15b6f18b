"""Chaos: safe clients check out against the service's real processes while components are
killed with SIGKILL and restarted; then the worker drains, and `audit` proves from the services'
own databases that nothing was lost or doubled.

`recon chaos` runs it (a soak when given large counts); `tests/e2e/test_chaos.py` runs a bounded
one on SQLite and PostgreSQL in CI.
"""

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, Select, func, select

from checkout_service.db import create_service_engine, reading
from checkout_service.orchestrator import tables as orch_tables
from checkout_service.orchestrator.settings import SERVICE
from checkout_service.serve import COMPONENTS, Stack, StackSettings, run_worker
from checkout_service.services import fulfillment, inventory, order, payment

TERMINAL = frozenset({"completed", "failed", "cancelled"})
CATALOGUE = {"SKU-TEE": 1990, "SKU-MUG": 1250, "SKU-CAP": 2400}
# Answers after which a safe client stops: the request was decided, one way or the other.
FINAL = frozenset({200, 201, 400, 402, 404, 422})


@dataclass(frozen=True)
class ChaosPlan:
    # At least this many; clients go on while kills remain, so every kill hits a live load.
    checkouts: int = 30
    clients: int = 4
    kills: int = 6
    seed: int = 0
    # Seconds between kills, drawn uniformly; the first comes after one gap.
    gap: tuple[float, float] = (0.5, 2.0)
    # Share of completed checkouts the client then cancels.
    cancel_share: float = 0.2
    # How long a client keeps retrying one request before giving it up to the worker.
    patience_seconds: float = 60.0
    # How long the drain may take once the load is over.
    drain_seconds: float = 120.0


@dataclass
class ChaosResult:
    sent: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    kills: list[str] = field(default_factory=list)
    abandoned: int = 0
    violations: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    # Seconds spent starting the processes, under load, and draining.
    phases: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        return "\n".join(
            [
                "seconds: " + ", ".join(f"{p} {s:.1f}" for p, s in self.phases.items()),
                f"checkouts sent: {self.sent}",
                "answers: " + ", ".join(f"{c}×{n}" for c, n in sorted(self.answers.items())),
                f"kills: {len(self.kills)} ({', '.join(sorted(set(self.kills))) or 'none'})",
                f"requests given up to the worker: {self.abandoned}",
                "checkouts: " + ", ".join(f"{s} {n}" for s, n in sorted(self.statuses.items())),
                f"violations: {len(self.violations)}",
                *(f"  - {v}" for v in self.violations),
            ]
        )


def checkout_body(rng: random.Random, index: int) -> dict[str, Any]:
    draw = rng.random()
    token = "tok_visa"
    if draw < 0.1:
        token = "tok_decline_card_declined"
    elif draw < 0.15:
        token = "tok_fraud_stolen"
    skus = rng.sample(sorted(CATALOGUE), rng.randint(1, 2))
    return {
        "lines": [
            {"sku": sku, "quantity": rng.randint(1, 3), "unit_price_minor": CATALOGUE[sku]}
            for sku in skus
        ],
        "customer": {"id": f"cus_chaos_{index:05d}"},
        "currency": "EUR",
        "payment_token": token,
        "client_context": {"utm_source": "newsletter"} if rng.random() < 0.5 else None,
    }


def safe_request(
    client: httpx.Client, path: str, key: str, body: dict[str, Any], patience: float
) -> httpx.Response | None:
    """POST with the same key until the answer is final; None once `patience` runs out (the
    worker then finishes what the request started). Connection errors, 5xx and 409 (in flight)
    all mean "not decided yet": the same key makes the retry safe."""
    deadline = time.monotonic() + patience
    delay = 0.1
    while True:
        try:
            response = client.post(path, json=body, headers={"Idempotency-Key": key})
            if response.status_code in FINAL:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() + delay > deadline:
            return None
        time.sleep(delay)  # backoff between retries, as a real client would
        delay = min(delay * 2, 1.0)


def run_chaos(settings: StackSettings, plan: ChaosPlan, out: Callable[[str], None]) -> ChaosResult:
    """Start every component, drive the load while killing, drain, audit."""
    stack = Stack.of(settings)
    out(f"starting {len(stack.components)} processes")
    result = ChaosResult()
    clock = time.monotonic()
    stack.start()
    result.phases["start"] = time.monotonic() - clock
    try:
        stop = threading.Event()
        killer = threading.Thread(target=_kill_loop, args=(stack, plan, stop, result, out))
        killer.start()
        try:
            _drive(settings, plan, result, out, killing=killer.is_alive)
        finally:
            stop.set()
            killer.join()
        for name, component in stack.components.items():
            if not component.alive():
                stack.restart(name)
        result.phases["load"] = time.monotonic() - clock - result.phases["start"]
        out("load over; draining")
        _drain(settings, plan.drain_seconds)
        result.phases["drain"] = time.monotonic() - clock - sum(result.phases.values())
    finally:
        stack.stop()
    result.statuses, result.violations = audit(settings)
    return result


def _drive(
    settings: StackSettings,
    plan: ChaosPlan,
    result: ChaosResult,
    out: Callable[[str], None],
    killing: Callable[[], bool],
) -> None:
    api_key = next(iter(settings.api_keys))
    lock = threading.Lock()

    def next_number() -> int | None:
        if result.sent >= plan.checkouts and not killing():
            return None
        result.sent += 1
        return result.sent - 1

    def client() -> None:
        with httpx.Client(
            base_url=settings.url_of(SERVICE),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=settings.http_timeout_seconds * 4,
        ) as http:
            while True:
                with lock:
                    index = next_number()
                if index is None:
                    return
                _one_checkout(http, plan, index, result, lock)
                if (index + 1) % 10 == 0:
                    out(f"  {index + 1} checkouts sent")

    threads = [threading.Thread(target=client) for _ in range(plan.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _one_checkout(
    http: httpx.Client, plan: ChaosPlan, index: int, result: ChaosResult, lock: threading.Lock
) -> None:
    rng = random.Random(f"chaos:{plan.seed}:{index}")
    key = f"chaos-{plan.seed}-{index:05d}"
    answer = safe_request(
        http, "/v1/checkouts", key, checkout_body(rng, index), plan.patience_seconds
    )
    cancel = rng.random() < plan.cancel_share
    with lock:
        if answer is None:
            result.abandoned += 1
        else:
            result.answers[answer.status_code] += 1
    if answer is None or answer.status_code != 201 or not cancel:
        return
    path = f"/v1/checkouts/{answer.json()['id']}/cancel"
    cancelled = safe_request(http, path, f"{key}-cancel", {}, plan.patience_seconds)
    with lock:
        if cancelled is None:
            result.abandoned += 1


def _kill_loop(
    stack: Stack,
    plan: ChaosPlan,
    stop: threading.Event,
    result: ChaosResult,
    out: Callable[[str], None],
) -> None:
    rng = random.Random(f"kills:{plan.seed}")
    # Every component in turn, in a seeded order: eight kills hit each once.
    order = rng.sample(COMPONENTS, len(COMPONENTS))
    for number in range(plan.kills):
        if stop.wait(rng.uniform(*plan.gap)):
            return
        name = order[number % len(order)]
        started = time.monotonic()
        result.kills.append(name)
        stack.restart(name)
        out(f"  SIGKILL {name}: back in {time.monotonic() - started:.1f} s")


def _drain(settings: StackSettings, seconds: float) -> None:
    """Worker passes until every checkout is terminal and the outbox is empty. Sagas whose
    process was killed stay leased until `saga_lease_seconds` pass, so this waits that long."""
    deadline = time.monotonic() + seconds
    engine = create_service_engine(SERVICE, settings.database())
    try:
        while True:
            run_worker(settings, once=True)
            if _settled(engine) or time.monotonic() > deadline:
                return
            time.sleep(0.5)  # a lease or a retry is due; the next pass picks it up
    finally:
        engine.dispose()


def _settled(engine: Engine) -> bool:
    checkouts, outbox = orch_tables.checkouts, orch_tables.outbox
    with reading(engine) as conn:
        open_sagas = conn.execute(
            select(func.count()).where(checkouts.c.status.not_in(TERMINAL))
        ).scalar_one()
        pending = conn.execute(
            select(func.count()).where(outbox.c.delivered_at.is_(None))
        ).scalar_one()
    return open_sagas == 0 and pending == 0


def audit(settings: StackSettings) -> tuple[Counter[str], list[str]]:
    """Checkout statuses, and every broken promise found in the services' databases."""
    database = settings.database()
    engines = {
        name: create_service_engine(name, database)
        for name in (SERVICE, "payment", "order", "inventory", "fulfillment")
    }
    try:
        with reading(engines[SERVICE]) as conn:
            checkouts = {
                row.checkout_id: row for row in conn.execute(select(orch_tables.checkouts)).all()
            }
            pending = conn.execute(
                select(func.count()).where(orch_tables.outbox.c.delivered_at.is_(None))
            ).scalar_one()
        paid = payment.payments.c.status == "succeeded"
        payments = _read_all(engines["payment"], select(payment.payments).where(paid))
        orders = _read_all(engines["order"], select(order.orders))
        active = inventory.reservations.c.status == "active"
        held = _read_all(engines["inventory"], select(inventory.reservations).where(active))
        shipments = _read_all(engines["fulfillment"], select(fulfillment.fulfillments))
    finally:
        for engine in engines.values():
            engine.dispose()
    statuses = Counter(row.status for row in checkouts.values())
    violations = [f"{pending} outbox event(s) never delivered"] if pending else []
    money = _money_by_checkout(payments)
    orders_of = Counter(row.checkout_id for row in orders if row.status != "cancelled")
    shipped_of = Counter(row.checkout_id for row in shipments if row.status != "cancelled")
    for checkout_id in sorted(set(money) | set(orders_of) | {r.checkout_id for r in held}):
        if checkout_id not in checkouts:
            violations.append(f"{checkout_id}: downstream records of an unknown checkout")
    for checkout_id, row in sorted(checkouts.items()):
        violations += _check_checkout(
            checkout_id,
            row,
            money.get(checkout_id, Counter()),
            orders_of[checkout_id],
            shipped_of[checkout_id],
        )
    violations += [f"{r.checkout_id}: reservation {r.reservation_id} still held" for r in held]
    return statuses, violations


def _read_all(engine: Engine, query: Select) -> list[Any]:
    with reading(engine) as conn:
        return list(conn.execute(query).all())


def _money_by_checkout(payments: list[Any]) -> dict[str, Counter[str]]:
    """Per checkout: how many authorizations and captures succeeded, and the amounts held,
    captured, voided and refunded."""
    money: dict[str, Counter[str]] = {}
    for row in payments:
        tally = money.setdefault(row.checkout_id, Counter())
        tally[row.kind] += 1
        tally[f"{row.kind}_minor"] += row.amount_minor
    return money


def _check_checkout(
    checkout_id: str, row: Any, money: Counter[str], orders: int, shipments: int
) -> list[str]:
    problems = []
    if row.status not in TERMINAL:
        problems.append(f"{checkout_id}: left {row.status} at {row.recovery_point}")
    if money["authorization"] > 1:
        problems.append(f"{checkout_id}: {money['authorization']} authorizations")
    if money["capture"] > 1:
        problems.append(f"{checkout_id}: charged {money['capture']} times")
    kept = money["capture_minor"] - money["refund_minor"]
    held = money["authorization_minor"] - money["capture_minor"] - money["void_minor"]
    if row.status == "completed":
        if money["capture"] != 1 or kept != row.total_minor:
            problems.append(f"{checkout_id}: completed, but {kept} kept of {row.total_minor}")
        if orders != 1:
            problems.append(f"{checkout_id}: completed with {orders} open orders")
        if shipments != 1:
            problems.append(f"{checkout_id}: completed with {shipments} fulfillments")
    elif row.status in ("failed", "cancelled"):
        if kept or (money["capture"] == 0 and held > 0):
            problems.append(f"{checkout_id}: {row.status}, but money kept {kept}, held {held}")
        if orders:
            problems.append(f"{checkout_id}: {row.status} with {orders} open orders")
        if shipments:
            problems.append(f"{checkout_id}: {row.status} with {shipments} fulfillments")
    return problems
