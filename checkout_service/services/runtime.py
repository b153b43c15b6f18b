"""What every downstream service shares: settings, its database, its idempotency store."""

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine, MetaData, Table

from checkout_service.db import DatabaseSettings, create_service_engine, create_tables, utcnow
from checkout_service.idempotency import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_RETENTION,
    Handler,
    Idempotency,
    IdempotencyKey,
    IdempotencyStore,
)
from checkout_service.problems import TextRoute, install_problem_handler

Clock = Callable[[], datetime]
# Makes a record ID from its prefix ("pay", "ord"...): random in service, seeded in the simulator.
IdFactory = Callable[[str], str]


class ServiceSettings(BaseModel):
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    idempotency_retention: timedelta = DEFAULT_RETENTION
    lock_timeout: timedelta = DEFAULT_LOCK_TIMEOUT
    # Downstream services have one caller, the orchestrator, so keys share one scope.
    caller_scope: str = "orchestrator"


@dataclass
class Runtime:
    """A service's engine, key store and clock; kept on `app.state.runtime`."""

    name: str
    engine: Engine
    metadata: MetaData
    idempotency: Idempotency
    clock: Clock
    new_id: IdFactory

    @property
    def store(self) -> IdempotencyStore:
        return self.idempotency.store


class KeyedDatabaseSettings(Protocol):
    """What `open_store` reads: the orchestrator's settings have it as well as a service's."""

    database: DatabaseSettings
    idempotency_retention: timedelta
    lock_timeout: timedelta


def open_store(
    name: str, metadata: MetaData, keys: Table, settings: KeyedDatabaseSettings, clock: Clock
) -> IdempotencyStore:
    """The key store of a service's database (its engine is `store.engine`), the tables of
    `metadata` created when missing."""
    engine = create_service_engine(name, settings.database)
    create_tables(engine, metadata)
    return IdempotencyStore(
        engine,
        keys,
        retention=settings.idempotency_retention,
        lock_timeout=settings.lock_timeout,
        clock=clock,
    )


def build_runtime(
    name: str,
    metadata: MetaData,
    keys: Table,
    settings: ServiceSettings,
    clock: Clock | None,
    ids: IdFactory | None = None,
) -> Runtime:
    clock = clock or utcnow
    store = open_store(name, metadata, keys, settings, clock)
    scope = settings.caller_scope
    idempotency = Idempotency(store, scope=lambda _request: scope)
    return Runtime(name, store.engine, metadata, idempotency, clock, ids or new_id)


def service_router() -> APIRouter:
    """A service's router: its routes refuse JSON bodies that are not Unicode text, like every
    route of a service app (`problems.TextRoute`)."""
    return APIRouter(route_class=TextRoute)


def create_service_app(runtime: Runtime, title: str, router: APIRouter | None = None) -> FastAPI:
    app = FastAPI(title=title)
    app.state.runtime = runtime
    install_problem_handler(app)
    app.include_router(runtime.idempotency.router())
    if router is not None:
        app.include_router(router)
    return app


class AppFactory(Protocol):
    """A service module's `create_app`: the simulator passes a clock and seeded IDs."""

    def __call__(
        self,
        settings: ServiceSettings | None = None,
        clock: Clock | None = None,
        ids: IdFactory | None = None,
    ) -> FastAPI: ...


def app_factory(
    name: str, metadata: MetaData, keys: Table, title: str, router: APIRouter
) -> AppFactory:
    """`create_app` for a service whose settings are the plain `ServiceSettings`: its runtime
    (database, key store, clock) behind its module's router."""

    def create_app(
        settings: ServiceSettings | None = None,
        clock: Clock | None = None,
        ids: IdFactory | None = None,
    ) -> FastAPI:
        runtime = build_runtime(name, metadata, keys, settings or ServiceSettings(), clock, ids)
        return create_service_app(runtime, title, router)

    return create_app


async def current_runtime(request: Request) -> Runtime:
    """The runtime of the app serving the request (`create_service_app` keeps it on app.state):
    routes declared once on a module's router reach their own service's database."""
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(current_runtime)]


@dataclass(frozen=True)
class KeyedCall:
    """What an idempotent route works with besides its body and path: the request's
    Idempotency-Key and the runtime of the service serving it."""

    key: str
    request: Request
    runtime: Runtime

    def execute(self, body: BaseModel, handler: Handler) -> Response:
        """Run `handler` once for the key; a retry gets its stored outcome back
        (`Idempotency.execute`)."""
        return self.runtime.idempotency.execute(self.request, self.key, body, handler)


async def keyed_call(key: IdempotencyKey, request: Request, runtime: RuntimeDep) -> KeyedCall:
    """The key is a sub-dependency, so a missing one is still a 400 before the body is read."""
    return KeyedCall(key, request, runtime)


KeyedCallDep = Annotated[KeyedCall, Depends(keyed_call)]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class SeededIds:
    """IDs drawn from a seed, so a simulated day gives the same records every time. Calls are
    serialised by the simulator (one request at a time); not for concurrent use."""

    def __init__(self, seed: int | str) -> None:
        self._rng = random.Random(f"ids:{seed}")

    def __call__(self, prefix: str) -> str:
        return f"{prefix}_{self._rng.getrandbits(80):020x}"
