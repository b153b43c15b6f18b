"""Every check passes on clean data and fails, saying what and where, on data built to break it."""

import random
from datetime import UTC, date, datetime, time, timedelta

import dagster as dg
import duckdb
import pytest

from checks import invariants
from checks.landing import (
    contract_result,
    fresh_result,
    has_late_columns,
    keys_result,
    late_result,
)
from recon import contract_suites as contracts
from recon.contract import SOURCES
from recon.contract_suites import idempotency_key_rate, validate_contract
from recon.reconcile import reconcile_partition
from recon.sql_models import project_relations
from recon.warehouse import connect
from testdata.flows import combine_rows
from testdata.settlement import settle
from testdata.synthetic import SCENARIOS, Context, write_rows

DAY = date(2026, 5, 6)
KEY = dg.AssetKey(["x"])


def at(clock: str, days: int = 0) -> datetime:
    return datetime.combine(DAY + timedelta(days=days), time.fromisoformat(clock), UTC)


def flows(n: int = 6):
    names = ["happy_path", "late_capture", "cancelled_with_refund", "duplicate_charge", "declined"]
    built = []
    for i in range(n):
        scenario = SCENARIOS[names[i % len(names)]]
        start = at(scenario.window[0].isoformat()) + timedelta(minutes=i)
        built.append(scenario.build(Context(f"chk_{i}", start, DAY, random.Random(i))))
    return built


@pytest.fixture
def warehouse(tmp_path):
    rows = combine_rows(f.rows for f in flows())
    # The provider's reports too, as it would send them: every source has rows to check.
    rows.update(settle(rows["payments"], tag="checks", business_date=DAY).rows)
    write_rows(tmp_path / "landing", rows)
    con = connect(tmp_path / "w.duckdb")
    reconcile_partition(con, tmp_path / "landing", DAY)
    yield con, tmp_path / "landing"
    con.close()


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_contract_passes_on_clean_data(warehouse, source):
    con, _ = warehouse
    result = validate_contract(con, SOURCES[source], DAY, lookback_days=3)
    assert result.passed, result.failures
    assert result.rows > 0 and result.expectations > 1  # the columns, then their values


def test_contract_fails_on_a_missing_column_naming_it(warehouse):
    con, _ = warehouse
    con.execute("alter table raw.payments drop column psp_reference")
    result = validate_contract(con, SOURCES["payments"], DAY, lookback_days=3)
    [failure] = result.failures
    assert failure.observed == "missing columns: psp_reference" and not failure.late


def test_contract_fails_on_a_timestamp_outside_the_window_naming_file_and_line(warehouse):
    con, _ = warehouse
    con.execute(
        "update raw.payments set created_at = created_at - interval 40 day "
        "where _line = 1 and _partition_date = ?",
        [DAY],
    )
    result = validate_contract(con, SOURCES["payments"], DAY, lookback_days=3)
    [failure] = result.failures
    assert failure.column == "created_at" and "between" in failure.expectation
    assert failure.sample and ":1 created_at=" in failure.sample[0]


def test_contract_fails_on_an_unknown_currency(warehouse):
    con, _ = warehouse
    # Payments land as JSON-lines, so their rows are stored: corrupt them after the load.
    con.execute("update raw.payments set currency = 'ABC' where _partition_date = ?", [DAY])
    result = validate_contract(con, SOURCES["payments"], DAY, lookback_days=3)
    assert [f.column for f in result.failures] == ["currency"]


def test_a_failure_counts_the_rows_of_the_whole_day_and_names_them(warehouse):
    """The suite judges the values a day reduces to; what a failure reports is about its rows."""
    con, _ = warehouse
    con.execute("update raw.payments set currency = 'ABC' where _partition_date = ?", [DAY])
    con.execute(
        "update raw.payments set created_at = created_at - interval 40 day "
        "where _line = 1 and _partition_date = ?",
        [DAY],
    )
    rows = con.execute("select count(*) from raw.payments where _partition_date = ?", [DAY])
    total = rows.fetchone()[0]
    result = validate_contract(con, SOURCES["payments"], DAY, lookback_days=3)
    assert result.rows == total
    assert [f.column for f in result.failures] == ["currency", "created_at"]
    currency, created_at = result.failures
    assert currency.observed.startswith(f"{total} of {total} rows")
    assert len(currency.sample) == contracts.SAMPLE_ROWS and "currency='ABC'" in currency.sample[0]
    assert created_at.sample and ":1 created_at=" in created_at.sample[0]


def test_contract_of_a_file_read_in_place_is_judged_on_its_own_values(warehouse):
    """Orders land as Parquet and are read in place: nothing of them is stored, yet the suite
    sees every one of them (a summary of the file)."""
    con, _ = warehouse
    stored = con.execute("select count(*) from raw.orders").fetchone()[0]
    in_place = con.execute(
        "select sum(rows_loaded) from meta.ingested_files where source = 'orders' and read_in_place"
    ).fetchone()[0]
    result = validate_contract(con, SOURCES["orders"], DAY, lookback_days=3)
    assert stored == 0 and in_place > 0
    assert result.passed and result.rows == in_place


def test_missing_export_for_the_day_fails_freshness(tmp_path):
    rows = combine_rows(f.rows for f in flows())
    write_rows(tmp_path / "landing", rows)
    for day_folder in (tmp_path / "landing" / "fulfillments").iterdir():
        if day_folder.name == DAY.isoformat():
            for file in day_folder.iterdir():
                file.unlink()
    with connect(tmp_path / "w.duckdb") as con:
        reconcile_partition(con, tmp_path / "landing", DAY)
        missing = fresh_result(con, KEY, SOURCES["fulfillments"], DAY)
        present = fresh_result(con, KEY, SOURCES["payments"], DAY)
    assert not missing.passed and "fulfillments/2026-05-06/" in missing.description
    assert present.passed


def test_the_cash_sources_need_an_export_only_where_they_are_used_and_payouts_never_daily(
    tmp_path,
):
    landing = tmp_path / "landing"
    write_rows(landing, combine_rows(f.rows for f in flows()))
    with connect(tmp_path / "w.duckdb") as con:
        reconcile_partition(con, landing, DAY)
        unused = fresh_result(con, KEY, SOURCES["settlements"], DAY, landing=landing)
        assert unused.passed and "not in use" in unused.description
        # A settlements folder without the day's report: the export is missing.
        (landing / "settlements" / (DAY - timedelta(days=1)).isoformat()).mkdir(parents=True)
        (landing / "payouts").mkdir()
        reconcile_partition(con, landing, DAY)
        missing = fresh_result(con, KEY, SOURCES["settlements"], DAY, landing=landing)
        no_payout = fresh_result(con, KEY, SOURCES["payouts"], DAY, landing=landing)
    assert not missing.passed and "settlements/2026-05-06/" in missing.description
    assert no_payout.passed  # a day without a payout is an ordinary day


def test_idempotency_key_rate_warns_above_the_threshold(warehouse):
    con, _ = warehouse
    strict = keys_result(KEY, *idempotency_key_rate(con, SOURCES["payments"], DAY), warn_rate=0.0)
    lenient = keys_result(KEY, *idempotency_key_rate(con, SOURCES["payments"], DAY), warn_rate=0.5)
    assert strict.metadata["keys_breaking_rule"].value > 0  # the duplicate charge's fresh key
    assert not strict.passed and strict.severity == dg.AssetCheckSeverity.WARN
    assert lenient.passed


def test_idempotency_key_rate_is_zero_for_safe_retries(warehouse):
    con, _ = warehouse
    result = keys_result(
        KEY, *idempotency_key_rate(con, SOURCES["inventory_moves"], DAY), warn_rate=0.0
    )
    assert result.passed and result.metadata["keys_breaking_rule"].value == 0


def over_the_project(invariant):
    """The check `invariant` makes of DAY over the project's relations, given a connection."""
    return lambda con: invariant(project_relations(con, DAY), KEY, DAY)


@pytest.mark.parametrize(
    ("check", "tamper"),
    [
        (
            lambda con: invariants.rows_conserved(con, KEY, "payments", DAY),
            "delete from raw.payments where _line = 1",
        ),
        (
            over_the_project(invariants.checkouts_traced),
            "insert into intermediate.int_checkout_spine "
            "select * from intermediate.int_checkout_spine limit 1",
        ),
        (
            over_the_project(invariants.checkouts_traced),
            "delete from intermediate.int_checkout_spine "
            "where checkout_key = surrogate_key('chk_0')",
        ),
        (
            over_the_project(invariants.checkouts_traced),
            "insert into intermediate.int_checkout_spine select * replace "
            "(surrogate_key('chk_invented') as checkout_key) "
            "from intermediate.int_checkout_spine limit 1",
        ),
        (
            over_the_project(invariants.money_conserved),
            "update intermediate.int_payment_ledger set captured_minor = captured_minor + 1 "
            "where checkout_key = surrogate_key('chk_0')",
        ),
        (
            over_the_project(invariants.discrepancy_ids_unique),
            "insert into marts.discrepancies select * from marts.discrepancies limit 1",
        ),
        (
            over_the_project(invariants.bridge_closes),
            "update marts.revenue_bridge set amount_minor = amount_minor - 1 "
            "where line = 'ordered'",
        ),
        (
            over_the_project(invariants.bridge_closes),
            "update marts.revenue_bridge set amount_minor = amount_minor - 1 "
            "where line = 'settled_gross'",
        ),
    ],
    ids=["rows", "doubled", "lost", "invented", "money", "ids", "bridge", "bridge_settled"],
)
def test_invariant_passes_on_clean_data_and_fails_when_broken(warehouse, check, tamper):
    con, _ = warehouse
    assert check(con).passed
    con.execute(tamper)
    broken = check(con)
    assert not broken.passed and broken.severity == dg.AssetCheckSeverity.ERROR
    assert any(v.value not in (None, [], 0) for v in broken.metadata.values())


@pytest.mark.slow
def test_blocking_contract_failure_stops_the_marts_and_fails_the_run(tmp_path):
    from pipelines.local_run import run_partition
    from recon.settings import ReconSettings

    rows = combine_rows(f.rows for f in flows())
    rows["payments"][0]["currency"] = "EUR"
    # A payment stamped a month before the window: ingestion accepts it, the contract does not.
    stale = dict(rows["payments"][1], payment_id="pay_stale", created_at=at("10:00", days=-40))
    write_rows(tmp_path / "landing", rows)
    write_rows(tmp_path / "landing", {"payments": [stale]}, name="late")
    # The stale row lands in its own (old) folder; move it into the day's folder as a bad export.
    old = next((tmp_path / "landing" / "payments").glob("*/late-00.jsonl"))
    old.rename(tmp_path / "landing" / "payments" / DAY.isoformat() / "late-00.jsonl")
    settings = ReconSettings(
        landing_dir=tmp_path / "landing",
        warehouse_path=tmp_path / "w.duckdb",
        out_dir=str(tmp_path / "out"),
    )
    outcome = run_partition(settings, DAY)
    assert not outcome.success
    failed = [
        name for name, passed, severity, _ in outcome.checks if not passed and severity == "ERROR"
    ]
    assert failed == ["raw/payments:contract"]
    assert "FAILED raw/payments:contract" in outcome.report()
    assert not (tmp_path / "out" / "discrepancies.parquet").exists()


def _warehouse_with(tmp_path, change) -> duckdb.DuckDBPyConnection:
    rows = combine_rows(f.rows for f in flows())
    change(rows)
    write_rows(tmp_path / "landing", rows)
    con = connect(tmp_path / "w.duckdb")
    reconcile_partition(con, tmp_path / "landing", DAY)
    return con


def test_an_order_created_before_the_window_warns_and_does_not_block(tmp_path):
    """A cancellation exported two weeks after the order: the row's own instant (updated_at) is
    in the window, its created_at before it. The day is reconciled; the late row is named."""

    def cancel_an_old_order(rows):
        order = rows["orders"][0]
        order["created_at"] = order["updated_at"] - timedelta(days=14)

    con = _warehouse_with(tmp_path, cancel_an_old_order)
    result = validate_contract(con, SOURCES["orders"], DAY, lookback_days=3)
    assert result.passed and not contract_result(KEY, result).description
    [late] = result.late
    assert late.column == "created_at" and late.observed.startswith("1 of ")
    warning = late_result(KEY, result)
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert "created_at" in warning.description and "--lookback" in warning.description


def test_an_order_created_after_the_window_fails_the_contract(tmp_path):
    """No server instant may lie after the window: a wrong clock or a misfiled row."""

    def create_in_the_future(rows):
        rows["orders"][0]["created_at"] = rows["orders"][0]["created_at"] + timedelta(days=40)

    con = _warehouse_with(tmp_path, create_in_the_future)
    result = validate_contract(con, SOURCES["orders"], DAY, lookback_days=3)
    [failure] = result.failures
    assert failure.column == "created_at" and not failure.late and not result.passed
    assert failure.sample and "created_at=" in failure.sample[0]
    assert late_result(KEY, result).passed


def test_only_sources_with_other_server_instants_have_the_late_check():
    late = {name for name, source in SOURCES.items() if has_late_columns(source)}
    assert late == {"orders", "fulfillments"}
