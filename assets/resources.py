"""The Dagster resources the assets take: the warehouse, the engine and the reconciliation config
(`pipelines.resources.build_resources` makes them from `ReconSettings`)."""

import functools
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from checkout_service.db import DatabaseSettings
from recon.run_lock import warehouse_lock
from recon.run_params import RunParams
from recon.warehouse import configure_session

if TYPE_CHECKING:
    from recon.spark.tables import SparkTables


class Warehouse(DuckDBResource):
    """The DuckDB warehouse, every session set to UTC, held by one run at a time.

    DuckDBResource already retries while another process holds the file's write lock."""

    run_lock_timeout_seconds: float = Field(
        default=600,
        description=(
            "How long a run waits for another run of the same warehouse to finish before it "
            "fails (`recon.run_lock`)."
        ),
    )

    # A run (every step in one process: the in-process executor) opens the file once, and each
    # session is a cursor of that connection. Opened and closed per session, the file cost a
    # catalog load and a checkpoint each time, about 60 times per run: a tenth of a small
    # partition's run.
    _run_connection: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _run_stack: ExitStack = PrivateAttr(default_factory=ExitStack)
    # The run lock, held from setup to teardown, also while the file is closed between sessions.
    _lock_stack: ExitStack = PrivateAttr(default_factory=ExitStack)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.database != ":memory:":
            lock = warehouse_lock(
                Path(self.database),
                self.run_lock_timeout_seconds,
                notice=context.log.warning if context.log else None,
                holder=f"Dagster run {context.run.run_id}" if context.run else "a Dagster run",
            )
            self._lock_stack.enter_context(lock)
        try:
            self._run_connection = self._open()
        except BaseException:
            self._lock_stack.close()
            raise

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        try:
            self._close_run_connection()
        finally:
            self._lock_stack.close()

    @contextmanager
    def session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._run_connection is not None:
            yield from _configured(self._run_connection.cursor())
            return
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with self.get_connection() as con:
            yield from _configured(con)

    @contextmanager
    def reopening_each_session(self) -> Iterator[None]:
        """For the block, every session opens and closes the file itself, so that DuckDB gives
        its memory back between sessions (a partition too large to keep the database warm)."""
        held = self._run_connection is not None
        self._close_run_connection()
        try:
            yield
        finally:
            if held:
                self._run_connection = self._open()

    def _open(self) -> duckdb.DuckDBPyConnection:
        # get_connection, for its retries while another process holds the file's lock.
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        return self._run_stack.enter_context(self.get_connection())

    def _close_run_connection(self) -> None:
        self._run_connection = None
        self._run_stack.close()


def _configured(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    # get_connection closes only a session that ended well: one a failed query ended stayed
    # open with the traceback, and the run's own report then could not reopen the file ("a
    # different configuration than existing connections").
    try:
        configure_session(con)
        yield con
    finally:
        con.close()


class Engine(dg.ConfigurableResource):
    """What reads the landing files and builds the models: `duckdb` (in the warehouse's own
    process) or `spark` (see `recon.spark`); both write the same tables."""

    kind: str = "duckdb"
    spark_master: str = "local[*]"
    spark_tables_root: str = "data/warehouse.duckdb.spark"
    spark_driver_memory: str | None = None

    @property
    def is_spark(self) -> bool:
        return self.kind == "spark"

    def spark_tables(self) -> "SparkTables":
        """The Spark engine's tables, on the process's Spark session (started on first use)."""
        from recon.spark.session import spark_session

        session = spark_session(self.spark_master, self.spark_driver_memory)
        return _spark_tables(session, self.spark_tables_root)


@functools.cache
def _spark_tables(session, root: str) -> "SparkTables":
    # One per session and root: it remembers which tables the session's catalog knows.
    from recon.spark.tables import SparkTables

    return SparkTables(session, root)


class ReconConfig(dg.ConfigurableResource):
    """Where the landing files are, where exports go, and the rules' thresholds."""

    landing_dir: str
    out_dir: str
    lookback_days: int = 3
    reservation_ttl_minutes: int = 30
    capture_sla_hours: int = 24
    amount_tolerance_minor: int = 0
    settlement_sla_days: int = 3
    # The cash settings as JSON (`recon.cash_settings`): currency -> fee rule, rule -> currency
    # -> tolerance.
    fee_schedule: str = "{}"
    tolerances: str = "{}"
    idempotency_warn_rate: float = 0.01
    read_in_place: bool = True
    web_url: str | None = None  # where `recon web` serves the case pages the reports link to
    # services mode (see ReconSettings): the service databases replace the landing files.
    source_mode: str = "landing"
    services_database_url: str | None = None
    services_data_dir: str = "data/services"
    services_schema_prefix: str = ""
    # landing source -> adapter (built-in name or mapping file): that source's files are a
    # provider's exports, read through the adapter (Dagster's config takes a str->str dict).
    adapters: dict[str, str] = Field(default_factory=dict)

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)

    @property
    def services(self) -> DatabaseSettings | None:
        if self.source_mode != "services":
            return None
        return DatabaseSettings(
            url=self.services_database_url,
            data_dir=Path(self.services_data_dir),
            schema_prefix=self.services_schema_prefix,
        )

    def out_for(self, day: date) -> Path:
        return Path(self.out_dir.format(date=day.isoformat()))

    @property
    def run_params(self) -> RunParams:
        return RunParams.of(self)
