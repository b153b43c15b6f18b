"""One database per service through SQLAlchemy 2.

By default every service gets its own SQLite file under a data directory (WAL, a busy timeout and
`BEGIN IMMEDIATE` transactions). Any SQLAlchemy URL can be configured instead; on PostgreSQL the
services share one database and each maps its tables into its own schema, created when missing.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.types import TypeDecorator

READ_ONLY = "recon_read_only"


class DatabaseSettings(BaseModel):
    """Where the services keep their data."""

    # None: one SQLite file per service under `data_dir`.
    url: str | None = None
    data_dir: Path = Path("data/services")
    # Prepended to the service name to make its PostgreSQL schema (tests use a random prefix).
    schema_prefix: str = ""
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    # SQLite's `PRAGMA synchronous`; None keeps SQLite's default (FULL: an fsync per commit).
    # NORMAL is durable under WAL except for the last commits before a power loss: for
    # throwaway databases (the simulator's), not for a service's real data.
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] | None = None
    echo: bool = False


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in and comes out as an aware UTC datetime on every backend.

    SQLite has no time zones and hands back naive values; naive input is taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return _as_utc(value)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return _as_utc(value)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# -- columns the services' tables share -----------------------------------------------------------


def record_id(name: str) -> Column:
    """A record's own ID, its table's primary key (`new_id`'s prefixed IDs fit in 64)."""
    return Column(name, String(64), primary_key=True)


def step_columns() -> list[Column]:
    """The checkout a record belongs to and the idempotency key of the step that wrote it: the
    columns reconciliation ties a service's records to a checkout and a step by."""
    return [
        Column("checkout_id", String(255), nullable=False),
        Column("idempotency_key", String(255), nullable=False),
    ]


def timestamps() -> list[Column]:
    """When a record was written and last changed."""
    return [
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    ]


def checkout_index(table: str) -> Index:
    """The index that finds a checkout's records (every lookup by checkout, and the exports)."""
    return Index(f"ix_{table}_checkout_id", "checkout_id")


def step_table(name: str, metadata: MetaData, id_column: str, *columns: Column | Index) -> Table:
    """The table of one kind of record a checkout step writes: its ID, `step_columns`, then
    `columns`, indexed by checkout."""
    return Table(
        name, metadata, record_id(id_column), *step_columns(), *columns, checkout_index(name)
    )


def normalise_url(url: str | URL) -> URL:
    """Accept `postgresql://` and `postgres://` and pin the psycopg 3 driver."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def service_url(service: str, settings: DatabaseSettings) -> URL:
    if settings.url:
        return normalise_url(settings.url)
    path = settings.data_dir / f"{service}.sqlite3"
    return URL.create("sqlite", database=str(path))


def schema_name(service: str, settings: DatabaseSettings) -> str:
    return f"{settings.schema_prefix}{service}".lower().replace("-", "_").replace(".", "_")


def create_service_engine(service: str, settings: DatabaseSettings | None = None) -> Engine:
    """The engine of one service, its schema (PostgreSQL) or file (SQLite) created if missing.

    Tables are declared without a schema; on PostgreSQL the engine's `schema_translate_map`
    places them into the service's schema, so the same metadata works on every backend.
    """
    settings = settings or DatabaseSettings()
    url = service_url(service, settings)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, settings)
    engine = create_engine(url, echo=settings.echo, pool_pre_ping=True)
    if url.get_backend_name() == "postgresql":
        schema = schema_name(service, settings)
        _create_schema(engine, schema)
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: on SQLite it does not take the write lock, so reads (lookups,
    exports) go on while a writer holds it."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield conn


def create_tables(engine: Engine, metadata: MetaData) -> None:
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
    except (IntegrityError, ProgrammingError):
        # Two processes of one service (the orchestrator and its worker) creating the tables at
        # once on PostgreSQL: the loser sees a duplicate type or relation. Its second look finds
        # the tables and creates nothing; a real error raises again.
        with engine.begin() as conn:
            metadata.create_all(conn)


def drop_schema(engine: Engine, schema: str) -> None:
    """Remove a PostgreSQL schema and everything in it (tests clean up with this)."""
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def is_retryable_conflict(error: BaseException) -> bool:
    """A race the database resolved against us: retrying the same request is safe.

    Unique-constraint violations, PostgreSQL serialization failures and deadlocks, and SQLite's
    "database is locked" once its busy timeout ran out.
    """
    if not isinstance(error, DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in ("40001", "40P01", "23505"):
        return True
    message = str(error.orig)
    # Other integrity errors (NOT NULL, foreign keys) are bugs a retry would only repeat.
    if isinstance(error, IntegrityError):
        return "UNIQUE constraint failed" in message
    return isinstance(error, OperationalError) and "database is locked" in message


def _create_schema(engine: Engine, schema: str) -> None:
    with engine.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
        ).first()
        if exists:
            return
        try:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            conn.commit()
        except IntegrityError:
            # Two processes creating the same schema at once: the other one won, which is fine.
            conn.rollback()


def _sqlite_engine(url: URL, settings: DatabaseSettings) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=settings.echo,
        connect_args={
            "check_same_thread": False,
            "timeout": settings.sqlite_busy_timeout_ms / 1000,
        },
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would begin lazily, DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={settings.sqlite_busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if settings.sqlite_synchronous is not None:
            cursor.execute(f"PRAGMA synchronous={settings.sqlite_synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            # WAL readers see a snapshot and never wait for the writer.
            conn.exec_driver_sql("BEGIN")
            return
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
        # another writer got in between; taking the write lock up front makes writers queue on
        # the busy timeout instead, which is what gives SQLite serializable read-modify-write.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
