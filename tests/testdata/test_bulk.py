"""The benchmark generator: exact anomalies, contract-clean data, same seed same files; and the
plain-SQL baseline of the benchmark (bench/baseline.py) finds exactly what was injected."""

import importlib.util
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl

from recon.contract import SOURCES
from recon.contract_suites import validate_contract
from recon.discrepancy_types import type_names
from recon.reconcile import discrepancies, reconcile_partition
from recon.run_params import RunParams
from recon.warehouse import connect
from testdata.bulk import CLEAN, PROVIDER_ANOMALIES, SCENARIOS, BulkSummary, generate_bulk
from testdata.scoring import Score
from testdata.settlement import REFERENCE_FEE_SCHEDULE
from tests.settlement_types import SETTLEMENT_TYPES

DAY = date(2026, 5, 6)
# The settings the generated data is reconciled with: the reference provider's fee schedule, the
# default SLA (3 days), lookback (3) and tolerances (none).
PARAMS = RunParams(fee_schedule=REFERENCE_FEE_SCHEDULE)


def _truth_pairs(truth: pl.DataFrame) -> set[tuple[str, str]]:
    """(checkout, type), a finding with no checkout named by its subject (as scoring does)."""
    named = pl.coalesce("checkout_id", "subject_id")
    return set(truth.select(named, "type").iter_rows())


def _generated(landing: Path, *, checkouts: int, seed: int) -> tuple[BulkSummary, pl.DataFrame]:
    """Bulk data for DAY generated into `landing`: its summary and its ground truth."""
    summary = generate_bulk(landing, DAY, checkouts=checkouts, seed=seed)
    return summary, pl.read_parquet(landing / "_ground_truth.parquet")


def _assert_every_scenario_injected(summary: BulkSummary, truth: pl.DataFrame) -> None:
    """The truth holds each anomaly the summary counts, of every scenario but the clean ones."""
    assert truth.height == summary.anomalies > 0
    assert set(truth["cause"]) == {name for name, _, _ in SCENARIOS if name not in CLEAN} | set(
        PROVIDER_ANOMALIES
    )


def _baseline():
    path = Path(__file__).resolve().parents[2] / "bench" / "baseline.py"
    spec = importlib.util.spec_from_file_location("bench_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ground_truth_has_every_type_and_scenario(tmp_path):
    summary, truth = _generated(tmp_path / "landing", checkouts=2000, seed=5)
    _assert_every_scenario_injected(summary, truth)
    assert set(truth["type"]) == set(type_names())
    assert set(truth["type"]) >= SETTLEMENT_TYPES
    # Tied to a checkout, or to the provider's line or payout: never both, never neither.
    assert truth.filter(
        pl.col("checkout_id").is_null() == pl.col("subject_id").is_null()
    ).is_empty()
    no_checkout = truth.filter(pl.col("checkout_id").is_null())
    assert set(no_checkout["type"]) == set(PROVIDER_ANOMALIES)
    # One charge line no capture explains per 1,000 checkouts; the EUR payout arriving on D.
    assert no_checkout["type"].to_list().count("settlement_without_capture") == 2
    assert no_checkout.filter(pl.col("type") == "payout_mismatch")["subject_id"].to_list() == [
        "po_20260506_20260504_eur"
    ]
    # Every settle date from D-2 on has a settlement file (D's is never empty).
    settled = sorted(p.name for p in (tmp_path / "landing" / "settlements").iterdir())
    assert settled[:3] == ["2026-05-04", "2026-05-05", "2026-05-06"]


def test_baseline_finds_exactly_the_injected_anomalies(tmp_path):
    _, truth = _generated(tmp_path / "landing", checkouts=2000, seed=5)
    baseline = _baseline()
    _, found = baseline.run_baseline(tmp_path / "landing", DAY, params=PARAMS)
    assert found == _truth_pairs(truth)
    assert baseline.compare_with_truth(tmp_path / "landing", found).startswith(
        "ground truth: equal"
    )
    # With no fee schedule (the pipeline's default), fees are not checked.
    _, unpriced = baseline.run_baseline(
        tmp_path / "landing", DAY, params=replace(PARAMS, fee_schedule=RunParams().fee_schedule)
    )
    assert unpriced == {(c, t) for c, t in found if t != "fee_mismatch"}


def test_baseline_without_the_providers_reports_finds_no_cash_type(tmp_path):
    landing = tmp_path / "landing"
    _, truth = _generated(landing, checkouts=500, seed=3)
    for source in ("settlements", "payouts"):
        for file in (landing / source).glob("*/*.parquet"):
            file.unlink()
        for folder in (landing / source).iterdir():
            folder.rmdir()
        (landing / source).rmdir()
    _, found = _baseline().run_baseline(landing, DAY, params=PARAMS)
    assert found == {(c, t) for c, t in _truth_pairs(truth) if t not in SETTLEMENT_TYPES}


def test_pipeline_finds_exactly_the_injected_anomalies_and_contracts_pass(tmp_path):
    summary, truth = _generated(tmp_path / "landing", checkouts=3000, seed=5)
    _assert_every_scenario_injected(summary, truth)  # every one appears at this size
    with connect(tmp_path / "w.duckdb") as con:
        reports = reconcile_partition(con, tmp_path / "landing", DAY, params=PARAMS)
        found = {(d["checkout_id"] or d["subject_id"], d["type"]) for d in discrepancies(con, DAY)}
        assert all(r.rows_quarantined == 0 for r in reports.values())
        for source in SOURCES.values():
            result = validate_contract(con, source, DAY, lookback_days=3)
            assert result.passed, (source.name, result.failures)
    score = Score(frozenset(_truth_pairs(truth)), frozenset(found))
    assert (score.recall, score.precision) == (1.0, 1.0), score.describe()


def test_same_seed_same_data(tmp_path):
    one = generate_bulk(tmp_path / "a", DAY, checkouts=500, seed=2)
    two = generate_bulk(tmp_path / "b", DAY, checkouts=500, seed=2)
    generate_bulk(tmp_path / "c", DAY, checkouts=500, seed=3)
    assert one.rows == two.rows
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").glob("*/*/*.parquet"))
    assert files == sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").glob("*/*/*.parquet")
    )
    assert {f.parts[0] for f in files} == set(SOURCES)
    for path in files:
        assert pl.read_parquet(tmp_path / "a" / path).equals(pl.read_parquet(tmp_path / "b" / path))
    first = pl.read_parquet(tmp_path / "a" / "_ground_truth.parquet")
    assert first.equals(pl.read_parquet(tmp_path / "b" / "_ground_truth.parquet"))
    assert not first.equals(pl.read_parquet(tmp_path / "c" / "_ground_truth.parquet"))
