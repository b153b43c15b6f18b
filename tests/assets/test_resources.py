"""The warehouse resource: UTC sessions with the models' macros, closed however they end."""

import duckdb
import pytest

from assets.resources import Warehouse


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
