"""Properties of the whole checkout, against a model in plain Python.

Hypothesis drives random sequences of what clients, the network, the clock, the warehouse and
the worker do to the orchestrator and its six services (a RuleBasedStateMachine):

- checkouts of random carts (one SKU is out of stock) paid with a card the simulated PSP
  accepts, one it declines, or one fraud screening blocks, each under a fresh Idempotency-Key;
- retries under the same key, answers the client never sees (lost responses) and requests the
  client gives up on;
- cancellations, under a fresh key or retried under the same one, before or after the worker
  settled the checkout or the warehouse shipped it;
- faults between the orchestrator and the services (`FaultPlan`: lost answers, requests that
  never arrive, the orchestrator crashing after a recovery point), drawn and changed mid-run;
- the worker (recovery of stopped sagas, abandoning those undecided past 15 minutes, and the
  outbox), the inventory's reaper, and the clock moving on past the give-up deadline and the
  reservations' TTL.

The model says what every answer must be: a replay repeats the first answer byte for byte
with `Idempotent-Replayed`; a first answer is either transient (503 under faults, 500 for an
injected crash) or the checkout's outcome, which the cart and the card decide (201, 402 for a
decline or for fraud, 409 out of stock), widened to 504 once the worker may have abandoned it
and to 502 once its reservation may have expired; a cancellation answers 200 (the checkout
cancelled, or left failed) or 409 once the warehouse shipped.

After every step, from the services' own databases: no checkout authorized, captured, voided,
refunded, reserved, ordered or fulfilled twice, no record of an unknown checkout, stock equal
to its moves, and every checkout whose outcome is known holding what that outcome allows (a
failed one nothing held or kept, a completed one its total authorized, its stock committed).
At the end the clients retry whatever they have not given up and the worker drains; then
`testdata.chaos.audit` finds no violation, every checkout is terminal with the status
the model expects, charged (or refunded, or voided) exactly its total, with one order, one
reservation and one fulfillment in the states its outcome implies, stock on hand is the
initial stock less what the checkouts that completed (cancelled since or not) committed, and
`GET /v1/checkouts/{id}` names the very payment, order, reservation and fulfillment the
services hold.

Not covered here: concurrent requests (`test_orchestrator_concurrency.py`), processes killed
at any other moment than after a saga's recovery point (`tests/e2e/test_chaos.py`), lookups and
fences that fail (the fault transport lets them through), and a cancellation key reused for
another checkout after its first request met a busy saga (a 409 keeps nothing, the key
included).

Each example runs a fresh stack in process (`InProcessTransport`, as the simulator does) on
real SQLite files under tmp_path, with seeded record IDs, so a failure replays and shrinks
(shrinking may take hypothesis' five minutes). 20 examples by default; a soak
(RECON_PROPERTY_STEPS: steps per sequence, 25 by default):
    RECON_PROPERTY_EXAMPLES=200 RECON_PROPERTY_STEPS=50 \
        .venv/bin/python -m pytest tests/checkout_service/test_checkout_properties.py
"""

import functools
import itertools
import json
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from checkout_service.db import DatabaseSettings, reading
from checkout_service.idempotency import REPLAYED_HEADER
from checkout_service.orchestrator import tables as orch_tables
from checkout_service.orchestrator.app import create_app
from checkout_service.orchestrator.clients import InProcessTransport, ServiceClients
from checkout_service.orchestrator.outbox import process_outbox
from checkout_service.orchestrator.recovery import recover
from checkout_service.orchestrator.runtime import build_orchestrator
from checkout_service.orchestrator.settings import OrchestratorSettings
from checkout_service.serve import StackSettings
from checkout_service.services import fraud, fulfillment, inventory, order, payment, tax
from checkout_service.services.inventory import InventorySettings, release_expired
from checkout_service.services.runtime import SeededIds, ServiceSettings
from testdata.chaos import audit
from testdata.faults import (
    CrashHook,
    FaultLog,
    FaultPlan,
    FaultTransport,
    OrchestratorCrash,
    StepFaults,
)
from testdata.simulator.stack import quiet_injected_crashes
from tests.checkout_service.state_machines import state_machine_settings

SETTINGS = state_machine_settings(default_examples=20)

API_KEY = "sk_test_props"
MERCHANT = "mer_props"
PRICES = {"TEE": 1990, "MUG": 1250, "GONE": 500}
STOCK = {"TEE": 10_000, "MUG": 10_000, "GONE": 0}  # GONE: always out of stock
VAT_DE_BP = 1900  # every customer is in Germany
ACCEPTED, DECLINED, FRAUD = "tok_visa", "tok_decline_insufficient_funds", "tok_fraud_stolen"
RESERVATION_TTL = timedelta(minutes=30)
GIVE_UP_AFTER = timedelta(minutes=15)  # the worker's default (`recon worker`)
# The clock never gets near the idempotency keys' 24 h retention: a key past it is new again.
MAX_ELAPSED = timedelta(hours=12)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CALM = FaultPlan(seed=0)
PROBLEM = "urn:checkout-recon:problem:"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class CheckoutStack:
    """The six services and the orchestrator in one process on fresh SQLite files, a fault
    transport in front of each service (its plan swapped by the state machine) and the
    orchestrator's crash hook; the warehouse talks to the fulfillment service directly."""

    def __init__(self, data_dir: Path, clock: Clock) -> None:
        self.data_dir = data_dir
        # Throwaway files: no fsync per commit (as the simulator's), durable enough under WAL.
        database = DatabaseSettings(data_dir=data_dir, sqlite_synchronous="NORMAL")
        service = ServiceSettings(database=database)
        ids = SeededIds(0)  # the same IDs, hence the same fault draws, on every replay
        self.apps = {
            "fraud": fraud.create_app(service, clock, ids),
            "tax": tax.create_app(service, clock, ids),
            "inventory": inventory.create_app(
                InventorySettings(
                    database=database, initial_stock=STOCK, reservation_ttl=RESERVATION_TTL
                ),
                clock,
                ids,
            ),
            "payment": payment.create_app(service, clock, ids),
            "order": order.create_app(service, clock, ids),
            "fulfillment": fulfillment.create_app(service, clock, ids),
        }
        self.log = FaultLog()
        self.transports = {
            name: FaultTransport(InProcessTransport(app), name, CALM, self.log)
            for name, app in self.apps.items()
        }
        clients = {
            name: httpx.Client(base_url=f"http://{name}.internal", transport=transport)
            for name, transport in self.transports.items()
        }
        self.crash = CrashHook(CALM, self.log)
        self.orch = build_orchestrator(
            OrchestratorSettings(database=database, api_keys={API_KEY: MERCHANT}),
            services=ServiceClients(clients, attempts=3, backoff_seconds=0.0),
            after_point=self.crash,
            clock=clock,
            ids=ids,
        )
        self.client = httpx.Client(
            base_url="http://orchestrator.internal",
            transport=InProcessTransport(create_app(orchestrator=self.orch)),
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=30,
        )
        self.warehouse = httpx.Client(
            base_url="http://fulfillment.internal",
            transport=InProcessTransport(self.apps["fulfillment"]),
        )

    def plan(self, plan: FaultPlan) -> None:
        for transport in self.transports.values():
            transport.plan = plan
        self.crash.plan = plan

    def post(self, path: str, key: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(path, json=body, headers={"Idempotency-Key": key})

    def engine(self, name: str):
        return self.orch.engine if name == "orchestrator" else self.apps[name].state.runtime.engine

    def close(self) -> None:
        self.client.close()
        self.warehouse.close()
        self.orch.close()
        for app in self.apps.values():
            app.state.runtime.engine.dispose()


# -- the model --------------------------------------------------------------------------------


@dataclass
class Sent:
    """One Idempotency-Key at the public API: the request, and the first final answer the
    server gave under it (seen by the client, or lost on the way back)."""

    kind: str  # create | cancel
    path: str
    key: str
    body: dict[str, Any]
    final: httpx.Response | None = None
    final_after_outbox_passes: int = 0
    transient: list[int] = field(default_factory=list)
    given_up: bool = False

    def __repr__(self) -> str:
        answer = "no answer" if self.final is None else f"answered {self.final.status_code}"
        return f"<{self.kind} under key {self.key}: {answer}>"

    def _repr_pretty_(self, printer, _cycle) -> None:  # how hypothesis prints a drawn request
        printer.text(repr(self))


@dataclass
class Checkout:
    """What a client asked for under one checkout key, and what the model allows to follow."""

    number: int
    key: str
    lines: list[tuple[str, int]]
    token: str
    created_at: datetime
    outbox_passes_before: int  # settlement needs an outbox pass after the checkout started
    create: Sent
    cancels: list[Sent] = field(default_factory=list)
    checkout_id: str | None = None  # known to the client once it saw an answer naming it
    may_be_abandoned: bool = False  # the worker ran past the give-up deadline, outcome unknown
    shipped: bool = False

    @property
    def quantities(self) -> Counter[str]:
        wanted: Counter[str] = Counter()
        for sku, quantity in self.lines:
            wanted[sku] += quantity
        return wanted

    @property
    def subtotal(self) -> int:
        return sum(quantity * PRICES[sku] for sku, quantity in self.lines)

    @property
    def tax(self) -> int:
        return (self.subtotal * VAT_DE_BP + 5_000) // 10_000

    @property
    def total(self) -> int:
        return self.subtotal + self.tax

    @property
    def natural(self) -> tuple[int, str]:
        """The answer the cart and the card decide, in the saga's order of steps."""
        if self.token == FRAUD:
            return 402, "checkout-declined"
        if "GONE" in self.quantities:
            return 409, "out-of-stock"
        if self.token == DECLINED:
            return 402, "payment-declined"
        return 201, ""

    def allowed(self, now: datetime) -> set[tuple[int, str]]:
        allowed = {self.natural}
        if self.may_be_abandoned:
            allowed.add((504, "checkout-abandoned"))
        if self.natural[0] == 201 and now >= self.created_at + RESERVATION_TTL:
            # Resumed after its reservation expired (or was reaped): the commit is refused.
            allowed.add((502, "checkout-step-refused"))
        return allowed

    def name(self) -> str:
        return f"checkout #{self.number} ({self.checkout_id or 'ID not seen'}, key {self.key})"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    def _repr_pretty_(self, printer, _cycle) -> None:  # how hypothesis prints a drawn checkout
        printer.text(repr(self))

    def cancelled(self) -> bool:
        return any(
            c.final is not None
            and c.final.status_code == 200
            and c.final.json()["status"] == "cancelled"
            for c in self.cancels
        )


def _answer(response: httpx.Response) -> tuple[int, str]:
    """(status, problem slug) of an answer; the slug is empty for a success."""
    if response.status_code < 400:
        return response.status_code, ""
    return response.status_code, response.json()["type"].removeprefix(PROBLEM)


# -- what the databases hold ------------------------------------------------------------------


@dataclass
class Snapshot:
    checkouts: dict[str, dict[str, Any]]
    by_key: dict[str, str]
    compensations: dict[str, list[dict[str, Any]]]
    undelivered: int
    payments: dict[str, list[dict[str, Any]]]
    orders: dict[str, list[dict[str, Any]]]
    reservations: dict[str, list[dict[str, Any]]]
    lines: dict[str, Counter[str]]
    moves: list[dict[str, Any]]
    fulfillments: dict[str, list[dict[str, Any]]]
    stock: dict[str, tuple[int, int]]

    def of(self, kind: str, checkout_id: str | None) -> list[dict[str, Any]]:
        rows = {
            "orders": self.orders,
            "reservations": self.reservations,
            "fulfillments": self.fulfillments,
        }[kind]
        return rows.get(checkout_id, []) if checkout_id else []

    def money(self, checkout_id: str | None) -> dict[str, list[dict[str, Any]]]:
        by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.payments.get(checkout_id, []) if checkout_id else []:
            by_kind[row["kind"]].append(row)
        return by_kind


def _rows(stack: CheckoutStack, service: str, table) -> list[dict[str, Any]]:
    with reading(stack.engine(service)) as conn:
        return [dict(row) for row in conn.execute(select(table)).mappings()]


def _grouped(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["checkout_id"]].append(row)
    return dict(grouped)


def snapshot(stack: CheckoutStack) -> Snapshot:
    checkouts = _rows(stack, "orchestrator", orch_tables.checkouts)
    lines: dict[str, Counter[str]] = defaultdict(Counter)
    for row in _rows(stack, "inventory", inventory.reservation_lines):
        lines[row["reservation_id"]][row["sku"]] += row["quantity"]
    return Snapshot(
        checkouts={row["checkout_id"]: row for row in checkouts},
        by_key={row["idempotency_key"]: row["checkout_id"] for row in checkouts},
        compensations=_grouped(_rows(stack, "orchestrator", orch_tables.compensations)),
        undelivered=sum(
            row["delivered_at"] is None for row in _rows(stack, "orchestrator", orch_tables.outbox)
        ),
        payments=_grouped(_rows(stack, "payment", payment.payments)),
        orders=_grouped(_rows(stack, "order", order.orders)),
        reservations=_grouped(_rows(stack, "inventory", inventory.reservations)),
        lines=dict(lines),
        moves=_rows(stack, "inventory", inventory.inventory_moves),
        fulfillments=_grouped(_rows(stack, "fulfillment", fulfillment.fulfillments)),
        stock={
            row["sku"]: (row["on_hand"], row["reserved"])
            for row in _rows(stack, "inventory", inventory.stock_levels)
        },
    )


def _one_each(snap: Snapshot) -> list[str]:
    """What holds at every moment whatever the model: one effect of each kind per checkout,
    no record of an unknown checkout, and stock equal to its moves."""
    problems = []
    for checkout_id, rows in snap.payments.items():
        kinds = Counter(row["kind"] for row in rows if row["status"] == "succeeded")
        doubled = {kind: n for kind, n in kinds.items() if n > 1}
        if doubled or sum(row["kind"] == "authorization" for row in rows) > 1:
            problems.append(f"{checkout_id}: payments doubled {dict(kinds)}")
        money: Counter[str] = Counter()
        for row in rows:
            if row["status"] == "succeeded":
                money[row["kind"]] += row["amount_minor"]
        if not money["refund"] <= money["capture"] <= money["authorization"]:
            problems.append(f"{checkout_id}: refunded/captured/authorized {dict(money)}")
        if money["capture"] and money["void"]:
            problems.append(f"{checkout_id}: both captured and voided")
    for kind in ("orders", "reservations", "fulfillments"):
        for checkout_id, rows in getattr(snap, kind).items():
            if len(rows) > 1:
                problems.append(f"{checkout_id}: {len(rows)} {kind}")
    for kind in ("payments", "orders", "reservations", "fulfillments"):
        for checkout_id in getattr(snap, kind):
            if checkout_id not in snap.checkouts:
                problems.append(f"{checkout_id}: {kind} of a checkout the orchestrator never made")
    net: Counter[tuple[str, str]] = Counter()
    for move in snap.moves:
        net[move["sku"], move["kind"]] += move["quantity"]
    held: Counter[str] = Counter()
    for rows in snap.reservations.values():
        for row in rows:
            if row["status"] == "active":
                held.update(snap.lines[row["reservation_id"]])
    for sku, initial in STOCK.items():
        on_hand, reserved = snap.stock[sku]
        expected = (
            initial - net[sku, "commit"],
            net[sku, "reserve"] - net[sku, "release"] - net[sku, "commit"],
        )
        if (on_hand, reserved) != expected or reserved != held[sku]:
            problems.append(
                f"stock of {sku}: (on hand, reserved) {(on_hand, reserved)}, moves say "
                f"{expected}, active reservations hold {held[sku]}"
            )
    return problems


# -- the state machine ------------------------------------------------------------------------


def step(function):
    """Marks the run broken when a step fails, so that teardown only cleans up and the
    failure reported is the step's, not a consequence of it."""

    @functools.wraps(function)
    def run(self, *args, **kwargs):
        try:
            return function(self, *args, **kwargs)
        except BaseException:
            self.broken = True
            raise

    return run


rates = st.sampled_from([0.0, 0.25, 0.5, 1.0])
# The steps whose downstream requests a fault plan hits ("*": all the others): the saga's, the
# outbox's (capture, fulfillment), the cancellation's and the compensations'.
FAULTY_STEPS = (
    "*",
    "fraud",
    "tax",
    "inventory.reserve",
    "payment.authorize",
    "order",
    "inventory.commit",
    "payment.capture",
    "fulfillment",
    "fulfillment.cancel",
    "payment.void",
    "payment.refund",
    "order.cancel",
    "inventory.release",
)
plans = st.builds(
    FaultPlan,
    seed=st.integers(0, 255),
    steps=st.dictionaries(
        st.sampled_from(FAULTY_STEPS),
        st.builds(StepFaults, lose_response=rates, fail_before=rates, crash_after=rates),
        min_size=1,
        max_size=3,
    ),
    faulty_attempts=st.integers(1, 5),
)
carts = st.lists(
    st.tuples(st.sampled_from(["TEE", "MUG"]), st.integers(1, 3)), min_size=1, max_size=3
)
# Mostly checkouts that go through; the trouble each of the others runs into.
troubles = st.sampled_from([None] * 6 + ["declined", "fraud", "out of stock"])


class CheckoutMachine(RuleBasedStateMachine):
    # Set on a subclass by the test: where each run's databases go.
    base_dir: Path
    runs = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        self.broken = False
        self.clock = Clock()
        self.stack = CheckoutStack(self.base_dir / f"run-{next(self.runs)}", self.clock)
        self.checkouts: list[Checkout] = []
        self.keys = 0
        self.outbox_passes = 0

    def new_key(self, prefix: str) -> str:
        self.keys += 1
        return f"{prefix}-{self.keys}"

    def requests(self) -> list[tuple[Checkout, Sent]]:
        return [(c, s) for c in self.checkouts for s in (c.create, *c.cancels)]

    def known(self) -> list[Checkout]:
        return [c for c in self.checkouts if c.checkout_id is not None]

    def undecided(self) -> list[tuple[Checkout, Sent]]:
        return [(c, s) for c, s in self.requests() if s.final is None and not s.given_up]

    # -- sending ------------------------------------------------------------------------------

    def send(self, checkout: Checkout, sent: Sent, lost: bool) -> httpx.Response:
        faults = len(self.stack.log.faults)
        response = self.stack.post(sent.path, sent.key, sent.body)
        injected = Counter(fault.kind for fault in self.stack.log.faults[faults:])
        what = f"{checkout.name()}: {sent.kind} under key {sent.key}"
        replayed = response.headers.get(REPLAYED_HEADER) == "true"
        if sent.final is not None:
            assert replayed, f"{what}: answered {response.status_code} again, not as a replay"
            assert (response.status_code, response.content) == (
                sent.final.status_code,
                sent.final.content,
            ), f"{what}: replay {response.text} differs from the first answer {sent.final.text}"
        else:
            assert not replayed, f"{what}: a replay ({response.text}) of an answer never given"
            status, slug = _answer(response)
            if status == 500:
                assert injected["crash"], f"{what}: 500 without an injected crash: {response.text}"
                sent.transient.append(status)
            elif (status, slug) == (503, "outcome-unknown"):
                assert injected["fail_before"], f"{what}: 503 with no request lost: {response.text}"
                sent.transient.append(status)
            elif sent.kind == "create":
                self.create_answered(checkout, sent, response)
            else:
                self.cancel_answered(checkout, sent, response)
        if not lost and sent.final is not None:
            self.learn(checkout, sent.final)  # the client sees the answer, and the ID in it
        return response

    def create_answered(self, checkout: Checkout, sent: Sent, response: httpx.Response) -> None:
        answer = _answer(response)
        allowed = checkout.allowed(self.clock.now)
        assert answer in allowed, (
            f"{checkout.name()}: answered {answer}, the model allows {sorted(allowed)}: "
            f"{response.text}"
        )
        body = response.json()
        if answer[0] == 201:
            expected = {
                "status": "completed",
                "subtotal_minor": checkout.subtotal,
                "tax_minor": checkout.tax,
                "total_minor": checkout.total,
                "currency": "EUR",
            }
            got = {name: body.get(name) for name in expected}
            assert got == expected, f"{checkout.name()}: answered {got}, expected {expected}"
        elif answer[1] != "checkout-declined":  # fraud is declined before the ID is named
            assert body.get("checkout_id"), f"{checkout.name()}: {answer} names no checkout"
        sent.final = response

    def cancel_answered(self, checkout: Checkout, sent: Sent, response: httpx.Response) -> None:
        assert checkout.create.final is not None  # only a checkout whose ID was seen
        if checkout.create.final.status_code != 201:
            expected, status = (200, ""), "failed"
        elif checkout.shipped:
            expected, status = (409, "checkout-not-cancellable"), None
        else:
            expected, status = (200, ""), "cancelled"
        answer = _answer(response)
        assert answer == expected, (
            f"{checkout.name()}: cancel answered {answer}, expected {expected}: {response.text}"
        )
        if status is not None:
            got = response.json()["status"]
            assert got == status, f"{checkout.name()}: cancel left it {got}, expected {status}"
        sent.final = response
        sent.final_after_outbox_passes = self.outbox_passes

    def learn(self, checkout: Checkout, response: httpx.Response) -> None:
        body = response.json()
        checkout_id = body.get("id") if response.status_code < 300 else body.get("checkout_id")
        if checkout_id is not None and checkout.checkout_id is None:
            checkout.checkout_id = checkout_id

    # -- rules --------------------------------------------------------------------------------

    @initialize(
        plan=plans,
        first=st.lists(st.tuples(carts, troubles, st.booleans()), min_size=1, max_size=3),
    )
    @step
    def open_the_shop(
        self, plan: FaultPlan, first: list[tuple[list[tuple[str, int]], str | None, bool]]
    ) -> None:
        """A network (faulty or not) and some checkouts, so that no run is spent idle."""
        self.stack.plan(plan)
        for cart, trouble, lost in first:
            self.start_a_checkout(cart, trouble, lost)

    @rule(cart=carts, trouble=troubles, lost=st.booleans())
    @step
    def start_a_checkout(
        self, cart: list[tuple[str, int]], trouble: str | None, lost: bool
    ) -> None:
        number = len(self.checkouts) + 1
        token = {"declined": DECLINED, "fraud": FRAUD}.get(trouble or "", ACCEPTED)
        if trouble == "out of stock":
            cart = [*cart, ("GONE", 1)]
        body = {
            "lines": [
                {"sku": sku, "quantity": quantity, "unit_price_minor": PRICES[sku]}
                for sku, quantity in cart
            ],
            "customer": {"id": f"cus_{number}", "country": "DE"},
            "currency": "EUR",
            "payment_token": token,
        }
        key = self.new_key("checkout")
        sent = Sent("create", "/v1/checkouts", key, body)
        checkout = Checkout(number, key, cart, token, self.clock.now, self.outbox_passes, sent)
        self.checkouts.append(checkout)
        self.send(checkout, sent, lost)

    @precondition(lambda self: any(not s.given_up for _, s in self.requests()))
    @rule(data=st.data(), lost=st.booleans(), misuse=st.booleans())
    @step
    def retry_with_the_same_key(self, data, lost: bool, misuse: bool) -> None:
        """A retry after a lost answer, a 503 or a 500, or a plain duplicate: a replay once the
        key has a final answer, otherwise the saga resumes from its recovery point.

        `misuse` (a client bug) sends another request under the key instead: a checkout key with
        another cart, refused whatever the key's state; a cancellation key for another
        checkout, refused once the key has its answer or its request is paused (503, 500).
        Not sent after a 409 (a busy saga), which keeps nothing, the key included."""
        requests = [(c, s) for c, s in self.requests() if not s.given_up]
        checkout, sent = data.draw(st.sampled_from(requests), label="retried")
        others = [c for c in self.known() if c is not checkout]
        if misuse and sent.kind == "create":
            path, body = (
                sent.path,
                {**sent.body, "lines": [*sent.body["lines"], *sent.body["lines"]]},
            )
        elif (
            misuse and others and (sent.final is not None or sent.transient[-1:] in ([500], [503]))
        ):
            other = data.draw(st.sampled_from(others), label="cancelled instead")
            path, body = f"/v1/checkouts/{other.checkout_id}/cancel", sent.body
        else:
            self.send(checkout, sent, lost)
            return
        response = self.stack.post(path, sent.key, body)
        assert _answer(response) == (422, "idempotency-key-reused"), (
            f"{checkout.name()}: its {sent.kind} key {sent.key} reused for POST {path} "
            f"answered {response.text}"
        )

    @precondition(lambda self: self.known())
    @rule(data=st.data(), lost=st.booleans())
    @step
    def cancel(self, data, lost: bool) -> None:
        checkout = data.draw(st.sampled_from(self.known()), label="cancelled")
        sent = Sent(
            "cancel", f"/v1/checkouts/{checkout.checkout_id}/cancel", self.new_key("cancel"), {}
        )
        checkout.cancels.append(sent)
        self.send(checkout, sent, lost)

    @precondition(lambda self: self.undecided())
    @rule(data=st.data())
    @step
    def give_up_on_a_request(self, data) -> None:
        """The client stops retrying: whatever the request started is the worker's to end."""
        _checkout, sent = data.draw(st.sampled_from(self.undecided()), label="given up")
        sent.given_up = True

    @rule(plan=plans)
    @step
    def the_network_changes(self, plan: FaultPlan) -> None:
        """Faults on some steps' requests, or on all (rates 0: a healthy network). Up to 2
        faulty attempts per key are absorbed by the orchestrator's lookups and retries; 3 or
        more can exhaust a call's retries (an unknown outcome, 503), and a later call under
        the key gets through. A crash rate crashes the orchestrator after the step's recovery
        point, once per checkout."""
        self.stack.plan(plan)

    @precondition(lambda self: self.clock.now - START < MAX_ELAPSED)
    @rule(minutes=st.sampled_from([2, 16]), reaper=st.booleans())
    @step
    def time_passes(self, minutes: int, reaper: bool) -> None:
        """A little, or past the worker's give-up deadline (15 min) and, twice, past the
        reservations' TTL (30 min); the inventory's reaper may run then."""
        self.clock.now += timedelta(minutes=minutes)
        if reaper:
            release_expired(self.stack.apps["inventory"].state.runtime)

    @rule(outbox=st.booleans(), recovery=st.booleans())
    @step
    def the_worker_runs(self, outbox: bool, recovery: bool) -> None:
        self.worker_pass(outbox=outbox, recovery=recovery or not outbox)

    def worker_pass(self, *, outbox: bool = True, recovery: bool = True) -> None:
        """One pass of `recon worker`: resume stopped sagas (abandoning those undecided past
        the deadline), then deliver the outbox. An injected crash kills the pass."""
        if recovery:
            for checkout in self.checkouts:
                overdue = self.clock.now >= checkout.created_at + GIVE_UP_AFTER
                if checkout.create.final is None and overdue:
                    checkout.may_be_abandoned = True
            try:
                recover(self.stack.orch, GIVE_UP_AFTER)
            except OrchestratorCrash:
                return  # the worker process died; a later pass goes on
        if outbox:
            self.outbox_passes += 1
            process_outbox(self.stack.orch)

    @precondition(lambda self: self.known())
    @rule(data=st.data())
    @step
    def the_warehouse_ships(self, data) -> None:
        """The warehouse ships a requested fulfillment of a checkout, talking to the
        fulfillment service directly; from then on the checkout cannot be cancelled."""
        snap = snapshot(self.stack)
        requested = [
            (checkout, row)
            for checkout in self.known()
            for row in snap.of("fulfillments", checkout.checkout_id)
            if row["status"] == "requested"
        ]
        if not requested:
            return
        checkout, row = data.draw(st.sampled_from(requested), label="shipped")
        shipped = self.stack.warehouse.post(
            f"/v1/fulfillments/{row['fulfillment_id']}/ship",
            json={},
            headers={"Idempotency-Key": f"{checkout.checkout_id}:fulfillment.ship"},
        )
        assert shipped.status_code == 200, f"{checkout.name()}: shipping: {shipped.text}"
        assert not checkout.cancelled(), f"{checkout.name()}: shipped after its cancellation"
        checkout.shipped = True

    # -- checks -------------------------------------------------------------------------------

    @invariant()
    @step
    def the_databases_agree_with_the_model(self) -> None:
        snap = snapshot(self.stack)
        problems = _one_each(snap)
        for checkout in self.checkouts:
            problems += self.decided_holds(checkout, snap, drained=False)
        assert not problems, "\n".join(problems)

    def decided_holds(self, checkout: Checkout, snap: Snapshot, drained: bool) -> list[str]:
        """What the checkout's known outcome allows the services to hold; nothing for a
        checkout whose outcome is not known yet (unless `drained`: then all are known)."""
        checkout_id = checkout.checkout_id or snap.by_key.get(checkout.key)
        final = checkout.create.final
        if final is not None:
            answer = _answer(final)
        elif drained and checkout_id is not None:
            row = snap.checkouts[checkout_id]
            body = row["response_body"]
            answer = (row["response_status"], "")
            if answer[0] and answer[0] >= 400:
                answer = (answer[0], _problem_slug(body))
            allowed = checkout.allowed(self.clock.now)
            if answer not in allowed:
                return [f"{checkout.name()}: ended {answer}, the model allows {sorted(allowed)}"]
        else:
            return [f"{checkout.name()}: no checkout after the drain"] if drained else []
        name = f"checkout #{checkout.number} ({checkout_id}, key {checkout.key})"
        row = snap.checkouts[checkout_id]
        money = snap.money(checkout_id)
        orders = snap.of("orders", checkout_id)
        reservations = snap.of("reservations", checkout_id)
        fulfillments = snap.of("fulfillments", checkout_id)
        status = row["status"]
        problems = []

        def expect(condition: bool, what: str) -> None:
            if not condition:
                problems.append(f"{name}: {what}")

        auths = money["authorization"]
        captured = sum(r["amount_minor"] for r in money["capture"])
        refunded = sum(r["amount_minor"] for r in money["refund"])
        voided = bool(money["void"])
        if answer[0] != 201:
            expect(status == "failed", f"answered {answer} but is {status}")
            expect(not money["capture"], f"failed ({answer}) but captured {captured}")
            expect(
                all(a["status"] == "failed" for a in auths) or voided,
                f"failed ({answer}) but its authorization is held: {auths}",
            )
            expect(
                all(r["status"] == "released" for r in reservations),
                f"failed ({answer}) but reservation {reservations} not released",
            )
            expect(
                all(o["status"] == "cancelled" for o in orders),
                f"failed ({answer}) but its order stands: {orders}",
            )
            expect(not fulfillments, f"failed ({answer}) but fulfilled: {fulfillments}")
            states = {c["step"]: c["state"] for c in snap.compensations.get(checkout_id, [])}
            expect(
                set(states.values()) <= {"done", "nothing_to_undo"},
                f"failed ({answer}) with compensations {states}",
            )
            if answer == (402, "checkout-declined") or answer[1] == "out-of-stock":
                expect(
                    not auths and not reservations and not orders,
                    f"{answer} yet it reserved {reservations}, paid {auths}, ordered {orders}",
                )
            if answer == (402, "payment-declined"):
                expect(
                    [(a["status"], a["amount_minor"]) for a in auths]
                    == [("failed", checkout.total)],
                    f"declined, expected one declined authorization of {checkout.total}: {auths}",
                )
                expect(not orders, f"declined but ordered: {orders}")
            if answer[0] in (402, 502) and answer[1] != "checkout-declined":
                expect(
                    [snap.lines[r["reservation_id"]] for r in reservations]
                    == [checkout.quantities],
                    f"{answer}: expected one released reservation of {dict(checkout.quantities)}:"
                    f" {reservations}",
                )
            if answer[0] == 502:
                expect(voided and len(orders) == 1, f"502 but voided {voided}, orders {orders}")
            return problems

        # Answered 201: completed, and maybe cancelled since.
        expect(
            [(a["status"], a["amount_minor"]) for a in auths] == [("succeeded", checkout.total)],
            f"completed, expected one authorization of {checkout.total}: {auths}",
        )
        expect(
            [(r["status"], snap.lines[r["reservation_id"]]) for r in reservations]
            == [("committed", checkout.quantities)],
            f"completed, expected one committed reservation of {dict(checkout.quantities)}: "
            f"{[(r['status'], snap.lines[r['reservation_id']]) for r in reservations]}",
        )
        expect(
            [(o["total_minor"], o["tax_minor"]) for o in orders]
            == [(checkout.total, checkout.tax)],
            f"completed, expected one order of {checkout.total} (tax {checkout.tax}): {orders}",
        )
        states = {c["step"]: c["state"] for c in snap.compensations.get(checkout_id, [])}
        expect(
            set(states.values()) <= {"registered"},
            f"completed, yet compensations ran: {states}",
        )
        cancelled = checkout.cancelled()
        if cancelled:
            expect(status == "cancelled", f"cancelled (answered) but is {status}")
        elif not checkout.cancels:
            expect(status == "completed", f"completed, nobody cancelled it, but it is {status}")
        if drained and any(c.given_up for c in checkout.cancels) and not cancelled:
            expect(status in ("completed", "cancelled"), f"a cancellation given up left {status}")
        elif drained and checkout.cancels and not cancelled:
            expect(status == "completed", f"cancellations refused, yet it is {status}")
        if status == "cancelled":
            expect(
                (voided and not captured) or (captured == refunded == checkout.total),
                f"cancelled but kept {captured - refunded} (captured {captured}, refunded "
                f"{refunded}, voided {voided})",
            )
            expect(
                [o["status"] for o in orders] == ["cancelled"], f"cancelled, order {orders} stands"
            )
            expect(
                all(f["status"] == "cancelled" for f in fulfillments),
                f"cancelled, yet fulfillment {fulfillments} goes on",
            )
            # Settlement needs an outbox pass between the checkout and its cancellation.
            no_outbox = any(
                c.final is not None
                and c.final.status_code == 200
                and c.final_after_outbox_passes == checkout.outbox_passes_before
                for c in checkout.cancels
            )
            if no_outbox:
                expect(not captured and not fulfillments, "captured or fulfilled, with no outbox")
        elif status == "completed":
            expect(
                not voided and not refunded, f"completed but voided {voided}, refunded {refunded}"
            )
            expect(
                captured in (0, checkout.total),
                f"completed, captured {captured} of {checkout.total}",
            )
            expect([o["status"] for o in orders] == ["placed"], f"completed, orders {orders}")
            expect(
                all(
                    f["status"] == ("shipped" if checkout.shipped else "requested")
                    for f in fulfillments
                ),
                f"completed (shipped: {checkout.shipped}), fulfillment {fulfillments}",
            )
            if drained:
                expect(
                    captured == checkout.total, f"settled, captured {captured} of {checkout.total}"
                )
                expect(len(fulfillments) == 1, f"settled, fulfillments {fulfillments}")
        elif drained:
            expect(False, f"answered 201, drained, yet it is {status}")
        return problems

    def drain(self) -> None:
        """Rounds of: clients retry what they have not given up, then a worker pass; until all
        is settled. Faults stay on, but they are finite (a few attempts per key, one crash per
        checkout and point), and a round in which none was injected must settle everything."""
        while True:
            faults = len(self.stack.log.faults)
            for checkout, sent in sorted(self.undecided(), key=lambda cs: cs[1].kind != "create"):
                self.send(checkout, sent, lost=False)
            self.worker_pass()
            snap = snapshot(self.stack)
            open_sagas = {
                row["checkout_id"]: f"{row['status']} at {row['recovery_point']}"
                for row in snap.checkouts.values()
                if row["status"] not in ("completed", "failed", "cancelled")
            }
            if not self.undecided() and not open_sagas and not snap.undelivered:
                return
            assert len(self.stack.log.faults) > faults, (
                f"a drain round without any fault injected left requests "
                f"{[s.key for _, s in self.undecided()]} undecided, sagas {open_sagas} open and "
                f"{snap.undelivered} outbox events undelivered"
            )

    def teardown(self) -> None:
        try:
            if not self.broken:
                self.drain()
                self.final_checks()
        finally:
            self.stack.close()
            shutil.rmtree(self.stack.data_dir, ignore_errors=True)

    def final_checks(self) -> None:
        _statuses, violations = audit(
            StackSettings(data_dir=self.stack.data_dir, database_url=None, schema_prefix="")
        )
        assert not violations, "chaos audit:\n" + "\n".join(violations)
        snap = snapshot(self.stack)
        problems = _one_each(snap)
        for checkout in self.checkouts:
            problems += self.decided_holds(checkout, snap, drained=True)
        # Stock on hand left only with the checkouts that were completed (a cancellation
        # refunds; it does not restock), and nothing is held any more.
        committed: Counter[str] = Counter()
        for checkout in self.checkouts:
            checkout_id = checkout.checkout_id or snap.by_key.get(checkout.key)
            if checkout_id and snap.checkouts[checkout_id]["status"] in ("completed", "cancelled"):
                committed.update(checkout.quantities)
        for sku, initial in STOCK.items():
            expected = (initial - committed[sku], 0)
            if snap.stock[sku] != expected:
                problems.append(f"stock of {sku}: {snap.stock[sku]}, the model says {expected}")
        problems += self.views_agree(snap)
        assert not problems, "\n".join(problems)

    def views_agree(self, snap: Snapshot) -> list[str]:
        """`GET /v1/checkouts/{id}` names what the services hold for the checkout."""
        problems = []
        for checkout in self.checkouts:
            checkout_id = checkout.checkout_id or snap.by_key[checkout.key]
            view = self.stack.client.get(f"/v1/checkouts/{checkout_id}").json()
            name = f"checkout #{checkout.number} ({checkout_id}) GET"
            if view["status"] != snap.checkouts[checkout_id]["status"]:
                problems.append(f"{name}: status {view['status']}")
            held = {
                "payment_id": [
                    a["payment_id"]
                    for a in snap.money(checkout_id)["authorization"]
                    if a["status"] == "succeeded"
                ],
                "order_id": [o["order_id"] for o in snap.of("orders", checkout_id)],
                "reservation_id": [
                    r["reservation_id"] for r in snap.of("reservations", checkout_id)
                ],
                "fulfillment_id": [
                    f["fulfillment_id"] for f in snap.of("fulfillments", checkout_id)
                ],
            }
            for id_field, ids in held.items():
                named = view[id_field]
                # A failed saga may never have recorded an ID it undid through a lookup.
                if named is None and view["status"] == "failed":
                    continue
                if [named] != ids and not (named is None and not ids):
                    problems.append(f"{name}: {id_field} {named}, the services hold {ids}")
            if view["status"] != "failed" and view["total_minor"] != checkout.total:
                problems.append(f"{name}: total {view['total_minor']}, model {checkout.total}")
        return problems


def _problem_slug(body: str | None) -> str:
    return json.loads(body or "{}").get("type", "").removeprefix(PROBLEM)


def test_checkout_state_follows_the_model(tmp_path):
    bound = type("CheckoutMachine", (CheckoutMachine,), {"base_dir": tmp_path})
    with quiet_injected_crashes():  # crashes on purpose: no tracebacks in a failure's log
        run_state_machine_as_test(bound, settings=SETTINGS)
