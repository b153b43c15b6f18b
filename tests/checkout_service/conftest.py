"""Real servers and real databases for the checkout service tests.

`backend` gives database settings for SQLite (files in a temporary directory) and PostgreSQL (a
random schema prefix per test, schemas dropped afterwards). `serve` (tests/serving.py) runs an
app under uvicorn on a free port of 127.0.0.1.
"""

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from checkout_service.db import DatabaseSettings, normalise_url
from tests.serving import serve

SERVICES = (
    "fraud",
    "payment",
    "inventory",
    "order",
    "tax",
    "fulfillment",
    "orchestrator",
    "testsvc",
)


def _pg_settings(pg_url: str) -> Iterator[DatabaseSettings]:
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    yield DatabaseSettings(url=pg_url, schema_prefix=prefix)
    engine = create_engine(normalise_url(pg_url))
    try:
        with engine.begin() as conn:
            for service in SERVICES:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}{service}" CASCADE'))
    finally:
        engine.dispose()


def backend_settings(request, tmp_path) -> Iterator[DatabaseSettings]:
    """The database of a fixture parametrised by backend, "sqlite" or "postgresql"."""
    if request.param == "sqlite":
        yield DatabaseSettings(data_dir=tmp_path / "services")
    else:
        yield from _pg_settings(request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> Iterator[DatabaseSettings]:
    yield from backend_settings(request, tmp_path)


@pytest.fixture
def sqlite_db(tmp_path) -> DatabaseSettings:
    return DatabaseSettings(data_dir=tmp_path / "services")


@pytest.fixture
def start() -> Iterator[Callable[[FastAPI], httpx.Client]]:
    """Serve an app over real HTTP; returns a client bound to it. Stopped and disposed after."""
    with_stack: list = []

    def _start(app: FastAPI) -> httpx.Client:
        context = serve(app)
        base_url = context.__enter__()
        client = httpx.Client(base_url=base_url, timeout=30)
        with_stack.append((context, client, app))
        return client

    yield _start
    for context, client, app in reversed(with_stack):
        client.close()
        context.__exit__(None, None, None)
        runtime = getattr(app.state, "runtime", None)
        if runtime is not None:
            runtime.engine.dispose()
