"""The checkout service in one process for the simulator: six downstream apps and the
orchestrator, all on one simulated clock, with the fault layer between them.

The services run in-process (`InProcessTransport`), so a simulated day takes seconds; the saga,
idempotency and outbox code paths are the same ones `recon serve` runs over real ports.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from checkout_service.db import DatabaseSettings
from checkout_service.orchestrator.app import create_app
from checkout_service.orchestrator.clients import InProcessTransport, ServiceClients
from checkout_service.orchestrator.runtime import Orchestrator, build_orchestrator
from checkout_service.orchestrator.settings import OrchestratorSettings
from checkout_service.services import fraud, fulfillment, inventory, order, payment, tax
from checkout_service.services.inventory import InventorySettings
from checkout_service.services.runtime import IdFactory, SeededIds, ServiceSettings
from testdata.faults import (
    CrashHook,
    FaultLog,
    FaultPlan,
    FaultTransport,
    OrchestratorCrash,
)

API_KEY = "sk_sim"
MERCHANT = "mer_sim"
# Each downstream request takes this long on the simulated clock, so records of one checkout
# are ordered in time as they happened.
REQUEST_TICK = timedelta(milliseconds=150)


@dataclass
class SimClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class _Ticking(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, clock: SimClock) -> None:
        self.inner = inner
        self.clock = clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.clock.advance(REQUEST_TICK)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Stack:
    clock: SimClock
    apps: dict[str, FastAPI]
    orch: Orchestrator
    client: httpx.Client
    fault_log: FaultLog
    # The IDs of every record the stack creates, the orchestrator's and the services', so the
    # same seed gives the same landing files.
    new_id: IdFactory
    headers: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {API_KEY}"})
    # The unsafe clients' direct connections to the services, opened on first use.
    direct: dict[str, httpx.Client] = field(default_factory=dict)

    def post(self, path: str, key: str, body: Any) -> httpx.Response:
        return self.client.post(path, json=body, headers={**self.headers, "Idempotency-Key": key})

    def service(self, name: str, path: str, key: str, body: Any) -> httpx.Response:
        """A direct call to a downstream service, bypassing the orchestrator and the fault
        layer: how an unsafe client's effects are made."""
        if name not in self.direct:
            self.direct[name] = httpx.Client(
                base_url=f"http://{name}.internal", transport=InProcessTransport(self.apps[name])
            )
        self.clock.advance(REQUEST_TICK)
        return self.direct[name].post(path, json=body, headers={"Idempotency-Key": key})

    def engine(self, name: str):
        return self.apps[name].state.runtime.engine

    def close(self) -> None:
        self.client.close()
        for client in self.direct.values():
            client.close()
        self.orch.close()
        for app in self.apps.values():
            app.state.runtime.engine.dispose()


def build_stack(
    database: DatabaseSettings,
    clock: SimClock,
    plan: FaultPlan,
    stock: dict[str, int],
    *,
    ids_seed: int | str | None = None,
) -> Stack:
    """`ids_seed` seeds the record IDs (the plan's seed when None)."""
    settings = ServiceSettings(database=database)
    ids = SeededIds(plan.seed if ids_seed is None else ids_seed)
    apps = {
        "fraud": fraud.create_app(settings, clock, ids),
        "tax": tax.create_app(settings, clock, ids),
        "inventory": inventory.create_app(
            InventorySettings(database=database, initial_stock=stock), clock, ids
        ),
        "payment": payment.create_app(settings, clock, ids),
        "order": order.create_app(settings, clock, ids),
        "fulfillment": fulfillment.create_app(settings, clock, ids),
    }
    log = FaultLog()
    clients = {
        name: httpx.Client(
            base_url=f"http://{name}.internal",
            transport=FaultTransport(
                _Ticking(InProcessTransport(app), clock), name, plan, log, clock.advance
            ),
        )
        for name, app in apps.items()
    }
    # No backoff sleeps: the fault plan bounds how often a request can fail.
    services = ServiceClients(clients, attempts=3, backoff_seconds=0.0)
    orch = build_orchestrator(
        OrchestratorSettings(database=database, api_keys={API_KEY: MERCHANT}),
        services=services,
        after_point=CrashHook(plan, log),
        clock=clock,
        ids=ids,
    )
    client = httpx.Client(
        base_url="http://orchestrator.internal",
        transport=InProcessTransport(create_app(orchestrator=orch)),
        timeout=30,
    )
    return Stack(clock, apps, orch, client, log, ids)


class _DropInjectedCrashes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], OrchestratorCrash))


@contextmanager
def quiet_injected_crashes() -> Iterator[None]:
    """The orchestrator logs every failed checkout with its traceback; crashes the simulator
    injected on purpose are counted in the summary instead of flooding the log."""
    logger = logging.getLogger("checkout_service.orchestrator.app")
    dropper = _DropInjectedCrashes()
    logger.addFilter(dropper)
    try:
        yield
    finally:
        logger.removeFilter(dropper)
