"""Every app's errors: documented in its OpenAPI schema, sent as RFC 9457 problem bodies, and
invalid input refused at the edge (4xx), never failing after execution started (500).

Each test pins a bug found by fuzzing the apps' schemas with schemathesis.
"""

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI

from checkout_service.db import DatabaseSettings
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
