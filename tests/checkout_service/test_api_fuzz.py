"""Schemathesis fuzzing of every app's OpenAPI schema: the orchestrator and the six services.

Each app runs in-process (ASGI) on a real database: SQLite files in the test's temporary
directory by default; the orchestrator's downstream services run under uvicorn on the same
backend. Schemathesis sends valid and invalid requests (positive and negative generation) and
checks every answer with its built-in checks: no 5xx, no invalid request accepted (2xx), status
codes, content types, headers and bodies as the schema declares them. On top of those: every 4xx
is an RFC 9457 problem body with the project's fields, and a request the schema allows is never
refused as invalid.

Every request carries a fresh Idempotency-Key (and the orchestrator's an API key): the key
checks have their own tests; here the fuzzer is after the bodies and parameters.

The tests after the fuzzer pin each bug it found, with fixed requests.

A soak, with more examples and PostgreSQL as well (RECON_TEST_PG_URL):
    RECON_FUZZ_EXAMPLES=500 RECON_FUZZ_BACKENDS=sqlite,postgresql \\
        pytest tests/checkout_service/test_api_fuzz.py
"""

import os
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import func, select

from checkout_service.db import DatabaseSettings, reading
from checkout_service.orchestrator.app import create_app as create_orchestrator_app
from checkout_service.orchestrator.runtime import build_orchestrator
from checkout_service.orchestrator.settings import OrchestratorSettings
from checkout_service.orchestrator.tables import checkouts
from checkout_service.problems import PROBLEM_MEDIA_TYPE
from checkout_service.services import fraud, fulfillment, inventory, order, payment, tax
from checkout_service.services.fields import MAX_MINOR
from checkout_service.services.inventory import InventorySettings
from checkout_service.services.runtime import ServiceSettings
from tests.checkout_service.conftest import backend_settings
from tests.checkout_service.orchestrator_fixtures import API_KEY, STOCK, Servers, _build

EXAMPLES = int(os.environ.get("RECON_FUZZ_EXAMPLES", "15"))
BACKENDS = os.environ.get("RECON_FUZZ_BACKENDS", "sqlite").split(",")
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
CONFIG = {
    "generation": {"max-examples": EXAMPLES, "mode": "all"},
    # Each operation on its own; test_service_properties covers sequences of operations.
    "phases": {"stateful": {"enabled": False}},
}
PROBLEM_TYPE = "urn:checkout-recon:problem:"


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path) -> Iterator[DatabaseSettings]:
    yield from backend_settings(request, tmp_path)


@pytest.fixture
def make_app(database) -> Iterator[Callable[[str], FastAPI]]:
    """An app by name on the test's database; the orchestrator with its six services served."""
    servers = Servers()
    apps: list[FastAPI] = []

    def make(name: str) -> FastAPI:
        if name == "orchestrator":
            stack = _build(database, servers)()
            app = create_orchestrator_app(orchestrator=stack.orch)
        else:
            app = SERVICE_APPS[name](database)
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


def problem_details(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx is a problem+json body whose `status` is the response's."""
    if not 400 <= response.status_code < 500:
        return None
    media_type = response.headers.get("content-type", [""])[0].split(";")[0]
    assert media_type == PROBLEM_MEDIA_TYPE, f"4xx answered as {media_type!r}"
    body = response.json()
    assert isinstance(body, dict), body
    assert str(body.get("type", "")).startswith(PROBLEM_TYPE), body
    for name in ("title", "detail"):
        assert isinstance(body.get(name), str) and body[name], f"problem without {name}: {body}"
    assert body.get("status") == response.status_code, body
    return None


def valid_requests_pass_validation(
    ctx: CheckContext, response: Response, case: Case
) -> bool | None:
    """A request the schema allows is never refused as invalid (422 validation-error).

    Schemathesis' own `positive_data_acceptance` also fails the business refusals the schema
    documents (402 declined, 422 capture above authorized): this check is about validation only.
    Rules across fields (a checkout's subtotal, an order's total) cannot be written in JSON
    Schema; their model-level errors (`loc == ["body"]`) are the only refusals allowed.
    """
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code != 422:
        return None
    body = response.json()
    if body.get("type") != PROBLEM_TYPE + "validation-error":
        return None
    field_errors = [error for error in body.get("errors", []) if error.get("loc") != ["body"]]
    assert not field_errors, f"schema-valid request refused: {field_errors}"
    return None


def _fuzz(operation, mode: GenerationMode) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        headers = {"Idempotency-Key": str(uuid.uuid4()), "Authorization": f"Bearer {API_KEY}"}
        case.call_and_validate(
            headers=headers,
            additional_checks=[problem_details, valid_requests_pass_validation],
            excluded_checks=[positive_data_acceptance],
        )

    run()


@pytest.mark.parametrize("name", APPS)
def test_api_answers_every_request_as_its_schema_says(name, make_app) -> None:
    app = make_app(name)
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        _fuzz(operation, GenerationMode.POSITIVE)
        if len(operation.body):
            # Only bodies can be invalid: every string is a valid path parameter.
            _fuzz(operation, GenerationMode.NEGATIVE)


# -- the bugs the fuzzer found, pinned ----------------------------------------------------------


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


@pytest.mark.parametrize("name", APPS)
def test_openapi_documents_the_idempotency_key_of_every_mutating_operation(name, make_app) -> None:
    """A client generated from the schema knows which operations take an Idempotency-Key."""
    document = make_app(name).openapi()
    mutating = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            # Every POST creates or changes something, and every one of them is idempotent; a
            # fence names the key it settles in its path, and is idempotent by that key.
            keyed = method == "post" and not path.endswith("/fence")
            assert ("Idempotency-Key" in headers) == keyed, (method, path)
            mutating += keyed
    assert mutating


def test_a_body_that_is_not_json_is_a_problem(start, sqlite_db) -> None:
    app = payment.create_app(ServiceSettings(database=sqlite_db))
    client = start(app)
    body = _is_problem(_authorize(client, "k-bytes", b"\xff\xfe not json"), 400)
    assert body["detail"] == "There was an error parsing the body"
    _is_problem(client.get("/v1/no-such-route"), 404)
    _is_problem(client.delete("/v1/authorizations"), 405)
    assert _payments(app) == 0


@pytest.mark.parametrize(
    "amount",
    [MAX_MINOR + 1, 2**63, True, "12", 12.5],
    ids=["int32", "int64", "bool", "str", "frac"],
)
def test_an_amount_that_is_no_storable_integer_is_invalid(start, sqlite_db, amount) -> None:
    app = payment.create_app(ServiceSettings(database=sqlite_db))
    client = start(app)
    body = {"checkout_id": "chk_1", "currency": "EUR", "payment_token": "tok_visa"}
    response = client.post(
        "/v1/authorizations",
        json={**body, "amount_minor": amount},
        headers={"Idempotency-Key": "k-amount"},
    )
    errors = _is_problem(response, 422)["errors"]
    assert [error["loc"] for error in errors] == [["body", "amount_minor"]]
    assert _payments(app) == 0
    # The refusal was not stored: the corrected request with the same key is executed.
    fixed = client.post(
        "/v1/authorizations",
        json={**body, "amount_minor": 12.0},
        headers={"Idempotency-Key": "k-amount"},
    )
    assert fixed.status_code == 201 and fixed.json()["amount_minor"] == 12


def test_a_checkout_whose_total_does_not_fit_is_invalid(start, sqlite_db) -> None:
    # Validation refuses it before any downstream call: no services needed.
    orch = build_orchestrator(
        OrchestratorSettings(database=sqlite_db, api_keys={API_KEY: "mer_alpha"})
    )
    client = start(create_orchestrator_app(orchestrator=orch))
    lines = [{"sku": "SKU-1", "quantity": 1000, "unit_price_minor": 2_000_000}]
    body = {
        "lines": lines,
        "customer": {"id": "cus_1"},
        "currency": "EUR",
        "payment_token": "tok_visa",
    }
    headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "k-big"}
    errors = _is_problem(client.post("/v1/checkouts", json=body, headers=headers), 422)["errors"]
    assert "subtotal" in errors[0]["msg"]
    with reading(orch.engine) as conn:
        assert conn.execute(select(func.count()).select_from(checkouts)).scalar_one() == 0
    orch.services.close()
    orch.engine.dispose()


def test_a_reservation_ttl_or_stock_level_out_of_range_is_invalid(start, sqlite_db) -> None:
    client = start(inventory.create_app(InventorySettings(database=sqlite_db)))
    reserve = {"checkout_id": "chk_1", "lines": [{"sku": "SKU-1", "quantity": 1}]}
    headers = {"Idempotency-Key": "k-ttl"}
    response = client.post(
        "/v1/reservations", json={**reserve, "ttl_seconds": 10**12}, headers=headers
    )
    _is_problem(response, 422)
    _is_problem(client.put("/v1/stock/SKU-1", json={"on_hand": 2**40}), 422)
    _is_problem(client.put("/v1/stock/SKU-1", json={"on_hand": False}), 422)
    assert client.put("/v1/stock/SKU-1", json={"on_hand": 5}).json()["on_hand"] == 5


@pytest.mark.parametrize("text", ["\\ud800", "\\udfff", "\\u0000"], ids=["high", "low", "nul"])
def test_a_string_that_is_not_storable_text_is_refused(start, sqlite_db, text) -> None:
    app = payment.create_app(ServiceSettings(database=sqlite_db))
    client = start(app)
    template = (
        '{"checkout_id": "chk_%s", "amount_minor": 5, "currency": "EUR", "payment_token": "t"}'
    )
    body = _is_problem(_authorize(client, "k-text", (template % text).encode()), 400)
    assert "not storable text" in body["detail"]
    assert _payments(app) == 0
    # Nothing was kept under the key; a surrogate pair is text and goes through.
    fixed = _authorize(client, "k-text", (template % "\\ud83d\\ude00").encode())
    assert fixed.status_code == 201 and fixed.json()["checkout_id"] == "chk_\U0001f600"


def test_strings_wider_than_their_columns_are_invalid(start, backend) -> None:
    """PostgreSQL refuses a value wider than its VARCHAR column with an error (a 500 once the
    request executes); the edge refuses it as invalid instead, and the widest value fits."""
    fraud_client = start(fraud.create_app(ServiceSettings(database=backend)))
    screening = {"checkout_id": "chk_1", "amount_minor": 5, "currency": "EUR"}

    def screen(key: str, customer_id: str) -> httpx.Response:
        body = {**screening, "customer_id": customer_id}
        return fraud_client.post("/v1/screenings", json=body, headers={"Idempotency-Key": key})

    _is_problem(screen("k-wide", "c" * 256), 422)
    assert screen("k-wide", "c" * 255).json()["customer_id"] == "c" * 255

    fulfillment_client = start(fulfillment.create_app(ServiceSettings(database=backend)))
    request = {"checkout_id": "chk_1", "order_id": "o" * 65}
    headers = {"Idempotency-Key": "k-order"}
    _is_problem(fulfillment_client.post("/v1/fulfillments", json=request, headers=headers), 422)

    stock = start(inventory.create_app(InventorySettings(database=backend)))
    _is_problem(stock.put("/v1/stock/" + "s" * 256, json={"on_hand": 1}), 422)
    assert stock.put("/v1/stock/" + "s" * 255, json={"on_hand": 1}).status_code == 200

    # A decline code is what follows the test token's prefix, cut to its column's width.
    payment_client = start(payment.create_app(ServiceSettings(database=backend)))
    token = "tok_decline_" + "x" * 200
    declined = payment_client.post(
        "/v1/authorizations",
        json={"checkout_id": "chk_1", "amount_minor": 5, "currency": "EUR", "payment_token": token},
        headers={"Idempotency-Key": "k-decline"},
    )
    assert _is_problem(declined, 402)["failure_code"] == "x" * 64
