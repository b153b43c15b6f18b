"""Contract rows from the services' databases: one function per landing source.

Each function reads one service's database (the engine of `db.create_service_engine`) and returns
rows with exactly the columns of the data contract (`recon.contract`), timestamps as aware
UTC datetimes, in a stable order. `analytics_events` comes from the browser, not from a service
database, so it has no function here.
"""

from typing import Any

from sqlalchemy import Engine, Select, Table, select

from checkout_service.db import DatabaseSettings, create_service_engine, reading
from checkout_service.services import fulfillment, inventory, order, payment
from recon.contract import SOURCES

Row = dict[str, Any]

# Which service's database holds each source.
SERVICE_OF_SOURCE = {
    "orders": order.SERVICE,
    "payments": payment.SERVICE,
    "inventory_moves": inventory.SERVICE,
    "fulfillments": fulfillment.SERVICE,
}


def export_orders(engine: Engine) -> list[Row]:
    """Every state an order went through (placed, then cancelled), as the contract expects: a
    later row for the same `order_id` supersedes an earlier one."""
    return _table_rows(engine, "orders", order.order_versions, "updated_at", "version_id")


def export_payments(engine: Engine) -> list[Row]:
    return _table_rows(engine, "payments", payment.payments, "created_at", "payment_id")


def export_inventory_moves(engine: Engine) -> list[Row]:
    moves = inventory.inventory_moves
    return _table_rows(engine, "inventory_moves", moves, "created_at", "move_id")


def export_fulfillments(engine: Engine) -> list[Row]:
    """One row per accepted transition (refused ones are the service's own record, not a state
    the fulfillment was ever in); the latest `updated_at` is the current state."""
    f, events = fulfillment.fulfillments, fulfillment.fulfillment_events
    query = (
        select(
            f.c.fulfillment_id,
            f.c.checkout_id,
            f.c.order_id,
            events.c.status,
            f.c.created_at,
            events.c.created_at.label("updated_at"),
        )
        .join(events, events.c.fulfillment_id == f.c.fulfillment_id)
        .where(events.c.accepted.is_(True))
        .order_by(events.c.created_at, events.c.event_id)
    )
    return _rows(engine, "fulfillments", query)


EXPORTERS = {
    "orders": export_orders,
    "payments": export_payments,
    "inventory_moves": export_inventory_moves,
    "fulfillments": export_fulfillments,
}


def export_all(settings: DatabaseSettings | None = None) -> dict[str, list[Row]]:
    """All service-database sources at once, each read from its own service's database."""
    result = {}
    for source, exporter in EXPORTERS.items():
        engine = create_service_engine(SERVICE_OF_SOURCE[source], settings)
        try:
            result[source] = exporter(engine)
        finally:
            engine.dispose()
    return result


def _table_rows(engine: Engine, source: str, table: Table, *order_by: str) -> list[Row]:
    """A source kept as one table, its rows ordered by the columns named in `order_by`."""
    return _rows(engine, source, select(table).order_by(*(table.c[name] for name in order_by)))


def _rows(engine: Engine, source: str, query: Select) -> list[Row]:
    columns = SOURCES[source].column_names
    with reading(engine) as conn:
        return [{c: row[c] for c in columns} for row in conn.execute(query).mappings()]
