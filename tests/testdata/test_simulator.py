"""The simulator end to end: deterministic landing data, a clean profile that reconciles without
a money discrepancy under network faults, the provider's settlement report and payouts for the
recorded payments, and ground truth the pipeline finds exactly."""

import filecmp
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from recon.discrepancy_types import money_types, type_names
from recon.reconcile import discrepancies, reconcile_partition
from recon.run_params import RunParams
from testdata.scoring import Score, score
from testdata.settlement import REFERENCE_FEE_SCHEDULE
from testdata.simulator import run, simulate
from tests.settlement_types import SETTLEMENT_TYPES

DAY = date(2026, 3, 10)
# Money out of place, and what the service must not hold when a day ends either.
MONEY_TYPES = money_types() | {"orphaned_reservation", "uncaptured_authorization"}
# The simulated provider's data reconciles with its fee schedule (lookback and SLA: 3 days).
PARAMS = RunParams(fee_schedule=REFERENCE_FEE_SCHEDULE)
# The findings of the provider's reports that no checkout owns: named by their subject.
SUBJECT_TYPES = {"settlement_without_capture", "payout_mismatch"}
SERVICE_SOURCES = ("orders", "payments", "inventory_moves", "fulfillments", "analytics_events")


def reconcile(landing: Path) -> tuple[set[tuple[str, str]], int]:
    """The (checkout_id, type) pairs found for DAY (a finding without a checkout named by its
    subject), and how many rows were quarantined."""
    con = duckdb.connect()
    try:
        reports = reconcile_partition(con, landing, DAY, params=PARAMS)
        found = {(d["checkout_id"] or d["subject_id"], d["type"]) for d in discrepancies(con, DAY)}
    finally:
        con.close()
    return found, sum(report.rows_quarantined for report in reports.values())


def scored(landing: Path, out: Path) -> tuple[Score, int]:
    """The pipeline's findings for DAY scored against the ground truth (testdata.scoring, as
    `recon demo` scores them), and how many rows were quarantined."""
    con = duckdb.connect()
    try:
        reports = reconcile_partition(con, landing, DAY, params=PARAMS)
        found = discrepancies(con, DAY)
    finally:
        con.close()
    out.mkdir(parents=True, exist_ok=True)
    named = {"checkout_id": pl.String, "subject_id": pl.String, "type": pl.String}
    pl.DataFrame(
        [{c: d[c] for c in named} for d in found], schema=named, orient="row"
    ).write_parquet(out / "found.parquet")
    quarantined = sum(report.rows_quarantined for report in reports.values())
    return score(landing / "_ground_truth.parquet", out / "found.parquet"), quarantined


def truth(landing: Path) -> set[tuple[str, str]]:
    frame = pl.read_parquet(landing / "_ground_truth.parquet")
    assert frame.columns == ["checkout_id", "type", "cause", "subject_id"]
    assert set(frame["type"]) <= set(type_names())
    # Exactly one of checkout and subject names each anomaly: the subject only where no
    # checkout owns it.
    for checkout_id, type_, subject_id in frame.select("checkout_id", "type", "subject_id").rows():
        assert (checkout_id is None) == (type_ in SUBJECT_TYPES) == (subject_id is not None)
    named = pl.coalesce("checkout_id", "subject_id").alias("checkout_id")
    return set(frame.select(named, "type").iter_rows())


def named(summary) -> set[tuple[str, str]]:
    return {(a.checkout_id or a.subject_id, a.type) for a in summary.ground_truth}


def landed(landing: Path, source: str) -> pl.DataFrame:
    """All rows of a provider source (settlements: CSV, payouts: JSON lines), with `_folder`."""
    frames = []
    for path in sorted((landing / source).glob("*/*")):
        read = pl.read_csv if path.suffix == ".csv" else pl.read_ndjson
        frame = read(path, infer_schema_length=None)
        frames.append(frame.with_columns(_folder=pl.lit(date.fromisoformat(path.parent.name))))
    return pl.concat(frames, how="diagonal_relaxed")


def payments(landing: Path) -> pl.DataFrame:
    return pl.concat(
        [pl.read_ndjson(p) for p in sorted((landing / "payments").glob("*/*"))],
        how="diagonal_relaxed",
    ).with_columns(pl.col("created_at").str.to_datetime(time_zone="UTC"))


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


def test_simulating_the_next_day_into_the_same_landing_keeps_the_first_days_files(tmp_path):
    """A day's provider reports land on the days after it, in the folders the next day's own
    simulation writes: neither may overwrite the other."""
    simulate(tmp_path, DAY, 20, seed=2, profile="realistic")
    first = {name: (tmp_path / name).read_bytes() for name in files(tmp_path)}
    later = [name for name in first if len(name.parts) == 3 and name.parts[1] > DAY.isoformat()]
    assert later  # settlements and payouts of DAY, in later days' folders

    simulate(tmp_path, DAY + timedelta(days=1), 20, seed=3, profile="realistic")

    kept = {name for name in first if name.name != "_ground_truth.parquet"}
    assert all((tmp_path / name).read_bytes() == first[name] for name in kept)
    assert len(files(tmp_path)) > len(first)


def test_every_record_falls_on_the_business_date(tmp_path):
    simulate(tmp_path, DAY, 20, seed=2, profile="realistic")
    folders = {
        (path.parts[0], date.fromisoformat(path.parts[1]))
        for path in files(tmp_path)
        if len(path.parts) == 3
    }
    assert {day for source, day in folders if source in SERVICE_SOURCES} == {DAY}
    # The provider's reports: settled one or two days later (a chargeback one more), its daily
    # account fee from D-2, each date's payout created the day after its lines.
    settled = {day for source, day in folders if source == "settlements"}
    paid = {day for source, day in folders if source == "payouts"}
    around = {DAY + timedelta(days=n) for n in range(-2, 3)}
    assert around <= settled <= around | {DAY + timedelta(days=3)}
    assert (
        {d + timedelta(days=1) for d in around} <= paid <= {d + timedelta(days=1) for d in settled}
    )


def test_the_clean_profile_has_no_money_discrepancy_under_network_faults(tmp_path):
    summary = simulate(tmp_path, DAY, 50, seed=3, profile="clean")
    # The faults really happened: ambiguous timeouts, undelivered requests, crashes.
    for kind in ("lose_response", "fail_before", "crash", "latency"):
        assert summary.faults[kind] > 0, kind
    assert summary.ground_truth == []
    found, quarantined = reconcile(tmp_path)
    assert quarantined == 0
    assert {pair for pair in found if pair[1] in MONEY_TYPES} == set()
    # Clean browsers and a provider that settles as agreed too, so nothing at all.
    assert found == set()
    assert "injected faults" in summary.describe()


def test_the_provider_settles_every_recorded_capture_and_refund_once_and_pays_it_out(tmp_path):
    summary = simulate(tmp_path, DAY, 30, seed=3, profile="clean")
    assert summary.rows["settlements"] > 0 and summary.rows["payouts"] > 0
    lines = landed(tmp_path, "settlements")
    recorded = payments(tmp_path).filter(
        pl.col("status") == "succeeded", pl.col("kind").is_in(["capture", "refund"])
    )
    assert recorded.height > 0
    settled = Counter(
        (line["psp_reference"], line["line_type"])
        for line in lines.filter(pl.col("line_type") != "fee").iter_rows(named=True)
    )
    line_type = {"capture": "charge", "refund": "refund"}
    assert settled == Counter(
        (p["psp_reference"], line_type[p["kind"]]) for p in recorded.iter_rows(named=True)
    )
    # T+1 or T+2, at the scheduled fee, in the payout of the line's settle date.
    by_reference = {p["psp_reference"]: p for p in recorded.iter_rows(named=True)}
    for line in lines.filter(pl.col("line_type") != "fee").iter_rows(named=True):
        payment = by_reference[line["psp_reference"]]
        assert (line["_folder"] - payment["created_at"].date()).days in (1, 2)
        sign = 1 if payment["kind"] == "capture" else -1
        assert line["gross_minor"] == sign * payment["amount_minor"]
        assert line["net_minor"] == line["gross_minor"] - line["fee_minor"]
        assert line["payout_id"] == f"po_{DAY:%Y%m%d}-0_{line['_folder']:%Y%m%d}_eur"
    # Every payout is its lines' net, and one arrives on the day.
    payouts = landed(tmp_path, "payouts")
    nets = dict(lines.group_by("payout_id").agg(pl.col("net_minor").sum()).iter_rows())
    assert {p: a for p, a in payouts.select("payout_id", "amount_minor").iter_rows()} == nets
    assert DAY in {datetime.fromisoformat(a).date() for a in payouts["arrival_date"]}


@pytest.mark.parametrize("seed", [1, 2])
def test_the_realistic_profile_scores_recall_and_precision_one(tmp_path, seed):
    summary = simulate(tmp_path / "landing", DAY, 60, seed=seed, profile="realistic")
    expected = truth(tmp_path / "landing")
    assert expected, "the profile injects anomalies"
    assert named(summary) == expected
    # Every settlement type, old types beside them.
    assert {t for _, t in expected} >= SETTLEMENT_TYPES
    assert {t for _, t in expected} - SETTLEMENT_TYPES
    result, quarantined = scored(tmp_path / "landing", tmp_path / "out")
    assert quarantined == 0
    assert (result.recall, result.precision) == (1.0, 1.0), result.describe()
    assert result.expected == frozenset(expected)


def test_the_provider_faults_touch_only_clean_captures_each_once(tmp_path):
    summary = simulate(tmp_path, DAY, 60, seed=2, profile="realistic")
    by_checkout: dict[str, set[str]] = {}
    for anomaly in summary.ground_truth:
        if anomaly.checkout_id is not None:
            by_checkout.setdefault(anomaly.checkout_id, set()).add(anomaly.type)
    browser_types = {"unattributed_revenue", "phantom_completion", "duplicate_analytics_event"}
    recorded = payments(tmp_path)
    for anomaly in summary.ground_truth:
        if anomaly.type not in SETTLEMENT_TYPES - SUBJECT_TYPES:
            continue
        # No other payment or settlement anomaly on the checkout: browser trouble at most.
        assert by_checkout[anomaly.checkout_id] - browser_types == {anomaly.type}
        rows = recorded.filter(pl.col("checkout_id") == anomaly.checkout_id)
        assert sorted(rows.select("kind", "status").iter_rows()) == [
            ("authorization", "succeeded"),
            ("capture", "succeeded"),
        ]
        if anomaly.type == "capture_not_settled":
            # Past the 3-day SLA on the report's clock, its latest payout at D+3 12:00.
            captured = rows.filter(pl.col("kind") == "capture")["created_at"].item()
            assert captured < datetime.combine(DAY, time(12), captured.tzinfo)
    lines = landed(tmp_path, "settlements")
    # A dispute won too (charged back and reversed): no finding of the checkout's.
    reversed_ = lines.filter(pl.col("line_type") == "chargeback_reversal")["psp_reference"]
    won = recorded.filter(pl.col("psp_reference").is_in(reversed_.to_list()))["checkout_id"]
    assert won.len() == 1 and won.item() not in by_checkout
    subjects = {a.type: a.subject_id for a in summary.ground_truth if a.type in SUBJECT_TYPES}
    assert subjects["settlement_without_capture"] in set(lines["settlement_line_id"])
    short = subjects["payout_mismatch"]
    assert short == f"po_{DAY:%Y%m%d}-0_{DAY - timedelta(days=2):%Y%m%d}_eur"
    payouts = landed(tmp_path, "payouts").filter(pl.col("payout_id") == short)
    net = lines.filter(pl.col("payout_id") == short)["net_minor"].sum()
    assert payouts["amount_minor"].item() == net - 500


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
    } | SETTLEMENT_TYPES <= types
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
    summary = simulate(tmp_path / "landing", DAY, 60, seed=1, profile="realistic", lanes=2)
    expected = truth(tmp_path / "landing")
    assert expected and named(summary) == expected
    # Each lane's provider report is its own: its payouts, its faults.
    payouts = landed(tmp_path / "landing", "payouts")
    tags = {pid.split("_")[1] for pid in payouts["payout_id"]}
    assert tags == {f"{DAY:%Y%m%d}-0", f"{DAY:%Y%m%d}-1"}
    by_type = Counter(a.type for a in summary.ground_truth)
    assert all(by_type[t] >= 2 for t in SETTLEMENT_TYPES), by_type
    result, quarantined = scored(tmp_path / "landing", tmp_path / "out")
    assert quarantined == 0
    assert (result.recall, result.precision) == (1.0, 1.0), result.describe()
