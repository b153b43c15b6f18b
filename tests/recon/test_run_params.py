"""`meta.run_params`: a partition's settings and the run that reconciled it, readable by the
models, in a warehouse of any age."""

from datetime import date

from recon.cash_settings import FeeSchedule, Tolerances
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


def _settings_rows(con, day: date) -> tuple[dict, dict]:
    fees = con.execute(
        "select currency, rate_ppm, fixed_minor, chargeback_fee_minor from meta.fee_schedule "
        "where _partition_date = ?",
        [day],
    ).fetchall()
    tolerances = con.execute(
        "select rule, currency, absolute_minor, relative_ppm from meta.tolerances "
        "where _partition_date = ?",
        [day],
    ).fetchall()
    return (
        {currency: rest for currency, *rest in fees},
        {(rule, currency): (absolute, ppm) for rule, currency, absolute, ppm in tolerances},
    )


def test_a_partition_records_its_fee_schedule_and_tolerances_and_a_rerun_replaces_them(tmp_path):
    other_day = date(2026, 3, 9)
    first = RunParams(
        amount_tolerance_minor=4,
        fee_schedule=FeeSchedule.parse(
            {"EUR": {"percent": "1.4", "fixed_minor": 25, "chargeback_fee_minor": 1500}}
        ),
        tolerances=Tolerances.parse({"payout_mismatch": {"*": {"relative": "0.0001"}}}),
    )
    rerun = RunParams(
        fee_schedule=FeeSchedule.parse({"USD": {"percent": "2.9", "tolerance_minor": 2}}),
        tolerances=Tolerances.parse({"payout_mismatch": {"EUR": {"absolute_minor": 5}}}),
    )
    with connect(tmp_path / "w.duckdb") as con:
        write_run_params(con, other_day, first)
        write_run_params(con, DAY, first)
        fees, tolerances = _settings_rows(con, DAY)
        assert fees == {"EUR": [14_000, 25, 1500]}
        assert tolerances[("payout_mismatch", "EUR")] == (0, 100)
        assert tolerances[("payout_mismatch", "JPY")] == (0, 100)
        assert tolerances[("amount_mismatch", "GBP")] == (4, 0)
        assert tolerances[("fee_mismatch", "EUR")] == (0, 0)

        write_run_params(con, DAY, rerun)
        fees, tolerances = _settings_rows(con, DAY)
        assert fees == {"USD": [29_000, 0, 0]}
        assert tolerances[("payout_mismatch", "EUR")] == (5, 0)
        assert tolerances[("payout_mismatch", "JPY")] == (0, 0)
        assert tolerances[("amount_mismatch", "GBP")] == (0, 0)
        assert tolerances[("fee_mismatch", "USD")] == (2, 0)
        # one row per rule and currency: the rerun's rows replaced the first run's
        (count,) = con.execute(
            "select count(*) - count(distinct (rule, currency)) from meta.tolerances "
            "where _partition_date = ?",
            [DAY],
        ).fetchone()
        assert count == 0
        # another partition keeps its own settings
        assert _settings_rows(con, other_day)[0] == {"EUR": [14_000, 25, 1500]}


def test_a_partition_without_a_fee_schedule_has_no_fee_rows(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        write_run_params(
            con, DAY, RunParams(fee_schedule=FeeSchedule.parse({"EUR": {"percent": "1"}}))
        )
        write_run_params(con, DAY, RunParams())
        fees, tolerances = _settings_rows(con, DAY)
    assert fees == {}
    # the rules still join on every currency: nothing tolerated, the rule's rows are there
    assert tolerances[("fee_mismatch", "EUR")] == (0, 0)
