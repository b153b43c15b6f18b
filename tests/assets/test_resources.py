"""The warehouse resource: UTC sessions with the models' macros, closed however they end, and
one run at a time."""

import threading
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import duckdb
import pytest

from assets.resources import Warehouse
from recon.run_lock import WarehouseBusy, warehouse_lock


def test_a_session_has_the_models_macros_and_utc(tmp_path):
    warehouse = Warehouse(database=str(tmp_path / "w.duckdb"))
    with warehouse.session() as con:
        [(key, zone)] = con.execute(
            "select surrogate_key('chk_1') = surrogate_key('chk_1'), current_setting('TimeZone')"
        ).fetchall()
    assert key and zone == "UTC"


def test_a_failed_session_leaves_no_connection_open(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse = Warehouse(database=str(path))
    with pytest.raises(duckdb.CatalogException) as failed, warehouse.session() as con:
        con.execute("select * from no_such_table")
    assert failed.value is not None  # the traceback (and its frames) is still alive here
    # Another configuration can open the file only once no connection of the session is left:
    # what a failed run's report does next.
    duckdb.connect(str(path), config={"memory_limit": "1GB"}).close()


def _run(path, *assets):
    return dg.materialize(
        list(assets), resources={"warehouse": Warehouse(database=str(path))}, raise_on_error=False
    )


def test_a_runs_steps_share_one_open_database_and_free_the_file_even_when_one_fails(tmp_path):
    path = tmp_path / "w.duckdb"
    seen = {}

    @dg.asset
    def first(warehouse: Warehouse) -> None:
        with warehouse.session() as con:
            # A setting of the database itself, not of the session: it outlives the file's
            # closing only if the file was never closed.
            con.execute("set global threads = 1")

    @dg.asset(deps=[first])
    def second(warehouse: Warehouse) -> None:
        with warehouse.session() as con:
            [(seen["threads"],)] = con.execute("select current_setting('threads')").fetchall()
            con.execute("select * from no_such_table")

    result = _run(path, first, second)

    assert not result.success
    assert seen["threads"] == 1
    # What a failed run's report does next: open the file with its own configuration.
    duckdb.connect(str(path), config={"memory_limit": "1GB"}).close()


def test_reopening_each_session_frees_the_file_between_sessions(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse = Warehouse(database=str(path))
    warehouse.setup_for_execution(dg.build_init_resource_context())
    try:
        with warehouse.reopening_each_session():
            with warehouse.session() as con:
                con.execute("create table t as select 1 as x")
            # DuckDB gave the database back: another configuration can open the file.
            duckdb.connect(str(path), config={"memory_limit": "1GB"}).close()
        with warehouse.session() as con:
            assert con.execute("select x from t").fetchall() == [(1,)]
        with pytest.raises(duckdb.ConnectionException, match="different configuration"):
            duckdb.connect(str(path), config={"memory_limit": "1GB"})
    finally:
        warehouse.teardown_after_execution(dg.build_init_resource_context())


def _lock_from_another_thread(path) -> str:
    """Whether another run could take the warehouse now: "free", or why not."""

    def attempt() -> str:
        try:
            with warehouse_lock(path, timeout_seconds=0):
                return "free"
        except WarehouseBusy as busy:
            return str(busy)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(attempt).result()


def test_a_run_holds_the_warehouse_from_its_start_to_its_end(tmp_path):
    path = tmp_path / "w.duckdb"
    seen = {}

    @dg.asset
    def large(context: dg.AssetExecutionContext, warehouse: Warehouse) -> None:
        seen["run_id"] = context.run.run_id
        seen["running"] = _lock_from_another_thread(path)
        # Also while the file is closed between sessions (a large partition's models).
        with warehouse.reopening_each_session():
            seen["reopening"] = _lock_from_another_thread(path)

    result = _run(path, large)

    assert result.success
    assert f"in use by Dagster run {seen['run_id']} (pid" in seen["running"]
    assert "in use by Dagster run" in seen["reopening"]
    assert _lock_from_another_thread(path) == "free"


def test_a_run_fails_clearly_when_another_run_keeps_the_warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    built = []

    @dg.asset
    def anything(warehouse: Warehouse) -> None:
        built.append(True)

    release = threading.Event()
    held = threading.Event()

    def other_run() -> None:
        with warehouse_lock(path, holder="recon run"):
            held.set()
            release.wait(timeout=120)

    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(other_run)
        try:
            assert held.wait(timeout=120)
            result = dg.materialize(
                [anything],
                resources={"warehouse": Warehouse(database=str(path), run_lock_timeout_seconds=0)},
                raise_on_error=False,
            )
        finally:
            release.set()
        other.result(timeout=120)

    assert not result.success and not built
    failure = result.get_run_failure_event().event_specific_data
    assert "is still in use by recon run (pid" in str(failure)
    assert _lock_from_another_thread(path) == "free"
