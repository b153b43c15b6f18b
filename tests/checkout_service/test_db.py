"""Service databases: a SQLite file per service in WAL mode, or a PostgreSQL schema per service."""

import uuid

from sqlalchemy import text

from checkout_service.db import (
    DatabaseSettings,
    create_service_engine,
    create_tables,
    drop_schema,
    normalise_url,
    reading,
)
from checkout_service.services import order, payment


def test_postgres_urls_use_psycopg_3():
    assert normalise_url("postgresql://u@h:5432/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"


def test_sqlite_default_is_one_wal_file_per_service(tmp_path):
    settings = DatabaseSettings(data_dir=tmp_path)
    engines = {name: create_service_engine(name, settings) for name in ("payment", "order")}
    try:
        create_tables(engines["payment"], payment.metadata)
        create_tables(engines["order"], order.metadata)
        with reading(engines["payment"]) as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    finally:
        for engine in engines.values():
            engine.dispose()
    assert sorted(p.name for p in tmp_path.glob("*.sqlite3")) == [
        "order.sqlite3",
        "payment.sqlite3",
    ]


def test_postgres_maps_each_service_into_its_own_schema(pg_url):
    settings = DatabaseSettings(url=pg_url, schema_prefix=f"t{uuid.uuid4().hex[:10]}_")
    pay = create_service_engine("payment", settings)
    orders = create_service_engine("order", settings)
    try:
        create_tables(pay, payment.metadata)
        create_tables(orders, order.metadata)
        with pay.connect() as conn:
            tables = set(
                conn.execute(
                    text(
                        "select table_schema || '.' || table_name from information_schema.tables"
                        " where table_schema like :prefix"
                    ),
                    {"prefix": settings.schema_prefix + "%"},
                ).scalars()
            )
        prefix = settings.schema_prefix
        assert f"{prefix}payment.payments" in tables
        assert f"{prefix}payment.idempotency_keys" in tables
        assert f"{prefix}order.orders" in tables
        assert f"{prefix}order.idempotency_keys" in tables
        assert f"{prefix}order.payments" not in tables
    finally:
        drop_schema(pay, f"{settings.schema_prefix}payment")
        drop_schema(orders, f"{settings.schema_prefix}order")
        pay.dispose()
        orders.dispose()
