"""`meta.run_params`: a partition's settings and the run that reconciled it, readable by the
models, in a warehouse of any age."""

from datetime import date

from recon.run_params import RunParams, write_run_params
from recon.warehouse import connect

DAY = date(2026, 3, 10)


def test_a_partition_records_its_settings_and_its_run(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        write_run_params(con, DAY, RunParams(lookback_days=2, run_id="run-'1'"))
        write_run_params(con, DAY, RunParams(lookback_days=5, run_id="run-2"))  # a rerun
        rows = con.execute("select lookback_days, run_id from meta.run_params").fetchall()
    assert rows == [(5, "run-2")]


def test_a_warehouse_from_before_run_ids_gains_the_column_and_keeps_its_partitions(tmp_path):
    earlier = date(2026, 3, 9)
    with connect(tmp_path / "w.duckdb") as con:
        con.execute("create schema meta")
        con.execute(
            "create table meta.run_params (_partition_date date not null, business_date date "
            "not null, lookback_days integer not null, reservation_ttl_minutes integer not null, "
            "capture_sla_hours integer not null, amount_tolerance_minor bigint not null)"
        )
        con.execute("insert into meta.run_params values (?, ?, 3, 30, 24, 0)", [earlier, earlier])
        write_run_params(con, DAY, RunParams(run_id="run-1"))
        rows = con.execute(
            "select _partition_date, lookback_days, run_id from meta.run_params order by 1"
        ).fetchall()
    assert rows == [(earlier, 3, None), (DAY, 3, "run-1")]
