"""The saga's state in the orchestrator's database.

Each write is its own short transaction (a recovery point, "atomic phases"): network calls
happen between them, never inside one. Writes made by a saga runner are guarded by its lease
token, so a runner that lost the checkout to `recover` cannot move the saga any more.
"""

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Engine, Select, Update, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from checkout_service.db import reading
from checkout_service.orchestrator.schemas import CheckoutRequest
from checkout_service.orchestrator.tables import (
    checkouts,
    compensations,
    handled_events,
    outbox,
    step_results,
)
from checkout_service.problems import render_json
from checkout_service.services.runtime import IdFactory, new_id

TERMINAL = frozenset({"completed", "failed", "cancelled"})
ATTRIBUTION = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer")

# The statements, built once: SQLAlchemy compiles each once and then only binds a call's values
# (building a statement per call cost more than running it). `b_` parameters are the WHERE
# clause's, `new_` ones the values set.
_checkout = checkouts.c.checkout_id == bindparam("b_checkout_id")
_unleased = or_(checkouts.c.lease_until.is_(None), checkouts.c.lease_until <= bindparam("b_now"))
_CHECKOUT = select(checkouts).where(_checkout)
_INSERT_CHECKOUT = insert(checkouts)
_CHECKOUT_BY_KEY = select(checkouts).where(
    checkouts.c.scope == bindparam("b_scope"), checkouts.c.idempotency_key == bindparam("b_key")
)
_RESUMABLE = (
    select(checkouts.c.checkout_id)
    .where(checkouts.c.status.in_(("pending", "compensating", "cancelling")), _unleased)
    .order_by(checkouts.c.created_at)
)
_ACQUIRE_LEASE = (
    update(checkouts)
    .where(_checkout, _unleased)
    .values(lease_token=bindparam("new_token"), lease_until=bindparam("new_until"))
)
_LEASED = update(checkouts).where(_checkout, checkouts.c.lease_token == bindparam("b_token"))
_RELEASE_LEASE = _LEASED.values(lease_token=None, lease_until=None)
_INSERT_STEP_RESULT = insert(step_results)
_INSERT_OUTBOX = insert(outbox)
_STEP_RECORDED = select(step_results.c.step).where(
    step_results.c.checkout_id == bindparam("b_checkout_id"),
    step_results.c.step == bindparam("b_step"),
)
_of_compensation = (
    compensations.c.checkout_id == bindparam("b_checkout_id"),
    compensations.c.step == bindparam("b_step"),
)
_COMPENSATION_REGISTERED = select(compensations.c.step).where(*_of_compensation)
_INSERT_COMPENSATION = insert(compensations)
_COMPENSATION_COUNT = (
    select(func.count())
    .select_from(compensations)
    .where(compensations.c.checkout_id == bindparam("b_checkout_id"))
)
_COMPENSATIONS = (
    select(compensations)
    .where(compensations.c.checkout_id == bindparam("b_checkout_id"))
    .order_by(compensations.c.seq)
)
_SETTLE_COMPENSATION = (
    update(compensations)
    .where(*_of_compensation)
    .values(
        state=bindparam("new_state"),
        detail=bindparam("new_detail"),
        updated_at=bindparam("new_updated_at"),
    )
)
_HANDLED = select(handled_events.c.event_id).where(
    handled_events.c.event_id == bindparam("b_event_id")
)
_INSERT_HANDLED = insert(handled_events)
_DELIVER = (
    update(outbox)
    .where(outbox.c.event_id == bindparam("b_event_id"), outbox.c.delivered_at.is_(None))
    .values(delivered_at=bindparam("new_delivered_at"))
)
_DELIVERY_FAILED = (
    update(outbox)
    .where(outbox.c.event_id == bindparam("b_event_id"))
    .values(attempts=outbox.c.attempts + 1, last_error=bindparam("new_last_error"))
)


@cache
def _set_checkout(columns: tuple[str, ...], leased: bool) -> Update:
    """UPDATE of these checkout columns (to the `new_` parameters), of the row held under the
    `b_token` lease if `leased`."""
    statement = _LEASED if leased else update(checkouts).where(_checkout)
    return statement.values({name: bindparam(f"new_{name}") for name in columns})


def _new(values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"new_{name}": value for name, value in values.items()}


@cache
def _pending_events(limit: int) -> Select:
    return (
        select(outbox)
        .where(outbox.c.delivered_at.is_(None))
        .order_by(outbox.c.created_at, outbox.c.event_id)
        .limit(limit)
    )


class LeaseLost(Exception):
    """Another runner owns the checkout now; this one must stop touching it."""


class KeyReused(Exception):
    """The idempotency key names a checkout made from a different request."""


@dataclass(frozen=True)
class Checkout:
    row: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.row[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def request(self) -> CheckoutRequest:
        return CheckoutRequest.model_validate_json(self.row["request_json"])


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    checkout_id: str
    step: str
    event: str
    payload: dict[str, Any]


class SagaStore:
    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        lease: timedelta,
        ids: IdFactory = new_id,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.lease = lease
        self.new_id = ids

    # -- checkouts ----------------------------------------------------------------------------

    def open(
        self,
        scope: str,
        key: str,
        request_fingerprint: str,
        merchant_id: str,
        body: CheckoutRequest,
    ) -> str:
        """The checkout of (scope, key), created with the first request. Attribution is written
        here, once: a retry finds the row and never overwrites it."""
        existing = self._by_key(scope, key)
        if existing is None:
            now = self.clock()
            context = body.client_context.model_dump() if body.client_context else {}
            row = {
                "checkout_id": self.new_id("chk"),
                "scope": scope,
                "idempotency_key": key,
                "fingerprint": request_fingerprint,
                "merchant_id": merchant_id,
                "customer_id": body.customer.id,
                "currency": body.currency,
                "request_json": body.model_dump_json(exclude={"client_context"}),
                "status": "pending",
                "recovery_point": "started",
                "subtotal_minor": body.subtotal_minor,
                "created_at": now,
                "updated_at": now,
                **{name: context.get(name) for name in ATTRIBUTION},
            }
            try:
                with self.engine.begin() as conn:
                    conn.execute(_INSERT_CHECKOUT, row)
                return row["checkout_id"]
            except IntegrityError:
                existing = self._by_key(scope, key)  # a racing request created it first
                if existing is None:
                    raise
        if existing.fingerprint != request_fingerprint:
            raise KeyReused(existing.checkout_id)
        return existing.checkout_id

    def get(self, checkout_id: str) -> Checkout | None:
        with reading(self.engine) as conn:
            row = conn.execute(_CHECKOUT, {"b_checkout_id": checkout_id}).mappings().first()
        return Checkout(dict(row)) if row else None

    def load(self, checkout_id: str) -> Checkout:
        checkout = self.get(checkout_id)
        if checkout is None:
            raise LookupError(checkout_id)
        return checkout

    def _by_key(self, scope: str, key: str) -> Checkout | None:
        with reading(self.engine) as conn:
            row = (
                conn.execute(_CHECKOUT_BY_KEY, {"b_scope": scope, "b_key": key}).mappings().first()
            )
        return Checkout(dict(row)) if row else None

    def resumable(self, now: datetime | None = None) -> list[str]:
        """Sagas stopped part-way whose runner is gone (no lease, or an expired one)."""
        now = now or self.clock()
        with reading(self.engine) as conn:
            return list(conn.execute(_RESUMABLE, {"b_now": now}).scalars())

    # -- leases -------------------------------------------------------------------------------

    def acquire_lease(self, checkout_id: str, now: datetime | None = None) -> str | None:
        now = now or self.clock()
        token = str(uuid.uuid4())
        with self.engine.begin() as conn:
            taken = conn.execute(
                _ACQUIRE_LEASE,
                {
                    "b_checkout_id": checkout_id,
                    "b_now": now,
                    "new_token": token,
                    "new_until": now + self.lease,
                },
            ).rowcount
        return token if taken == 1 else None

    def release_lease(self, checkout_id: str, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(_RELEASE_LEASE, {"b_checkout_id": checkout_id, "b_token": token})

    # -- recovery points ----------------------------------------------------------------------

    def advance(
        self,
        checkout_id: str,
        token: str,
        *,
        step: str | None = None,
        result: tuple[int, Any] | None = None,
        events: Sequence[OutboxEvent] = (),
        **values: Any,
    ) -> Checkout:
        """Commit a recovery point: the checkout's new values, the step's answer and any outbox
        events, all in one transaction; the checkout as committed (read in that transaction,
        which saves the runner a transaction of its own to read it back)."""
        now = self.clock()
        with self.engine.begin() as conn:
            self._update(conn, checkout_id, token, updated_at=now, **values)
            if step is not None and result is not None:
                self._record_result(conn, checkout_id, step, result, now)
            for event in events:
                conn.execute(
                    _INSERT_OUTBOX,
                    {
                        "event_id": event.event_id,
                        "checkout_id": event.checkout_id,
                        "step": event.step,
                        "event": event.event,
                        "payload": json.dumps(event.payload, sort_keys=True),
                        "attempts": 0,
                        "created_at": now,
                    },
                )
            row = conn.execute(_CHECKOUT, {"b_checkout_id": checkout_id}).mappings().one()
        return Checkout(dict(row))

    def record_result(self, checkout_id: str, step: str, result: tuple[int, Any]) -> None:
        with self.engine.begin() as conn:
            self._record_result(conn, checkout_id, step, result, self.clock())

    def _record_result(
        self, conn: Connection, checkout_id: str, step: str, result: tuple[int, Any], now: datetime
    ) -> None:
        status_code, body = result
        known = conn.execute(_STEP_RECORDED, {"b_checkout_id": checkout_id, "b_step": step}).first()
        if known is None:
            conn.execute(
                _INSERT_STEP_RESULT,
                {
                    "checkout_id": checkout_id,
                    "step": step,
                    "status_code": status_code,
                    "body": render_json(body).decode(),
                    "created_at": now,
                },
            )

    def _update(self, conn: Connection, checkout_id: str, token: str, **values: Any) -> None:
        done = conn.execute(
            _set_checkout(tuple(values), leased=True),
            {"b_checkout_id": checkout_id, "b_token": token, **_new(values)},
        ).rowcount
        if done != 1:
            raise LeaseLost(checkout_id)

    # -- compensations ------------------------------------------------------------------------

    def register_compensation(self, checkout_id: str, token: str, step: str, forward: str) -> None:
        """Registered before `forward` is called, so an unknown outcome is still undone."""
        now = self.clock()
        with self.engine.begin() as conn:
            self._update(conn, checkout_id, token, updated_at=now)
            this = {"b_checkout_id": checkout_id, "b_step": step}
            if conn.execute(_COMPENSATION_REGISTERED, this).first() is not None:
                return
            seq = conn.execute(_COMPENSATION_COUNT, {"b_checkout_id": checkout_id}).scalar_one()
            conn.execute(
                _INSERT_COMPENSATION,
                {
                    "checkout_id": checkout_id,
                    "step": step,
                    "forward_step": forward,
                    "seq": seq,
                    "state": "registered",
                    "created_at": now,
                    "updated_at": now,
                },
            )

    def compensations(self, checkout_id: str) -> list[dict[str, Any]]:
        with reading(self.engine) as conn:
            rows = conn.execute(_COMPENSATIONS, {"b_checkout_id": checkout_id}).mappings()
            return [dict(row) for row in rows]

    def settle_compensation(
        self, checkout_id: str, token: str, step: str, state: str, detail: Any
    ) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            self._update(conn, checkout_id, token, updated_at=now)
            conn.execute(
                _SETTLE_COMPENSATION,
                {
                    "b_checkout_id": checkout_id,
                    "b_step": step,
                    "new_state": state,
                    "new_detail": render_json(detail).decode(),
                    "new_updated_at": now,
                },
            )

    # -- outbox -------------------------------------------------------------------------------

    def pending_events(self, limit: int) -> list[OutboxEvent]:
        with reading(self.engine) as conn:
            rows = conn.execute(_pending_events(limit)).mappings()
            return [
                OutboxEvent(
                    row["event_id"],
                    row["checkout_id"],
                    row["step"],
                    row["event"],
                    json.loads(row["payload"]),
                )
                for row in rows
            ]

    def handled(self, event_id: str) -> bool:
        with reading(self.engine) as conn:
            found = conn.execute(_HANDLED, {"b_event_id": event_id}).first()
        return found is not None

    def mark_handled(
        self, event: OutboxEvent, result: tuple[int, Any], **checkout_values: Any
    ) -> None:
        """Record the handled ID and deliver the outbox row in one transaction; a duplicate
        delivery that raced us finds the ID recorded and changes nothing."""
        now = self.clock()
        status_code, body = result
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    _INSERT_HANDLED,
                    {
                        "event_id": event.event_id,
                        "status_code": status_code,
                        "body": render_json(body).decode(),
                        "handled_at": now,
                    },
                )
                self._deliver(conn, event.event_id, now)
                if checkout_values:
                    values = {"updated_at": now, **checkout_values}
                    conn.execute(
                        _set_checkout(tuple(values), leased=False),
                        {"b_checkout_id": event.checkout_id, **_new(values)},
                    )
        except IntegrityError:
            self.deliver(event.event_id)

    def deliver(self, event_id: str) -> None:
        with self.engine.begin() as conn:
            self._deliver(conn, event_id, self.clock())

    def _deliver(self, conn: Connection, event_id: str, now: datetime) -> None:
        conn.execute(_DELIVER, {"b_event_id": event_id, "new_delivered_at": now})

    def delivery_failed(self, event_id: str, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(_DELIVERY_FAILED, {"b_event_id": event_id, "new_last_error": error})
