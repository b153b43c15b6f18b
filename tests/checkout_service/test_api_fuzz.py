"""Every app's errors: documented in its OpenAPI schema, sent as RFC 9457 problem bodies, and
invalid input refused at the edge (4xx), never failing after execution started (500).

Each test pins a bug found by fuzzing the apps' schemas with schemathesis.
"""

from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from checkout_service.db import DatabaseSettings, reading
from checkout_service.orchestrator.app import create_app as create_orchestrator_app
from checkout_service.problems import PROBLEM_MEDIA_TYPE
from checkout_service.services import fraud, fulfillment, inventory, order, payment, tax
from checkout_service.services.inventory import InventorySettings
from checkout_service.services.runtime import ServiceSettings
from tests.checkout_service.orchestrator_fixtures import STOCK, Servers, _build

SERVICE_APPS: dict[str, Callable[[DatabaseSettings], FastAPI]] = {
    "fraud": lambda database: fraud.create_app(ServiceSettings(database=database)),
    "tax": lambda database: tax.create_app(ServiceSettings(database=database)),
    "inventory": lambda database: inventory.create_app(
        InventorySettings(database=database, initial_stock=STOCK)
    ),
    "payment": lambda database: payment.create_app(ServiceSettings(database=database)),
    "order": lambda database: order.create_app(ServiceSettings(database=database)),
    "fulfillment": lambda database: fulfillment.create_app(ServiceSettings(database=database)),
}
APPS = ("orchestrator", *SERVICE_APPS)
PROBLEM_TYPE = "urn:checkout-recon:problem:"


@pytest.fixture
def make_app(sqlite_db) -> Iterator[Callable[[str], FastAPI]]:
    """An app by name on SQLite; the orchestrator with its six services served."""
    servers = Servers()
    apps: list[FastAPI] = []

    def make(name: str) -> FastAPI:
        if name == "orchestrator":
            stack = _build(sqlite_db, servers)()
            app = create_orchestrator_app(orchestrator=stack.orch)
        else:
            app = SERVICE_APPS[name](sqlite_db)
        apps.append(app)
        return app

    yield make
    servers.stop()
    for orch in servers.orchestrators:
        orch.engine.dispose()
    for app in apps:
        runtime = getattr(app.state, "runtime", None)
        if runtime is not None:
            runtime.engine.dispose()


def _is_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE, response.headers
    body = response.json()
    assert body["status"] == status and body["type"].startswith(PROBLEM_TYPE), body
    return body


def _payments(app: FastAPI) -> int:
    with reading(app.state.runtime.engine) as conn:
        return conn.execute(select(func.count()).select_from(payment.payments)).scalar_one()


def _authorize(client: httpx.Client, key: str, content: bytes) -> httpx.Response:
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    return client.post("/v1/authorizations", content=content, headers=headers)


@pytest.mark.parametrize("name", APPS)
def test_openapi_documents_every_error_as_a_problem(name, make_app) -> None:
    """A client generated from the schema reads every error with one type: problem+json."""
    document = make_app(name).openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert {"type", "title", "status", "detail"} <= set(
        document["components"]["schemas"]["Problem"]["properties"]
    )
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = {code: r for code, r in operation["responses"].items() if code >= "400"}
            assert errors, (method, path)
            for code, response in errors.items():
                assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (method, path, code)
            if "requestBody" in operation:
                assert {"400", "422"} <= set(errors), (method, path)


def test_a_body_that_is_not_json_is_a_problem(start, sqlite_db) -> None:
    app = payment.create_app(ServiceSettings(database=sqlite_db))
    client = start(app)
    body = _is_problem(_authorize(client, "k-bytes", b"\xff\xfe not json"), 400)
    assert body["detail"] == "There was an error parsing the body"
    _is_problem(client.get("/v1/no-such-route"), 404)
    _is_problem(client.delete("/v1/authorizations"), 405)
    assert _payments(app) == 0
