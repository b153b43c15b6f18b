"""Everything one orchestrator process works with, kept on `app.state.orchestrator` and passed
to the outbox worker and the recovery function."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import Engine

from checkout_service.db import utcnow
from checkout_service.idempotency import IdempotencyStore
from checkout_service.orchestrator.clients import ServiceClients
from checkout_service.orchestrator.saga import PointHook, SagaRunner
from checkout_service.orchestrator.settings import SERVICE, OrchestratorSettings
from checkout_service.orchestrator.store import SagaStore
from checkout_service.orchestrator.tables import keys, metadata
from checkout_service.services.runtime import IdFactory, new_id, open_store


@dataclass
class Orchestrator:
    settings: OrchestratorSettings
    engine: Engine
    keys: IdempotencyStore
    saga_store: SagaStore
    services: ServiceClients
    runner: SagaRunner
    clock: Callable[[], datetime]

    def close(self) -> None:
        self.services.close()
        self.engine.dispose()


def build_orchestrator(
    settings: OrchestratorSettings | None = None,
    *,
    services: ServiceClients | None = None,
    transport: httpx.BaseTransport | None = None,
    after_point: PointHook | None = None,
    clock: Callable[[], datetime] | None = None,
    ids: IdFactory = new_id,
) -> Orchestrator:
    """`services` replaces the HTTP clients (e.g. `ServiceClients.in_process(apps)`);
    otherwise clients are made from `settings.service_urls`, over `transport` if given (a
    fault-injecting wrapper in tests)."""
    settings = settings or OrchestratorSettings()
    clock = clock or utcnow
    store = open_store(SERVICE, metadata, keys, settings, clock)
    engine = store.engine
    services = services or ServiceClients.from_urls(
        settings.service_urls,
        transport=transport,
        timeout=settings.http_timeout_seconds,
        attempts=settings.call_attempts,
    )
    saga_store = SagaStore(engine, clock, settings.saga_lease, ids)
    runner = SagaRunner(saga_store, services, after_point)
    return Orchestrator(settings, engine, store, saga_store, services, runner, clock)
