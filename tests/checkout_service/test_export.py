"""The exporters read the services' databases and return rows in the landing contract's shape;
written as landing files, those rows load into the warehouse with nothing quarantined."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from checkout_service import export
from checkout_service.services import fulfillment, inventory, order, payment
from checkout_service.services.inventory import InventorySettings
from checkout_service.services.runtime import ServiceSettings
from recon.contract import SOURCES
from recon.ingest import ingest_source
from recon.landing_writer import COLUMNS
from recon.raw_rows import raw_rows_sql
from recon.warehouse import connect
from testdata.synthetic import write_rows
from tests.checkout_service.test_services import order_body

DAY = date(2026, 1, 2)


class TickingClock:
    """A second per reading, so rows are ordered and all fall on one business day."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            self.now += timedelta(seconds=1)
            return self.now


def call(client, path: str, key: str, body: dict | None = None) -> dict:
    response = client.post(path, json=body or {}, headers={"Idempotency-Key": key})
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def exported(backend, start) -> dict[str, list[dict]]:
    """One checkout through every service that exports, plus a cancellation and a refund."""
    settings = ServiceSettings(database=backend)
    clock = TickingClock()
    pay = start(payment.create_app(settings, clock))
    stocked = InventorySettings(database=backend, initial_stock={"A": 9})
    inv = start(inventory.create_app(stocked, clock))
    orders = start(order.create_app(settings, clock))
    ful = start(fulfillment.create_app(settings, clock))

    lines = [{"sku": "A", "quantity": 2}]
    res = call(
        inv, "/v1/reservations", "c1:inventory.reserve", {"checkout_id": "c1", "lines": lines}
    )
    auth = call(
        pay,
        "/v1/authorizations",
        "c1:payment.authorize",
        {"checkout_id": "c1", "amount_minor": 1200, "currency": "EUR", "payment_token": "tok"},
    )
    attribution = {"utm_source": "ads", "referrer": "https://example.com/"}
    created = call(orders, "/v1/orders", "c1:order", order_body(attribution=attribution))
    call(inv, f"/v1/reservations/{res['reservation_id']}/commit", "c1:inventory.commit")
    call(pay, f"/v1/authorizations/{auth['payment_id']}/captures", "c1:payment.capture")
    shipment = call(
        ful,
        "/v1/fulfillments",
        "c1:fulfillment",
        {"checkout_id": "c1", "order_id": created["order_id"]},
    )
    call(ful, f"/v1/fulfillments/{shipment['fulfillment_id']}/cancel", "c1:fulfillment.cancel")
    call(orders, f"/v1/orders/{created['order_id']}/cancel", "c1:order.cancel")
    call(
        pay,
        f"/v1/authorizations/{auth['payment_id']}/refunds",
        "c1:payment.refund",
        {"amount_minor": 1200},
    )
    return export.export_all(backend)


def test_rows_have_exactly_the_contract_columns_and_types(exported):
    assert set(exported) == {"orders", "payments", "inventory_moves", "fulfillments"}
    for source, rows in exported.items():
        assert rows, source
        for row in rows:
            assert tuple(row) == COLUMNS[source]
            for column in ("created_at", "updated_at"):
                if column in row:
                    assert isinstance(row[column], datetime)
                    assert row[column].utcoffset().total_seconds() == 0
                    assert row[column].date() == DAY
    assert [(r["status"], r["utm_source"]) for r in exported["orders"]] == [
        ("placed", "ads"),
        ("cancelled", "ads"),
    ]
    payments = {r["kind"]: r for r in exported["payments"]}
    assert set(payments) == {"authorization", "capture", "refund"}
    auth_id = payments["authorization"]["payment_id"]
    assert payments["capture"]["parent_payment_id"] == auth_id
    assert payments["refund"]["idempotency_key"] == "c1:payment.refund"
    assert all(
        isinstance(r["amount_minor"], int) and r["amount_minor"] > 0 for r in payments.values()
    )
    assert [(m["kind"], m["sku"], m["quantity"]) for m in exported["inventory_moves"]] == [
        ("reserve", "A", 2),
        ("commit", "A", 2),
    ]
    assert [f["status"] for f in exported["fulfillments"]] == ["requested", "cancelled"]


def test_exported_rows_load_into_the_warehouse_without_quarantine(exported, tmp_path):
    landing = tmp_path / "landing"
    write_rows(landing, exported)
    days = {row["created_at"].date() for rows in exported.values() for row in rows}
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        for source in exported:
            for day in sorted(days):
                report = ingest_source(con, SOURCES[source], landing, day, lookback_days=1)
                assert report.rows_quarantined == 0, (source, report.reasons)
        loaded = {
            source: sum(
                con.execute(
                    f"select count(*) from ({raw_rows_sql(con, SOURCES[source], day)})"
                ).fetchone()[0]
                for day in days
            )
            for source in exported
        }
    finally:
        con.close()
    assert loaded == {source: len(rows) for source, rows in exported.items()}
