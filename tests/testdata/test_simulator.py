"""The simulator end to end: deterministic landing data, a clean profile that reconciles without
a money discrepancy under network faults, and ground truth the pipeline finds exactly."""

import filecmp
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from recon.discrepancy_types import money_types, type_names
from recon.reconcile import discrepancies, reconcile_partition
from testdata.simulator import run, simulate

DAY = date(2026, 3, 10)
# Money out of place, and what the service must not hold when a day ends either.
MONEY_TYPES = money_types() | {"orphaned_reservation", "uncaptured_authorization"}


def reconcile(landing: Path) -> tuple[set[tuple[str, str]], int]:
    """The (checkout_id, type) pairs found for DAY, and how many rows were quarantined."""
    con = duckdb.connect()
    try:
        reports = reconcile_partition(con, landing, DAY)
        found = {(d["checkout_id"], d["type"]) for d in discrepancies(con, DAY)}
    finally:
        con.close()
    return found, sum(report.rows_quarantined for report in reports.values())


def truth(landing: Path) -> set[tuple[str, str]]:
    frame = pl.read_parquet(landing / "_ground_truth.parquet")
    assert frame.columns == ["checkout_id", "type", "cause"]
    assert set(frame["type"]) <= set(type_names())
    return set(frame.select("checkout_id", "type").iter_rows())


def files(landing: Path) -> list[Path]:
    return sorted(p.relative_to(landing) for p in landing.rglob("*") if p.is_file())


def test_the_same_seed_gives_the_same_landing_files_and_ground_truth(tmp_path):
    first = simulate(tmp_path / "a", DAY, 30, seed=5, profile="chaos")
    second = simulate(tmp_path / "b", DAY, 30, seed=5, profile="chaos")
    assert files(tmp_path / "a") == files(tmp_path / "b")
    for name in files(tmp_path / "a"):
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False), name
    assert first.ground_truth == second.ground_truth
    other = simulate(tmp_path / "c", DAY, 20, seed=6, profile="chaos")
    assert other.ground_truth != first.ground_truth


def test_every_record_falls_on_the_business_date(tmp_path):
    simulate(tmp_path, DAY, 20, seed=2, profile="realistic")
    days = {path.parent.name for path in files(tmp_path) if len(path.parts) == 3}
    assert days == {DAY.isoformat()}


def test_the_clean_profile_has_no_money_discrepancy_under_network_faults(tmp_path):
    summary = simulate(tmp_path, DAY, 50, seed=3, profile="clean")
    # The faults really happened: ambiguous timeouts, undelivered requests, crashes.
    for kind in ("lose_response", "fail_before", "crash", "latency"):
        assert summary.faults[kind] > 0, kind
    assert summary.ground_truth == []
    found, quarantined = reconcile(tmp_path)
    assert quarantined == 0
    assert {pair for pair in found if pair[1] in MONEY_TYPES} == set()
    # Clean browsers too, so nothing at all.
    assert found == set()
    assert "injected faults" in summary.describe()


@pytest.mark.parametrize("seed", [1, 2])
def test_the_realistic_profile_scores_recall_and_precision_one(tmp_path, seed):
    summary = simulate(tmp_path, DAY, 60, seed=seed, profile="realistic")
    expected = truth(tmp_path)
    assert expected, "the profile injects anomalies"
    assert {(a.checkout_id, a.type) for a in summary.ground_truth} == expected
    found, quarantined = reconcile(tmp_path)
    assert quarantined == 0
    assert found - expected == set(), "precision below 1.0"
    assert expected - found == set(), "recall below 1.0"


def test_the_chaos_profile_reproduces_each_unsafe_behaviour_exactly(tmp_path):
    summary = simulate(tmp_path, DAY, 60, seed=5, profile="chaos")
    expected = truth(tmp_path)
    types = {a.type for a in summary.ground_truth}
    assert {
        "duplicate_charge",
        "duplicate_order",
        "payment_without_order",
        "orphaned_reservation",
        "fulfillment_after_cancellation",
        "refund_exceeds_capture",
        "unattributed_revenue",
    } <= types
    found, _ = reconcile(tmp_path)
    assert found == expected


def test_lanes_give_the_same_files_in_worker_processes_as_in_this_one(tmp_path, monkeypatch):
    # Worker processes even for a small day and on one core.
    monkeypatch.setattr(run, "PARALLEL_FROM", 0)
    monkeypatch.setattr(run, "_cores", lambda: 2)
    reported = []
    parallel = simulate(
        tmp_path / "parallel",
        DAY,
        30,
        seed=5,
        profile="chaos",
        lanes=2,
        data_dir=tmp_path / "services",
        progress=lambda done, total: reported.append((done, total)),
    )
    assert reported == [(30, 30)]
    assert (tmp_path / "services" / "lane-1" / "payment.sqlite3").exists()
    monkeypatch.setattr(run, "_cores", lambda: 1)
    serial = simulate(tmp_path / "serial", DAY, 30, seed=5, profile="chaos", lanes=2)
    assert files(tmp_path / "parallel") == files(tmp_path / "serial")
    for name in files(tmp_path / "parallel"):
        assert filecmp.cmp(tmp_path / "parallel" / name, tmp_path / "serial" / name, shallow=False)
    assert parallel.ground_truth == serial.ground_truth
    assert (parallel.outcomes, parallel.faults) == (serial.outcomes, serial.faults)
    # Each lane draws record IDs of its own: the day's checkouts are all distinct.
    orders = pl.read_parquet(next((tmp_path / "parallel" / "orders").rglob("*.parquet")))
    assert orders["checkout_id"].n_unique() == orders.filter(pl.col("status") == "placed").height


def test_a_failing_lane_process_fails_the_simulation(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "PARALLEL_FROM", 0)
    monkeypatch.setattr(run, "_cores", lambda: 2)
    taken = tmp_path / "taken"
    taken.write_text("a file where the lanes' databases would go\n")
    with pytest.raises(RuntimeError, match=r"(?s)simulator lane \d failed.*NotADirectoryError"):
        simulate(tmp_path / "landing", DAY, 10, seed=5, profile="clean", lanes=2, data_dir=taken)


def test_the_lanes_of_a_day_score_recall_and_precision_one(tmp_path):
    summary = simulate(tmp_path, DAY, 60, seed=1, profile="realistic", lanes=2)
    expected = truth(tmp_path)
    assert expected and {(a.checkout_id, a.type) for a in summary.ground_truth} == expected
    found, quarantined = reconcile(tmp_path)
    assert quarantined == 0
    assert found == expected
