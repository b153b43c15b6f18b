"""Inventory: stock levels and reservations with a TTL.

A reservation holds stock (`reserved` grows, `on_hand` does not change) until it is committed
(both shrink) or released (`reserved` shrinks). Each line of each transition is an
`inventory_moves` row in the shape of the landing contract. Out of stock is a permanent answer
for that request (409, stored for replay). Releasing an already released reservation answers its
current state without a second move: compensations are "undo if it exists".
Expired reservations are released by `release_expired` (the reaper), never implicitly.
"""

from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Column, Index, Integer, String, Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from checkout_service.db import (
    UTCDateTime,
    reading,
    record_id,
    step_columns,
    step_table,
    timestamps,
)
from checkout_service.idempotency import Outcome, Refused, key_responses, service_metadata
from checkout_service.problems import ProblemError, problem_responses
from checkout_service.services.fields import (
    JSON_INTEGER,
    MAX_MINOR,
    CheckoutId,
    PositiveMinor,
    ShortText,
    Sku,
    iso,
)
from checkout_service.services.lookup import RecordLookup
from checkout_service.services.runtime import (
    Clock,
    IdFactory,
    KeyedCallDep,
    Runtime,
    RuntimeDep,
    ServiceSettings,
    build_runtime,
    create_service_app,
    service_router,
)

SERVICE = "inventory"
# A hold longer than a week is no reservation (and a huge TTL would overflow the expiry date).
MAX_TTL_SECONDS = 7 * 24 * 3600
RELEASE_STEP = "inventory.release"

metadata, keys = service_metadata()
stock_levels = Table(
    "stock_levels",
    metadata,
    Column("sku", String(255), primary_key=True),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
)
reservations = step_table(
    "reservations",
    metadata,
    "reservation_id",
    # active | released | committed
    Column("status", String(16), nullable=False),
    *timestamps(),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_reservations_status_expires_at", "status", "expires_at"),
)
reservation_lines = Table(
    "reservation_lines",
    metadata,
    Column("reservation_id", String(64), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("quantity", Integer, nullable=False),
)
# Found by reservation, not by checkout: no `db.step_table`, which indexes the checkout.
inventory_moves = Table(
    "inventory_moves",
    metadata,
    record_id("move_id"),
    *step_columns(),
    Column("reservation_id", String(64), nullable=False, index=True),
    Column("sku", String(255), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Built once, so a request only binds its values (see `checkout_service.orchestrator.store`).
_of_sku = stock_levels.c.sku == bindparam("b_sku")
_STOCK = select(stock_levels).where(_of_sku)
_STOCK_LOCKED = _STOCK.with_for_update()
_STOCK_KNOWN = select(stock_levels.c.sku).where(_of_sku)
_INSERT_STOCK = insert(stock_levels)
_SET_ON_HAND = update(stock_levels).where(_of_sku).values(on_hand=bindparam("new_on_hand"))
_quantity = bindparam("b_quantity")
_HOLD = update(stock_levels).where(_of_sku).values(reserved=stock_levels.c.reserved + _quantity)
_UNHOLD = update(stock_levels).where(_of_sku).values(reserved=stock_levels.c.reserved - _quantity)
_TAKE = (
    update(stock_levels)
    .where(_of_sku)
    .values(
        on_hand=stock_levels.c.on_hand - _quantity, reserved=stock_levels.c.reserved - _quantity
    )
)
_RESERVATIONS = RecordLookup(reservations, "reservation_id", "reservation")
_INSERT_RESERVATION = insert(reservations)
_EXPIRED = select(reservations.c.reservation_id).where(
    reservations.c.status == "active", reservations.c.expires_at <= bindparam("b_now")
)
_INSERT_LINE = insert(reservation_lines)
_LINES = (
    select(reservation_lines.c.sku, reservation_lines.c.quantity)
    .where(reservation_lines.c.reservation_id == bindparam("b_reservation_id"))
    .order_by(reservation_lines.c.sku)
)
_INSERT_MOVES = insert(inventory_moves)


class InventorySettings(ServiceSettings):
    # Stock put on hand for SKUs the database does not know yet (existing levels are kept).
    initial_stock: dict[str, int] = Field(default_factory=dict)
    reservation_ttl: timedelta = timedelta(minutes=30)


class Line(BaseModel):
    sku: Sku
    quantity: PositiveMinor


class ReserveRequest(BaseModel):
    checkout_id: CheckoutId
    lines: list[Line] = Field(min_length=1)
    ttl_seconds: Annotated[int, Field(gt=0, le=MAX_TTL_SECONDS), JSON_INTEGER] | None = None


class TransitionRequest(BaseModel):
    reason: ShortText | None = None


# A SKU in the path of the write that may create its stock row (as wide as the column).
SkuPath = Annotated[str, Path(min_length=1, max_length=255)]


class StockLevel(BaseModel):
    on_hand: Annotated[int, Field(ge=0, le=MAX_MINOR), JSON_INTEGER]


def create_app(
    settings: InventorySettings | ServiceSettings | None = None,
    clock: Clock | None = None,
    ids: IdFactory | None = None,
) -> FastAPI:
    if not isinstance(settings, InventorySettings):
        # Plain service settings (as every other service takes) with the inventory defaults.
        settings = InventorySettings(**dict(settings or ServiceSettings()))
    runtime = build_runtime(SERVICE, metadata, keys, settings, clock, ids)
    _seed_stock(runtime, settings.initial_stock)
    app = create_service_app(runtime, "Inventory service", router)
    app.state.inventory_settings = settings
    return app


async def _inventory_settings(request: Request) -> InventorySettings:
    """The serving app's settings (its default reservation TTL), kept beside its runtime."""
    return request.app.state.inventory_settings


SettingsDep = Annotated[InventorySettings, Depends(_inventory_settings)]
router = service_router()


@router.post("/v1/reservations", status_code=201, responses=key_responses())
def reserve(body: ReserveRequest, call: KeyedCallDep, settings: SettingsDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        now = call.runtime.clock()
        wanted: Counter[str] = Counter()
        for line in body.lines:
            wanted[line.sku] += line.quantity
        shortages = []
        # Sorted, so concurrent reservations lock stock rows in one order (no deadlock).
        for sku in sorted(wanted):
            level = conn.execute(_STOCK_LOCKED, {"b_sku": sku}).mappings().first()
            available = level["on_hand"] - level["reserved"] if level else 0
            if available < wanted[sku]:
                shortages.append(
                    {"sku": sku, "requested": wanted[sku], "available": max(available, 0)}
                )
        if shortages:
            raise Refused(
                409,
                "out-of-stock",
                "Out of stock",
                "Not enough stock for: " + ", ".join(s["sku"] for s in shortages) + ".",
                shortages=shortages,
            )
        ttl = timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else None
        reservation = {
            "reservation_id": call.runtime.new_id("res"),
            "checkout_id": body.checkout_id,
            "idempotency_key": call.key,
            "status": "active",
            "created_at": now,
            "updated_at": now,
            "expires_at": now + (ttl or settings.reservation_ttl),
        }
        conn.execute(_INSERT_RESERVATION, reservation)
        for sku in sorted(wanted):
            conn.execute(
                _INSERT_LINE,
                {
                    "reservation_id": reservation["reservation_id"],
                    "sku": sku,
                    "quantity": wanted[sku],
                },
            )
            conn.execute(_HOLD, {"b_sku": sku, "b_quantity": wanted[sku]})
        moves = _moves(conn, reservation, call.key, "reserve", now, call.runtime.new_id)
        return Outcome(201, _answer(reservation, moves))

    return call.execute(body, handler)


@router.post("/v1/reservations/{reservation_id}/release", responses=key_responses(404))
def release(reservation_id: str, body: TransitionRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        reservation = _RESERVATIONS.get(conn, reservation_id, lock=True)
        if reservation["status"] == "released":
            return Outcome(200, _answer(reservation, []))
        if reservation["status"] == "committed":
            raise Refused(
                409,
                "reservation-committed",
                "Reservation already committed",
                "The stock of a committed reservation has left; it cannot be released.",
                reservation_id=reservation_id,
            )
        reservation, moves = _release(
            conn, reservation, call.key, call.runtime.clock(), call.runtime.new_id
        )
        return Outcome(200, _answer(reservation, moves))

    return call.execute(body, handler)


@router.post("/v1/reservations/{reservation_id}/commit", responses=key_responses(404))
def commit(reservation_id: str, body: TransitionRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        now = call.runtime.clock()
        reservation = _RESERVATIONS.get(conn, reservation_id, lock=True)
        if reservation["status"] == "committed":
            return Outcome(200, _answer(reservation, []))
        if reservation["status"] == "released":
            raise Refused(
                409,
                "reservation-released",
                "Reservation released",
                "A released reservation cannot be committed; reserve again.",
                reservation_id=reservation_id,
            )
        if reservation["expires_at"] <= now:
            raise Refused(
                409,
                "reservation-expired",
                "Reservation expired",
                "The reservation outlived its TTL; the reaper releases it. Reserve again.",
                reservation_id=reservation_id,
                expires_at=reservation["expires_at"].isoformat(),
            )
        for sku, quantity in _lines(conn, reservation_id):
            conn.execute(_TAKE, {"b_sku": sku, "b_quantity": quantity})
        reservation = _RESERVATIONS.set_status(conn, reservation, "committed", now)
        moves = _moves(conn, reservation, call.key, "commit", now, call.runtime.new_id)
        return Outcome(200, _answer(reservation, moves))

    return call.execute(body, handler)


@router.get("/v1/reservations/{reservation_id}", responses=problem_responses(404))
def get_reservation(reservation_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    with reading(runtime.engine) as conn:
        reservation = _RESERVATIONS.get(conn, reservation_id, lock=False)
        lines = [{"sku": sku, "quantity": q} for sku, q in _lines(conn, reservation_id)]
        return {**iso(reservation), "lines": lines}


@router.get("/v1/stock/{sku}", responses=problem_responses(404))
def get_stock(sku: str, runtime: RuntimeDep) -> dict[str, Any]:
    with reading(runtime.engine) as conn:
        level = conn.execute(_STOCK, {"b_sku": sku}).mappings().first()
    if level is None:
        raise ProblemError(404, "sku-not-found", "Unknown SKU", f"No stock level for {sku}.")
    return {**level, "available": level["on_hand"] - level["reserved"]}


@router.put("/v1/stock/{sku}")
def set_stock(sku: SkuPath, body: StockLevel, runtime: RuntimeDep) -> dict[str, Any]:
    # Setting an absolute level is naturally idempotent: no key needed.
    with runtime.engine.begin() as conn:
        updated = conn.execute(_SET_ON_HAND, {"b_sku": sku, "new_on_hand": body.on_hand}).rowcount
        if not updated:
            conn.execute(_INSERT_STOCK, {"sku": sku, "on_hand": body.on_hand, "reserved": 0})
    return {"sku": sku, "on_hand": body.on_hand}


def release_expired(runtime: Runtime, now: datetime | None = None) -> list[str]:
    """The reaper: release every active reservation past its TTL; returns their IDs.

    Its moves carry the checkout's release key, the one the orchestrator's compensation uses, so
    a reaped reservation and a compensated one look the same in the data.
    """
    now = now or runtime.clock()
    with reading(runtime.engine) as conn:
        expired = conn.execute(_EXPIRED, {"b_now": now}).scalars().all()
    released = []
    for reservation_id in expired:
        with runtime.engine.begin() as conn:
            reservation = _RESERVATIONS.get(conn, reservation_id, lock=True)
            if reservation["status"] != "active":
                continue  # committed or released since we looked
            key = f"{reservation['checkout_id']}:{RELEASE_STEP}"
            _release(conn, reservation, key, now, runtime.new_id)
            released.append(reservation_id)
    return released


def _release(
    conn: Connection, reservation: dict[str, Any], key: str, now: datetime, ids: IdFactory
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    for sku, quantity in _lines(conn, reservation["reservation_id"]):
        conn.execute(_UNHOLD, {"b_sku": sku, "b_quantity": quantity})
    reservation = _RESERVATIONS.set_status(conn, reservation, "released", now)
    return reservation, _moves(conn, reservation, key, "release", now, ids)


def _moves(
    conn: Connection,
    reservation: dict[str, Any],
    key: str,
    kind: str,
    now: datetime,
    ids: IdFactory,
) -> list[dict[str, Any]]:
    moves = [
        {
            "move_id": ids("mov"),
            "checkout_id": reservation["checkout_id"],
            "idempotency_key": key,
            "reservation_id": reservation["reservation_id"],
            "sku": sku,
            "quantity": quantity,
            "kind": kind,
            "created_at": now,
        }
        for sku, quantity in _lines(conn, reservation["reservation_id"])
    ]
    if moves:
        conn.execute(_INSERT_MOVES, moves)
    return moves


def _lines(conn: Connection, reservation_id: str) -> list[tuple[str, int]]:
    rows = conn.execute(_LINES, {"b_reservation_id": reservation_id}).all()
    return [(sku, quantity) for sku, quantity in rows]


def _answer(reservation: dict[str, Any], moves: list[dict[str, Any]]) -> dict[str, Any]:
    return {**iso(reservation), "moves": [iso(move) for move in moves]}


def _seed_stock(runtime: Runtime, initial_stock: dict[str, int]) -> None:
    for sku, on_hand in sorted(initial_stock.items()):
        try:
            with runtime.engine.begin() as conn:
                known = conn.execute(_STOCK_KNOWN, {"b_sku": sku}).first()
                if known is None:
                    conn.execute(_INSERT_STOCK, {"sku": sku, "on_hand": on_hand, "reserved": 0})
        except IntegrityError:
            pass  # another process seeded it first
