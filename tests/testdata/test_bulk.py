"""The benchmark generator: exact anomalies, contract-clean data, same seed same files."""

from datetime import date

import polars as pl

from recon.contract import SOURCES
from recon.contract_suites import validate_contract
from recon.reconcile import discrepancies, reconcile_partition
from recon.warehouse import connect
from testdata.bulk import SCENARIOS, generate_bulk

DAY = date(2026, 5, 6)


def test_pipeline_finds_exactly_the_injected_anomalies_and_contracts_pass(tmp_path):
    summary = generate_bulk(tmp_path / "landing", DAY, checkouts=3000, seed=5)
    truth = pl.read_parquet(tmp_path / "landing" / "_ground_truth.parquet")
    assert truth.height == summary.anomalies > 0
    # Every anomaly scenario appears at this size.
    assert set(truth["cause"]) == {
        name for name, _, _ in SCENARIOS if name not in ("happy", "cancelled_with_void", "declined")
    }
    with connect(tmp_path / "w.duckdb") as con:
        reports = reconcile_partition(con, tmp_path / "landing", DAY)
        found = {(d["checkout_id"], d["type"]) for d in discrepancies(con, DAY)}
        assert all(r.rows_quarantined == 0 for r in reports.values())
        for source in SOURCES.values():
            result = validate_contract(con, source, DAY, lookback_days=3)
            assert result.passed, (source.name, result.failures)
    assert found == set(truth.select("checkout_id", "type").iter_rows())


def test_same_seed_same_data(tmp_path):
    one = generate_bulk(tmp_path / "a", DAY, checkouts=500, seed=2)
    two = generate_bulk(tmp_path / "b", DAY, checkouts=500, seed=2)
    generate_bulk(tmp_path / "c", DAY, checkouts=500, seed=3)
    assert one.rows == two.rows
    for source in SOURCES:
        path = f"{source}/{DAY}/bulk.parquet"
        assert pl.read_parquet(tmp_path / "a" / path).equals(pl.read_parquet(tmp_path / "b" / path))
    first = pl.read_parquet(tmp_path / "a" / "_ground_truth.parquet")
    assert not first.equals(pl.read_parquet(tmp_path / "c" / "_ground_truth.parquet"))
