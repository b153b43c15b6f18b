"""The whole checkout over real HTTP: six downstream services and the orchestrator, each under
uvicorn on 127.0.0.1, each with its own database; plus a fault-injecting transport between the
orchestrator and the services.

Import the fixtures explicitly (`stack_fixture` provides the fixture `stack`,
`any_stack_fixture` the fixture `any_stack`).
"""

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from checkout_service.db import DatabaseSettings, drop_schema, reading, schema_name
from checkout_service.orchestrator.app import create_app
from checkout_service.orchestrator.runtime import Orchestrator, build_orchestrator
from checkout_service.orchestrator.saga import PointHook
from checkout_service.orchestrator.settings import SERVICE, OrchestratorSettings
from checkout_service.services import fraud, fulfillment, inventory, order, payment, tax
from checkout_service.services.inventory import InventorySettings
from checkout_service.services.runtime import ServiceSettings
from tests.serving import serve

API_KEY = "sk_test_alpha"
OTHER_API_KEY = "sk_test_beta"
STOCK = {"SKU-1": 100, "SKU-2": 100, "LAST": 1}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    # lose: the service executes, the answer is lost (ambiguous timeout);
    # fail: the request never reaches the service; respond: a synthetic answer.
    action: str
    times: int | None
    status: int = 500
    body: Any = None


@dataclass
class Faults(httpx.BaseTransport):
    """Faults keyed by method and path pattern, each for `times` matching requests (None: all)."""

    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)
    rules: list[Rule] = field(default_factory=list)

    def add(self, method: str, path: str, action: str, times: int | None = 1, **extra: Any) -> None:
        self.rules.append(Rule(method, re.compile(path), action, times, **extra))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        rule = self._match(request)
        if rule is None:
            return self.inner.handle_request(request)
        if rule.action == "fail":
            raise httpx.ConnectError("injected: request not delivered", request=request)
        if rule.action == "respond":
            return httpx.Response(rule.status, json=rule.body, request=request)
        response = self.inner.handle_request(request)
        response.read()
        response.close()
        raise httpx.ReadTimeout("injected: response lost", request=request)

    def _match(self, request: httpx.Request) -> Rule | None:
        for rule in self.rules:
            if rule.times == 0 or rule.method != request.method:
                continue
            if rule.path.fullmatch(request.url.path):
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None

    def close(self) -> None:
        self.inner.close()


@dataclass
class Stack:
    client: httpx.Client
    orch: Orchestrator
    services: dict[str, FastAPI]
    faults: Faults
    clock: Clock

    def checkout(self, key: str | None, body: dict[str, Any], api_key: str = API_KEY):
        headers = {"Authorization": f"Bearer {api_key}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post("/v1/checkouts", json=body, headers=headers)

    def get(self, checkout_id: str, api_key: str = API_KEY):
        headers = {"Authorization": f"Bearer {api_key}"}
        return self.client.get(f"/v1/checkouts/{checkout_id}", headers=headers)

    def cancel(self, checkout_id: str, key: str, api_key: str = API_KEY):
        headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": key}
        return self.client.post(f"/v1/checkouts/{checkout_id}/cancel", json={}, headers=headers)

    def rows(self, service: str, table) -> list[dict[str, Any]]:
        with reading(self.services[service].state.runtime.engine) as conn:
            return [dict(row) for row in conn.execute(table.select()).mappings()]

    def count(self, service: str, table, *where) -> int:
        with reading(self.services[service].state.runtime.engine) as conn:
            query = select(func.count()).select_from(table)
            return conn.execute(query.where(*where) if where else query).scalar_one()

    def payments(self, kind: str) -> list[dict[str, Any]]:
        return [row for row in self.rows("payment", payment.payments) if row["kind"] == kind]


def checkout_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "lines": [
            {"sku": "SKU-1", "quantity": 2, "unit_price_minor": 1250},
            {"sku": "SKU-2", "quantity": 1, "unit_price_minor": 500},
        ],
        "customer": {"id": "cus_1", "email": "a@example.com", "country": "DE"},
        "currency": "EUR",
        "payment_token": "tok_visa",
        "client_context": {
            "utm_source": "newsletter",
            "utm_medium": "email",
            "utm_campaign": "spring",
            "referrer": "https://mail.example.com/",
        },
    }
    body.update(overrides)
    return body


StackFactory = Callable[..., Stack]


class Servers:
    """Apps served by conftest's `serve`, stopped all at once: seven servers each waiting out
    uvicorn's shutdown tick one after the other would dominate the tests' run time."""

    def __init__(self) -> None:
        self.running: list[tuple[Any, httpx.Client, FastAPI]] = []
        self.orchestrators: list[Orchestrator] = []

    def start(self, app: FastAPI) -> httpx.Client:
        context = serve(app)
        client = httpx.Client(base_url=context.__enter__(), timeout=30)
        self.running.append((context, client, app))
        return client

    def stop(self) -> None:
        for _context, client, _app in self.running:
            client.close()
        for orch in self.orchestrators:
            orch.services.close()
        with ThreadPoolExecutor(max(len(self.running), 1)) as pool:
            list(pool.map(lambda item: item[0].__exit__(None, None, None), self.running))
        for _context, _client, app in self.running:
            runtime = getattr(app.state, "runtime", None)
            if runtime is not None:
                runtime.engine.dispose()


def _build(database: DatabaseSettings, servers: Servers) -> StackFactory:
    def make(after_point: PointHook | None = None, **settings: Any) -> Stack:
        service_settings = ServiceSettings(database=database)
        services = {
            "fraud": fraud.create_app(service_settings),
            "tax": tax.create_app(service_settings),
            "inventory": inventory.create_app(
                InventorySettings(database=database, initial_stock=STOCK)
            ),
            "payment": payment.create_app(service_settings),
            "order": order.create_app(service_settings),
            "fulfillment": fulfillment.create_app(service_settings),
        }
        urls = {name: str(servers.start(app).base_url) for name, app in services.items()}
        faults = Faults()
        clock = Clock()
        orch = build_orchestrator(
            OrchestratorSettings(
                database=database,
                service_urls=urls,
                api_keys={API_KEY: "mer_alpha", OTHER_API_KEY: "mer_alpha"},
                **settings,
            ),
            transport=faults,
            after_point=after_point,
            clock=clock,
        )
        servers.orchestrators.append(orch)
        client = servers.start(create_app(orchestrator=orch))
        return Stack(client, orch, services, faults, clock)

    return make


def _stacks(database: DatabaseSettings) -> Iterator[StackFactory]:
    servers = Servers()
    yield _build(database, servers)
    servers.stop()
    for orch in servers.orchestrators:
        if orch.engine.dialect.name == "postgresql":
            # conftest drops the services' schemas; the orchestrator's is ours to drop.
            drop_schema(orch.engine, schema_name(SERVICE, database))
        orch.engine.dispose()


@pytest.fixture(name="stack")
def stack_fixture(sqlite_db) -> Iterator[StackFactory]:
    yield from _stacks(sqlite_db)


@pytest.fixture(name="any_stack")
def any_stack_fixture(backend) -> Iterator[StackFactory]:
    """The stack on SQLite and on PostgreSQL."""
    yield from _stacks(backend)
