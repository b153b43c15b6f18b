"""Properties of the payment and inventory services' state, against models in plain Python.

Hypothesis drives sequences of requests (a RuleBasedStateMachine per service) the way the
orchestrator and worse clients send them: fresh requests, retries under the same key, retries
under a fresh key (the unsafe client: a second effect, by design), a key reused with another
body, and lost responses (the service executed the request, the client never saw the answer
and later retries or looks the key up). After every step the service's tables equal the model:
one effect per key, captured <= authorized, refunded <= captured, a void only of an uncaptured
authorization; stock conserved (on hand and reserved move only by reservations' lines).

The services run under uvicorn on a real SQLite database; each state machine run gets its own
checkout ID (and SKUs), so runs share the database but not their rows.

More examples for a soak (RECON_PROPERTY_STEPS: steps per sequence, 25 by default):
    RECON_PROPERTY_EXAMPLES=200 pytest tests/checkout_service/test_service_properties.py
"""

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Connection, Engine, Table, select

from checkout_service.db import reading
from checkout_service.idempotency import REPLAYED_HEADER
from checkout_service.services import inventory, payment
from checkout_service.services.inventory import InventorySettings
from checkout_service.services.runtime import ServiceSettings
from tests.checkout_service.state_machines import state_machine_settings

SETTINGS = state_machine_settings(default_examples=15)


@dataclass
class Sent:
    """A request as the client sent it, and what the model says its first execution answered."""

    method: str
    path: str
    body: dict[str, Any]
    key: str
    status: int
    seen: httpx.Response | None  # None: the response was lost


def _checkout_rows(conn: Connection, table: Table, checkout_id: str) -> list[dict[str, Any]]:
    query = select(table).where(table.c.checkout_id == checkout_id)
    return [dict(row) for row in conn.execute(query).mappings()]


def _send(client: httpx.Client, method: str, path: str, body: dict, key: str) -> httpx.Response:
    return client.request(method, path, json=body, headers={"Idempotency-Key": key})


class _Machine(RuleBasedStateMachine):
    """What both machines share: sending, losing answers, retrying."""

    # Set on a subclass by each test: the served app and its database.
    client: httpx.Client
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        self.run_id = uuid.uuid4().hex[:12]
        self.sent: list[Sent] = []
        self.keys = 0

    def new_key(self) -> str:
        self.keys += 1
        return f"{self.run_id}-{self.keys}"

    def execute(
        self, method: str, path: str, body: dict, status: int, lost: bool, key: str | None = None
    ) -> httpx.Response:
        """Send a request whose first execution the model answers with `status`. A lost
        response was executed all the same: only the client does not look at it."""
        key = key or self.new_key()
        response = _send(self.client, method, path, body, key)
        assert response.status_code == status, (method, path, body, response.text)
        assert REPLAYED_HEADER not in response.headers
        self.sent.append(Sent(method, path, body, key, status, None if lost else response))
        return response

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def retry_with_the_same_key(self, data) -> None:
        sent = data.draw(st.sampled_from(self.sent), label="retried")
        replay = _send(self.client, sent.method, sent.path, sent.body, sent.key)
        assert replay.status_code == sent.status, replay.text
        assert replay.headers.get(REPLAYED_HEADER) == "true"
        if sent.seen is not None:
            assert replay.content == sent.seen.content
        else:
            sent.seen = replay  # the lost answer, recovered
            self.recovered(sent, replay)

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def look_up_the_key(self, data) -> None:
        """What the orchestrator does after a lost response: ask the service what happened."""
        sent = data.draw(st.sampled_from(self.sent), label="looked up")
        operation = self.client.get(f"/v1/operations/{sent.key}")
        assert operation.status_code == 200, operation.text
        found = operation.json()
        assert (found["state"], found["status_code"]) == ("completed", sent.status)
        assert (found["request_method"], found["request_path"]) == (sent.method, sent.path)
        if sent.seen is not None:
            assert found["body"] == sent.seen.json()

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def reuse_a_key_for_another_body(self, data) -> None:
        sent = data.draw(st.sampled_from(self.sent), label="reused")
        # A field the request model keeps (unknown fields are dropped, and do not count).
        if "amount_minor" in sent.body:
            other = {**sent.body, "amount_minor": sent.body["amount_minor"] + 1}
        elif sent.path.endswith("/captures"):
            other = {"amount_minor": 1}
        elif sent.path == "/v1/reservations":
            other = {**sent.body, "ttl_seconds": 60}
        else:
            other = {"reason": "another request"}
        response = _send(self.client, sent.method, sent.path, other, sent.key)
        assert response.status_code == 422, response.text
        assert response.json()["type"].endswith("idempotency-key-reused")

    def recovered(self, sent: Sent, response: httpx.Response) -> None:
        """A lost answer seen at last (its retry); subclasses learn IDs from it."""


# -- payment ----------------------------------------------------------------------------------


@dataclass
class Authorization:
    amount: int
    declined: bool
    payment_id: str | None  # unknown while its response is lost
    captured: int = 0
    refunded: int = 0
    voided: bool = False


amounts = st.integers(min_value=1, max_value=5_000)


class PaymentMachine(_Machine):
    def __init__(self) -> None:
        super().__init__()
        self.checkout_id = f"chk_{self.run_id}"
        self.auths: dict[str, Authorization] = {}  # by the authorize request's key

    def known(self) -> list[Authorization]:
        return [auth for auth in self.auths.values() if auth.payment_id is not None]

    def _authorize(self, amount: int, declined: bool, lost: bool, key: str) -> None:
        body = {
            "checkout_id": self.checkout_id,
            "amount_minor": amount,
            "currency": "EUR",
            "payment_token": "tok_decline_do_not_honor" if declined else "tok_visa",
        }
        response = self.execute(
            "POST", "/v1/authorizations", body, 402 if declined else 201, lost, key
        )
        payment_id = None if lost else self._payment_id(response)
        self.auths[key] = Authorization(amount, declined, payment_id)

    @staticmethod
    def _payment_id(response: httpx.Response) -> str:
        body = response.json()
        return body["payment"]["payment_id"] if response.status_code == 402 else body["payment_id"]

    @rule(amount=amounts, declined=st.booleans(), lost=st.booleans())
    def authorize(self, amount: int, declined: bool, lost: bool) -> None:
        self._authorize(amount, declined, lost, self.new_key())

    def recovered(self, sent: Sent, response: httpx.Response) -> None:
        if sent.path == "/v1/authorizations":
            self.auths[sent.key].payment_id = self._payment_id(response)

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), lost=st.booleans())
    def retry_with_a_fresh_key(self, data, lost: bool) -> None:
        """The unsafe client: the same request again under a new key is a new request."""
        sent = data.draw(st.sampled_from(self.sent), label="resent")
        if sent.path == "/v1/authorizations":
            declined = sent.status == 402
            self._authorize(sent.body["amount_minor"], declined, lost, self.new_key())
            return
        auth = next(a for a in self.known() if f"/{a.payment_id}/" in sent.path)
        operation = sent.path.rsplit("/", 1)[1]
        {"captures": self._capture, "void": self._void, "refunds": self._refund}[operation](
            auth, sent.body, lost
        )

    @precondition(lambda self: self.known())
    @rule(data=st.data(), amount=st.none() | amounts, lost=st.booleans())
    def capture(self, data, amount: int | None, lost: bool) -> None:
        auth = data.draw(st.sampled_from(self.known()), label="authorization")
        self._capture(auth, {} if amount is None else {"amount_minor": amount}, lost)

    def _capture(self, auth: Authorization, body: dict, lost: bool) -> None:
        remaining = auth.amount - auth.captured
        amount = body.get("amount_minor", remaining)
        if auth.declined or auth.voided:
            status = 409
        elif amount <= 0 or amount > remaining:
            status = 422
        else:
            status = 201
            auth.captured += amount
        self.execute("POST", f"/v1/authorizations/{auth.payment_id}/captures", body, status, lost)

    @precondition(lambda self: self.known())
    @rule(data=st.data(), lost=st.booleans())
    def void(self, data, lost: bool) -> None:
        auth = data.draw(st.sampled_from(self.known()), label="authorization")
        self._void(auth, {}, lost)

    def _void(self, auth: Authorization, body: dict, lost: bool) -> None:
        if auth.declined or (auth.captured and not auth.voided):
            status = 409
        elif auth.voided:
            status = 200  # the existing void, no second one
        else:
            status = 201
            auth.voided = True
        self.execute("POST", f"/v1/authorizations/{auth.payment_id}/void", body, status, lost)

    @precondition(lambda self: self.known())
    @rule(data=st.data(), amount=amounts, lost=st.booleans())
    def refund(self, data, amount: int, lost: bool) -> None:
        auth = data.draw(st.sampled_from(self.known()), label="authorization")
        self._refund(auth, {"amount_minor": amount}, lost)

    def _refund(self, auth: Authorization, body: dict, lost: bool) -> None:
        amount = body["amount_minor"]
        if auth.declined:
            status = 409
        elif amount > auth.captured - auth.refunded:
            status = 422
        else:
            status = 201
            auth.refunded += amount
        self.execute("POST", f"/v1/authorizations/{auth.payment_id}/refunds", body, status, lost)

    @invariant()
    def tables_equal_the_model(self) -> None:
        with reading(self.engine) as conn:
            rows = _checkout_rows(conn, payment.payments, self.checkout_id)
        keys = [row["idempotency_key"] for row in rows]
        assert len(keys) == len(set(keys)), "a key with two effects"
        by_id = {row["payment_id"]: row for row in rows}
        actual = {}
        for row in rows:
            if row["kind"] == "authorization":
                actual[row["idempotency_key"]] = {
                    "amount": row["amount_minor"],
                    "declined": row["status"] == "failed",
                    "capture": 0,
                    "refund": 0,
                    "void": 0,
                }
        for row in rows:
            if row["kind"] != "authorization":
                parent = by_id[row["parent_payment_id"]]
                totals = actual[parent["idempotency_key"]]
                totals[row["kind"]] += row["amount_minor"] if row["kind"] != "void" else 1
        expected = {
            key: {
                "amount": auth.amount,
                "declined": auth.declined,
                "capture": auth.captured,
                "refund": auth.refunded,
                "void": int(auth.voided),
            }
            for key, auth in self.auths.items()
        }
        assert actual == expected
        for totals in actual.values():
            assert totals["refund"] <= totals["capture"] <= totals["amount"]
            assert not (totals["void"] and totals["capture"])

    def teardown(self) -> None:
        # The read API agrees with the tables.
        for auth in self.known():
            view = self.client.get(f"/v1/authorizations/{auth.payment_id}").json()
            assert (view["captured_minor"], view["refunded_minor"], view["voided"]) == (
                auth.captured,
                auth.refunded,
                auth.voided,
            )


# -- inventory --------------------------------------------------------------------------------


@dataclass
class Reservation:
    lines: Counter[str]
    status: str  # active | released | committed | refused
    reservation_id: str | None = None


@dataclass
class Stock:
    on_hand: dict[str, int]
    reserved: dict[str, int] = field(default_factory=dict)


class InventoryMachine(_Machine):
    INITIAL = (0, 3, 10)

    def __init__(self) -> None:
        super().__init__()
        self.checkout_id = f"chk_{self.run_id}"
        self.skus = [f"{self.run_id}-{i}" for i in range(len(self.INITIAL))]
        self.stock = Stock(dict(zip(self.skus, self.INITIAL, strict=True)))
        self.stock.reserved = dict.fromkeys(self.skus, 0)
        for sku, on_hand in self.stock.on_hand.items():
            assert self.client.put(f"/v1/stock/{sku}", json={"on_hand": on_hand}).is_success
        self.reservations: dict[str, Reservation] = {}

    def known(self) -> list[Reservation]:
        return [r for r in self.reservations.values() if r.reservation_id is not None]

    def _reserve(self, lines: list[tuple[int, int]], lost: bool, key: str) -> None:
        body = {
            "checkout_id": self.checkout_id,
            "lines": [{"sku": self.skus[i], "quantity": q} for i, q in lines],
        }
        wanted: Counter[str] = Counter()
        for i, quantity in lines:
            wanted[self.skus[i]] += quantity
        available = {sku: self.stock.on_hand[sku] - self.stock.reserved[sku] for sku in wanted}
        fits = all(available[sku] >= quantity for sku, quantity in wanted.items())
        response = self.execute("POST", "/v1/reservations", body, 201 if fits else 409, lost, key)
        reservation = Reservation(wanted, "active" if fits else "refused")
        if fits:
            for sku, quantity in wanted.items():
                self.stock.reserved[sku] += quantity
            if not lost:
                reservation.reservation_id = response.json()["reservation_id"]
        self.reservations[key] = reservation

    @rule(
        lines=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 4)), min_size=1, max_size=3),
        lost=st.booleans(),
    )
    def reserve(self, lines: list[tuple[int, int]], lost: bool) -> None:
        self._reserve(lines, lost, self.new_key())

    def recovered(self, sent: Sent, response: httpx.Response) -> None:
        if sent.path == "/v1/reservations" and response.status_code == 201:
            self.reservations[sent.key].reservation_id = response.json()["reservation_id"]

    @precondition(lambda self: self.known())
    @rule(data=st.data(), lost=st.booleans())
    def release(self, data, lost: bool) -> None:
        reservation = data.draw(st.sampled_from(self.known()), label="reservation")
        self._transition(reservation, "release", lost)

    @precondition(lambda self: self.known())
    @rule(data=st.data(), lost=st.booleans())
    def commit(self, data, lost: bool) -> None:
        reservation = data.draw(st.sampled_from(self.known()), label="reservation")
        self._transition(reservation, "commit", lost)

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), lost=st.booleans())
    def retry_with_a_fresh_key(self, data, lost: bool) -> None:
        sent = data.draw(st.sampled_from(self.sent), label="resent")
        if sent.path == "/v1/reservations":
            by_index = {sku: i for i, sku in enumerate(self.skus)}
            lines = [(by_index[line["sku"]], line["quantity"]) for line in sent.body["lines"]]
            self._reserve(lines, lost, self.new_key())
            return
        reservation_id, verb = sent.path.split("/")[-2:]
        reservation = next(r for r in self.known() if r.reservation_id == reservation_id)
        self._transition(reservation, verb, lost)

    def _transition(self, reservation: Reservation, verb: str, lost: bool) -> None:
        done = {"release": "released", "commit": "committed"}[verb]
        if reservation.status == done:
            status = 200  # undo if it exists: no second move
        elif reservation.status != "active":
            status = 409  # a released reservation cannot be committed, nor the reverse
        else:
            status = 200
            for sku, quantity in reservation.lines.items():
                self.stock.reserved[sku] -= quantity
                if verb == "commit":
                    self.stock.on_hand[sku] -= quantity
            reservation.status = done
        path = f"/v1/reservations/{reservation.reservation_id}/{verb}"
        self.execute("POST", path, {}, status, lost)

    @invariant()
    def tables_equal_the_model(self) -> None:
        with reading(self.engine) as conn:
            levels = {
                row["sku"]: (row["on_hand"], row["reserved"])
                for row in conn.execute(
                    select(inventory.stock_levels).where(
                        inventory.stock_levels.c.sku.in_(self.skus)
                    )
                ).mappings()
            }
            held = {
                row["idempotency_key"]: row["status"]
                for row in _checkout_rows(conn, inventory.reservations, self.checkout_id)
            }
            moves = _checkout_rows(conn, inventory.inventory_moves, self.checkout_id)
        assert levels == {
            sku: (self.stock.on_hand[sku], self.stock.reserved[sku]) for sku in self.skus
        }
        assert held == {
            key: r.status for key, r in self.reservations.items() if r.status != "refused"
        }
        for sku in self.skus:
            on_hand, reserved = levels[sku]
            assert 0 <= reserved <= on_hand
        # Conservation: the levels are the initial stock moved by the moves, and nothing else.
        net: Counter[tuple[str, str]] = Counter()
        for move in moves:
            net[move["sku"], move["kind"]] += move["quantity"]
        for sku, initial in zip(self.skus, self.INITIAL, strict=True):
            reserved = net[sku, "reserve"] - net[sku, "release"] - net[sku, "commit"]
            assert levels[sku] == (initial - net[sku, "commit"], reserved)
        # One transition per key: the moves of a key are one reservation's lines, once.
        per_key = Counter((move["idempotency_key"], move["sku"]) for move in moves)
        assert max(per_key.values(), default=1) == 1


@pytest.fixture
def payment_service(start, sqlite_db):
    app = payment.create_app(ServiceSettings(database=sqlite_db))
    return start(app), app.state.runtime.engine


@pytest.fixture
def inventory_service(start, sqlite_db):
    app = inventory.create_app(InventorySettings(database=sqlite_db))
    return start(app), app.state.runtime.engine


def run_against(machine: type, service: tuple) -> None:
    """Run `machine` against one started service, through a subclass bound to its client and
    engine so that no state is left on the shared machine class."""
    client, engine = service
    bound = type(machine.__name__, (machine,), {"client": client, "engine": engine})
    run_state_machine_as_test(bound, settings=SETTINGS)


def test_payment_state_follows_the_model(payment_service):
    run_against(PaymentMachine, payment_service)


def test_inventory_state_follows_the_model(inventory_service):
    run_against(InventoryMachine, inventory_service)
