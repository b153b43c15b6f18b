"""The synthetic landing generator: deterministic, contract-shaped, and its ground truth is exactly
what the discrepancy rules of docs/rules.md find in the files it writes (checked here by a small
reference implementation of those rules, independent of the SQL pipeline)."""

import csv
import json
import random
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recon.cash_settings import expected_fee
from recon.discrepancy_types import type_names
from recon.landing_writer import COLUMNS, LANDING_TIME
from recon.reconcile import discrepancies, reconcile_partition
from recon.run_params import RunParams
from testdata.flows import STEPS, Attribution, CheckoutFlow
from testdata.scoring import score
from testdata.settlement import REFERENCE_FEE_SCHEDULE, settle
from testdata.synthetic import (
    ANOMALY_SCENARIOS,
    GROUND_TRUTH_FILE,
    MIN_CHECKOUTS,
    PROVIDER_ANOMALIES,
    SCENARIOS,
    Context,
    RawLine,
    as_of,
    generate_landing,
    write_rows,
)

DAY = date(2026, 3, 10)
# The types docs/rules.md names, written out so a rename anywhere is caught.
# Scenarios whose story is an unsafe retry under a fresh idempotency key.
RETRY_TYPES = {
    "duplicate_charge",
    "duplicate_order",
    "refund_exceeds_capture",
    "orphaned_reservation",
}
SERVER_TIMES = {
    "orders": "updated_at",
    "payments": "created_at",
    "inventory_moves": "created_at",
    "fulfillments": "updated_at",
}
# The sources whose every row belongs to a checkout (the provider's reports name payments).
CHECKOUT_SOURCES = (*SERVER_TIMES, "analytics_events")
# The pipeline settings the generated data reconciles with (docs/settlement.md).
LOOKBACK_DAYS = 3
SETTLEMENT_SLA = timedelta(days=3)
PARAMS = RunParams(
    lookback_days=LOOKBACK_DAYS, settlement_sla_days=3, fee_schedule=REFERENCE_FEE_SCHEDULE
)
INTEGERS = ("quantity", "gross_minor", "fee_minor", "net_minor", "amount_minor")


# -- reading the landing back -------------------------------------------------------------------


def _parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None  # the deliberately unparseable value


def _read_file(path: Path) -> tuple[list[str], list[dict]]:
    """(columns, rows) of one landing file; malformed lines are skipped."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return table.column_names, table.to_pylist()
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            rows = [dict(row) for row in reader]
            return list(reader.fieldnames or []), rows
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return sorted({key for row in rows for key in row}), rows


def _typed(row: dict) -> dict:
    typed = dict(row)
    for column in (
        "created_at",
        "updated_at",
        "occurred_at",
        "received_at",
        "settled_at",
        "arrival_date",
    ):
        if column in typed:
            typed[column] = _parse_time(typed[column])
    for column in INTEGERS:
        if isinstance(typed.get(column), str):
            typed[column] = int(typed[column])
    if typed.get("psp_reference") == "":
        typed["psp_reference"] = None  # CSV writes a null as an empty field
    return typed


def _load(landing: Path) -> dict[str, list[dict]]:
    """Every parseable row per source, each tagged with the landing date of its folder."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(landing.glob("*/*/*")):
        source, folder = path.parts[-3], date.fromisoformat(path.parts[-2])
        rows[source] += [{**_typed(row), "_folder": folder} for row in _read_file(path)[1]]
    return dict(rows)


# -- a reference implementation of the discrepancy rules of docs/rules.md -------------------------


def _latest(rows: list[dict], key: str) -> list[dict]:
    latest: dict[str, dict] = {}
    for row in sorted(rows, key=lambda r: r["updated_at"]):
        latest[row[key]] = row
    return list(latest.values())


def _checkout_types(data: dict[str, list[dict]], clock: datetime) -> set[str]:
    ok = [p for p in data["payments"] if p["status"] == "succeeded"]
    auths = [p for p in ok if p["kind"] == "authorization"]
    children = defaultdict(set)
    for p in ok:
        children[p["parent_payment_id"]].add(p["kind"])
    voided = [a for a in auths if "void" in children[a["payment_id"]]]
    held = [a for a in auths if not children[a["payment_id"]] & {"capture", "void"}]
    captured = sum(p["amount_minor"] for p in ok if p["kind"] == "capture")
    refunded = sum(p["amount_minor"] for p in ok if p["kind"] == "refund")
    captures = [p for p in ok if p["kind"] == "capture"]
    orders = _latest(data["orders"], "order_id")
    open_orders = [o for o in orders if o["status"] == "placed"]
    cancelled = {o["order_id"] for o in orders if o["status"] == "cancelled"}
    events = Counter(e["event_name"] for e in data["analytics_events"])
    completions = [e for e in data["analytics_events"] if e["event_name"] == "checkout_completed"]
    moves = defaultdict(list)
    for move in data["inventory_moves"]:
        moves[move["reservation_id"]].append(move)

    found = set()
    if len(captures) >= 2 or len(auths) - len(voided) >= 2:
        found.add("duplicate_charge")
    if not open_orders and (captured > refunded or held):
        found.add("payment_without_order")
    all_voided = auths and len(voided) == len(auths) and not captured
    fully_refunded = captured and refunded >= captured
    for fulfillment in _latest(data["fulfillments"], "fulfillment_id"):
        live = fulfillment["status"] in ("requested", "shipped")
        if live and (fulfillment["order_id"] in cancelled or all_voided or fully_refunded):
            found.add("fulfillment_after_cancellation")
    if refunded > captured:
        found.add("refund_exceeds_capture")
    if len(open_orders) >= 2:
        found.add("duplicate_order")
    if open_orders and not captures and not held:
        found.add("order_without_payment")
    if "duplicate_charge" not in found and len(open_orders) == 1 and captures:
        order = open_orders[0]
        if captured != order["total_minor"] or {p["currency"] for p in captures} != {
            order["currency"]
        }:
            found.add("amount_mismatch")
    for reservation in moves.values():
        kinds = {m["kind"] for m in reservation}
        reserved = min(m["created_at"] for m in reservation if m["kind"] == "reserve")
        if not kinds & {"release", "commit"} and reserved + timedelta(minutes=30) <= clock:
            found.add("orphaned_reservation")
    if any(a["created_at"] + timedelta(hours=24) <= clock for a in held):
        found.add("uncaptured_authorization")
    if completions and not orders:
        found.add("phantom_completion")
    if events["checkout_started"] > 1 or events["checkout_completed"] > 1:
        found.add("duplicate_analytics_event")
    campaign_orders = [o for o in open_orders if o["utm_source"]]
    if campaign_orders and not any(e["utm_source"] for e in completions):
        found.add("unattributed_revenue")
    return found


def _valid_lines(lines: list[dict]) -> list[dict]:
    """The lines ingestion keeps: a known line type and net = gross - fee."""
    known = ("charge", "refund", "chargeback", "chargeback_reversal", "fee", "adjustment")
    return [
        line
        for line in lines
        if line["line_type"] in known
        and line["net_minor"] == line["gross_minor"] - line["fee_minor"]
    ]


def _in_window(rows: list[dict], stamp: str, day: date) -> list[dict]:
    low, high = day - timedelta(days=LOOKBACK_DAYS), day + timedelta(days=LOOKBACK_DAYS)
    return [row for row in rows if low <= row[stamp].date() <= high]


def _cash_findings(
    payments: list[dict], lines: list[dict], payouts: list[dict], day: date
) -> set[tuple[str, str, date]]:
    """(checkout_id or subject, type, date it is reported on) of the settlement rules of
    docs/settlement.md, over the lines and payouts of `day`'s read window; a checkout's finding
    is dated by the capture (its checkout's date is the caller's to check)."""
    lines = _in_window(_valid_lines(lines), "settled_at", day)
    payouts = _in_window(payouts, "created_at", day)
    clock = max([r["settled_at"] for r in lines] + [p["created_at"] for p in payouts])
    ok = [p for p in payments if p["status"] == "succeeded"]
    captures = {p["psp_reference"]: p for p in ok if p["kind"] == "capture"}
    refunds = {p["psp_reference"]: p for p in ok if p["kind"] == "refund"}
    by_ref: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for line in lines:
        by_ref[(line["psp_reference"], line["line_type"])].append(line)

    found: set[tuple[str, str, date]] = set()

    def of(payment: dict, type_: str) -> None:
        found.add((payment["checkout_id"], type_, payment["created_at"].date()))

    for line in lines:
        if line["line_type"] == "charge" and line["psp_reference"] not in captures:
            found.add(
                (
                    line["settlement_line_id"],
                    "settlement_without_capture",
                    line["settled_at"].date(),
                )
            )
    for reference, capture in captures.items():
        charges = by_ref[(reference, "charge")]
        if len(charges) > 1:
            of(capture, "duplicate_settlement")
        if not charges and (clock.date() - capture["created_at"].date()) >= SETTLEMENT_SLA:
            of(capture, "capture_not_settled")
        if any(
            c["gross_minor"] != capture["amount_minor"] or c["currency"] != capture["currency"]
            for c in charges
        ):
            of(capture, "settlement_amount_mismatch")
        if len(by_ref[(reference, "chargeback")]) > len(by_ref[(reference, "chargeback_reversal")]):
            of(capture, "chargeback")
    for reference, refund in refunds.items():
        if any(
            -r["gross_minor"] != refund["amount_minor"] or r["currency"] != refund["currency"]
            for r in by_ref[(reference, "refund")]
        ):
            of(refund, "settlement_amount_mismatch")
    for line in lines:
        scheduled = expected_fee(
            REFERENCE_FEE_SCHEDULE, line["line_type"], line["gross_minor"], line["currency"]
        )
        payment = captures.get(line["psp_reference"]) or refunds.get(line["psp_reference"])
        if scheduled is not None and line["fee_minor"] != scheduled and payment:
            of(payment, "fee_mismatch")
    nets: Counter[str] = Counter()
    for line in lines:
        nets[line["payout_id"]] += line["net_minor"]
    for payout in payouts:
        if payout["status"] == "paid" and payout["amount_minor"] != nets[payout["payout_id"]]:
            found.add((payout["payout_id"], "payout_mismatch", payout["arrival_date"].date()))
    return found


def reference_discrepancies(rows: dict[str, list[dict]], day: date) -> set[tuple[str, str]]:
    """(checkout_id, type) for the checkouts whose first record is on `day`, and (subject, type)
    for the findings of the provider's reports dated `day`."""
    valid = {
        source: [r for r in rows.get(source, []) if "_bad_" not in r["checkout_id"]]
        for source in CHECKOUT_SOURCES
    }
    clock = max(r[SERVER_TIMES[s]] for s in SERVER_TIMES for r in valid[s])
    per_checkout: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    first_seen: dict[str, datetime] = {}
    for source, source_rows in valid.items():
        stamp = "received_at" if source == "analytics_events" else "created_at"
        for row in source_rows:
            per_checkout[row["checkout_id"]][source].append(row)
            seen = first_seen.get(row["checkout_id"], row[stamp])
            first_seen[row["checkout_id"]] = min(seen, row[stamp])
    found = {
        (checkout_id, type_)
        for checkout_id, data in per_checkout.items()
        if first_seen[checkout_id].date() == day
        for type_ in _checkout_types(data, clock)
    }
    cash = _cash_findings(
        valid["payments"], rows.get("settlements", []), rows.get("payouts", []), day
    )
    for subject, type_, on in cash:
        dated = first_seen[subject].date() if subject in first_seen else on
        if dated == day:
            found.add((subject, type_))
    return found


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def day_of_60(tmp_path_factory):
    landing = tmp_path_factory.mktemp("landing60")
    return generate_landing(landing, DAY, checkouts=60, seed=5), _load(landing)


def _truth(summary) -> set[tuple[str, str]]:
    """The ground truth as scoring compares it: a finding's checkout, or else its subject."""
    return {(e.checkout_id or e.subject_id, e.type) for e in summary.ground_truth}


def _files(landing: Path) -> dict[str, bytes]:
    return {str(p.relative_to(landing)): p.read_bytes() for p in landing.rglob("*") if p.is_file()}


# -- determinism ----------------------------------------------------------------------------------


def test_same_seed_writes_byte_identical_files(tmp_path, day_of_60):
    summary, _ = day_of_60
    again = generate_landing(tmp_path, DAY, checkouts=60, seed=5)
    assert _files(tmp_path) == _files(summary.landing)
    assert (tmp_path / GROUND_TRUTH_FILE).read_bytes() == summary.ground_truth_path.read_bytes()
    assert again.ground_truth == summary.ground_truth and again.rows == summary.rows


def test_another_seed_writes_other_data(tmp_path, day_of_60):
    summary, rows = day_of_60
    other = generate_landing(tmp_path, DAY, checkouts=60, seed=6)
    assert other.ground_truth != summary.ground_truth
    assert _load(tmp_path)["payments"] != rows["payments"]


# -- the ground truth -----------------------------------------------------------------------------


def test_ground_truth_names_every_design_type_at_least_twice(day_of_60):
    summary, _ = day_of_60
    frame = summary.ground_truth_frame
    assert frame.columns == ["checkout_id", "type", "cause", "subject_id"]
    counts = Counter(frame["type"])
    assert set(counts) == set(type_names())
    # The provider's own anomalies are one per generation; every checkout's at least twice.
    provider = {a.type for a in PROVIDER_ANOMALIES}
    assert {t: counts[t] for t in provider} == dict.fromkeys(provider, 1)
    assert min(n for t, n in counts.items() if t not in provider) >= 2
    for e in summary.ground_truth:
        # Exactly one of checkout and subject names a finding.
        assert (e.checkout_id is None) == (e.type in provider) == (e.subject_id is not None)
    causes = Counter(frame.filter(frame["type"] == "unattributed_revenue")["cause"])
    assert causes["no_client_event"] >= 2 and causes["no_utm"] >= 2
    assert frame.equals(pl.read_parquet(summary.ground_truth_path))


def test_ground_truth_is_exactly_what_the_rules_find(day_of_60):
    summary, rows = day_of_60
    assert reference_discrepancies(rows, DAY) == _truth(summary)


def test_a_small_day_still_holds_every_type_once(tmp_path):
    summary = generate_landing(tmp_path, DAY, checkouts=MIN_CHECKOUTS, seed=3)
    assert {e.type for e in summary.ground_truth} == set(type_names())
    assert {e.cause for e in summary.ground_truth} >= {"no_client_event", "no_utm"}
    assert reference_discrepancies(_load(tmp_path), DAY) == _truth(summary)
    with pytest.raises(ValueError, match="at least"):
        generate_landing(tmp_path, DAY, checkouts=MIN_CHECKOUTS - 1)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_alone_produces_exactly_its_types(name):
    scenario = SCENARIOS[name]
    for seed in range(4):
        for clock in scenario.window:
            start = datetime.combine(DAY, clock, UTC)
            flow = scenario.build(Context("chk_x", start, DAY, random.Random(seed)))
            found = _checkout_types(flow.rows, as_of(DAY))
            # The provider settles the checkout alone, misbehaving as the scenario says.
            report = settle(flow.rows["payments"], tag="t", business_date=DAY)
            if scenario.provider is not None:
                scenario.provider(report, flow)
            cash = _cash_findings(flow.rows["payments"], report.lines, report.payouts, DAY)
            found |= {t for subject, t, _ in cash if subject == "chk_x"}
            assert {subject for subject, _, _ in cash} <= {"chk_x"}, (seed, clock)
            assert found == {t for t, _ in scenario.anomalies}, (seed, clock)


# -- the landing files ----------------------------------------------------------------------------


def test_every_file_has_all_contract_columns(day_of_60):
    summary, _ = day_of_60
    for written in summary.files:
        columns, rows = _read_file(written.path)
        assert set(COLUMNS[written.source]) <= set(columns), written.path
        for row in rows:
            assert set(COLUMNS[written.source]) <= set(row), written.path


def test_formats_mix_native_and_text_timestamps(day_of_60):
    summary, _ = day_of_60
    orders = [f for f in summary.files if f.source == "orders" and f.landing_date == DAY]
    assert len(orders) == 2
    schema = pq.read_schema(orders[0].path)
    assert schema.field("created_at").type == pa.timestamp("us")
    assert schema.field("total_minor").type == pa.int64()
    fulfillment = next(f for f in summary.files if f.source == "fulfillments")
    assert pq.read_table(fulfillment.path)["updated_at"][0].as_py().endswith("+00:00")
    payments = next(f for f in summary.files if f.source == "payments" and f.landing_date == DAY)
    first = json.loads(payments.path.read_text().splitlines()[0])
    assert first["created_at"].endswith("Z") and isinstance(first["amount_minor"], int)
    inventory = next(f for f in summary.files if f.source == "inventory_moves")
    assert inventory.path.suffix == ".csv"


def test_rows_land_in_the_folder_of_their_own_date(day_of_60):
    _, rows = day_of_60
    for source, source_rows in rows.items():
        for row in source_rows:
            assert row[LANDING_TIME[source]].date() == row["_folder"], (source, row)
    late = [r for r in rows["payments"] if r["_folder"] == DAY + timedelta(days=1)]
    assert {r["kind"] for r in late} >= {"capture", "refund"}


def test_idempotency_keys_follow_the_rule_except_injected_retries(day_of_60):
    summary, rows = day_of_60
    retried = {e.checkout_id for e in summary.ground_truth if e.type in RETRY_TYPES}
    step_of = {
        ("payments", "authorization"): "payment.authorize",
        ("payments", "capture"): "payment.capture",
        ("payments", "void"): "payment.void",
        ("payments", "refund"): "payment.refund",
        ("inventory_moves", "reserve"): "inventory.reserve",
        ("inventory_moves", "release"): "inventory.release",
        ("inventory_moves", "commit"): "inventory.commit",
    }
    retries = set()
    for source in ("orders", "payments", "inventory_moves"):
        for row in rows[source]:
            if row.get("kind") == "chargeback":
                continue  # a bad row: its kind has no step
            step = "order" if source == "orders" else step_of[(source, row["kind"])]
            assert step in STEPS
            key = row["idempotency_key"]
            if key != f"{row['checkout_id']}:{step}":
                assert re.fullmatch(rf"{re.escape(row['checkout_id'])}:{step}:retry-\d+", key)
                retries.add(row["checkout_id"])
    assert retries == retried


def test_previous_day_checkout_is_clean_and_only_its_capture_lands_on_the_day(day_of_60):
    summary, rows = day_of_60
    previous = DAY - timedelta(days=1)
    records = [
        (s, r) for s in CHECKOUT_SOURCES for r in rows[s] if r["checkout_id"].endswith("_eod")
    ]
    assert records and all(
        r["checkout_id"].startswith(f"chk_{previous:%Y%m%d}") for _, r in records
    )
    on_day = [(s, r["kind"]) for s, r in records if r["_folder"] == DAY]
    assert on_day == [("payments", "capture")]
    assert all(
        r["_folder"] == previous for s, r in records if s != "payments" or r["kind"] != "capture"
    )
    assert not {e for e in summary.ground_truth if (e.checkout_id or "").endswith("_eod")}
    # Reconciling D-1 itself finds nothing wrong with it either.
    assert not [p for p in reference_discrepancies(rows, previous) if p[0].endswith("_eod")]
    # The provider settles its capture like any other: one charge line, a day or two later.
    (capture,) = [r for s, r in records if s == "payments" and r["kind"] == "capture"]
    charges = [
        line for line in rows["settlements"] if line["psp_reference"] == capture["psp_reference"]
    ]
    assert [line["line_type"] for line in charges] == ["charge"]
    assert (charges[0]["_folder"] - DAY).days in (1, 2)


def test_the_clock_rules_hold(day_of_60):
    summary, rows = day_of_60
    server = [r[col] for s, col in SERVER_TIMES.items() for r in rows[s]]
    assert max(server) == as_of(DAY) and server.count(as_of(DAY)) == 1
    firsts: dict[str, datetime] = {}
    for source in CHECKOUT_SOURCES:
        stamp = "received_at" if source == "analytics_events" else "created_at"
        for row in rows[source]:
            firsts[row["checkout_id"]] = min(firsts.get(row["checkout_id"], row[stamp]), row[stamp])
    days = {cid: first for cid, first in firsts.items() if first.date() == DAY}
    assert sum(1 for cid in days if "_bad_" not in cid) == summary.checkouts
    assert all(time(0, 30) <= first.time() <= time(21, 1) for first in days.values())


def test_bad_rows_sit_alone_in_checkouts_of_their_own(tmp_path, day_of_60):
    summary, rows = day_of_60
    assert summary.bad_rows == {
        "orders": 1,
        "payments": 4,
        "inventory_moves": 1,
        "fulfillments": 0,
        "analytics_events": 1,
        "settlements": 2,
        "payouts": 0,
    }
    owners = Counter(r["checkout_id"] for s in CHECKOUT_SOURCES for r in rows[s])
    bad = {cid: n for cid, n in owners.items() if cid and "_bad_" in cid}
    # The malformed JSON line is unreadable, so 6 of the 7 bad checkout rows are visible here.
    assert len(bad) == 6 and set(bad.values()) == {1}
    assert any(r["order_id"] is None for r in rows["orders"])
    # The provider's bad lines: one whose net is not gross - fee, one of an unknown type.
    broken = [line for line in rows["settlements"] if line not in _valid_lines([line])]
    assert len(broken) == 2
    assert {line["line_type"] for line in broken} == {"charge", "interest"}
    clean = generate_landing(tmp_path, DAY, checkouts=60, seed=5, bad_rows=False)
    assert sum(clean.bad_rows.values()) == 0
    assert sum(clean.rows.values()) == sum(summary.rows.values()) - 9


# -- the provider's reports ----------------------------------------------------------------------


def test_the_provider_settles_every_succeeded_capture_and_refund(day_of_60):
    _, rows = day_of_60
    lines = _valid_lines(rows["settlements"])
    settled = Counter((line["psp_reference"], line["line_type"]) for line in lines)
    injected = {(p, t) for (p, t), n in settled.items() if n > 1 or t.startswith("chargeback")}
    for payment in rows["payments"]:
        if payment.get("status") != "succeeded" or payment["kind"] not in ("capture", "refund"):
            continue
        line_type = "charge" if payment["kind"] == "capture" else "refund"
        # Once, but where a scenario has the provider drop or duplicate it.
        assert settled[(payment["psp_reference"], line_type)] in (0, 1, 2)
    # Only a few injected shapes settle a payment more than once or take money back.
    assert 0 < len(injected) <= 3 * len(ANOMALY_SCENARIOS)
    # Every payout the provider made is the sum of its lines' net but the one made short.
    nets: Counter[str] = Counter()
    for line in lines:
        nets[line["payout_id"]] += line["net_minor"]
    short = [p for p in rows["payouts"] if p["amount_minor"] != nets[p["payout_id"]]]
    assert [p["arrival_date"].date() for p in short] == [DAY]


def test_every_date_around_the_day_has_a_settlement_report_and_a_payout_arrives(day_of_60):
    summary, rows = day_of_60
    folders = {f.landing_date for f in summary.files if f.source == "settlements" and f.rows}
    assert folders >= {DAY + timedelta(days=n) for n in range(-2, 3)}
    assert any(p["arrival_date"].date() == DAY for p in rows["payouts"])
    # The provider's clock, its latest payout in the read window, is D+3 12:00.
    window = _in_window(rows["payouts"], "created_at", DAY)
    assert max(p["created_at"] for p in window) == as_of(DAY) + timedelta(days=2)


def _pipeline_score(landing: Path, day: date, truth: pl.DataFrame, out: Path):
    """Reconcile `day` with the SQL rules and the reference fee schedule, and score the findings
    against `truth`: (score, ingestion reports)."""
    con = duckdb.connect()
    try:
        reports = reconcile_partition(con, landing, day, params=PARAMS)
        found = pl.DataFrame(discrepancies(con, day))
    finally:
        con.close()
    out.mkdir(parents=True, exist_ok=True)
    truth.write_parquet(out / "truth.parquet")
    found.write_parquet(out / "found.parquet")
    return score(out / "truth.parquet", out / "found.parquet"), reports


def test_the_pipeline_finds_exactly_the_ground_truth(tmp_path, day_of_60):
    """End to end: the SQL rules score recall and precision 1.0, and the provider's bad lines
    are quarantined for what they are."""
    summary, _ = day_of_60
    result, reports = _pipeline_score(summary.landing, DAY, summary.ground_truth_frame, tmp_path)
    assert (result.recall, result.precision) == (1.0, 1.0), result.describe()
    assert reports["settlements"].reasons == {"inconsistent_value": 1, "unknown_enum": 1}
    assert reports["payouts"].reasons == {}


@pytest.mark.parametrize("seed", [1, 2])
def test_the_pipeline_scores_a_small_day_perfectly(tmp_path, seed):
    summary = generate_landing(tmp_path / "landing", DAY, checkouts=MIN_CHECKOUTS, seed=seed)
    result, _ = _pipeline_score(summary.landing, DAY, summary.ground_truth_frame, tmp_path)
    assert (result.recall, result.precision) == (1.0, 1.0), result.describe()


def test_the_pipeline_scores_each_of_several_days_in_one_landing(tmp_path):
    """Neighbouring days' settlement reports and payouts overlap each day's read window; each
    day is still found exactly, its neighbours' findings reported on their own dates."""
    landing = tmp_path / "landing"
    days = [DAY + timedelta(days=n) for n in (-1, 0, 1)]
    truths = {
        day: generate_landing(landing, day, checkouts=MIN_CHECKOUTS, seed=day.day) for day in days
    }
    result, _ = _pipeline_score(landing, DAY, truths[DAY].ground_truth_frame, tmp_path)
    assert (result.recall, result.precision) == (1.0, 1.0), result.describe()


# -- flows and write_rows -------------------------------------------------------------------------


def _flow(**kwargs) -> CheckoutFlow:
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    return CheckoutFlow("chk_t1", start, total_minor=1_200, **kwargs)


def test_flow_rows_have_exactly_the_contract_columns_and_ordered_times():
    flow = _flow(utm=Attribution("google", "cpc", "spring", None))
    flow.view()
    flow.start_checkout()
    reservation = flow.reserve("SKU-1", 2)
    authorization = flow.authorize()
    order = flow.place_order()
    flow.commit(reservation)
    flow.capture(authorization)
    flow.complete()
    flow.ship(flow.request_fulfillment(order))
    rows = flow.rows
    for source in CHECKOUT_SOURCES:
        assert rows[source], source
        for row in rows[source]:
            assert tuple(row) == COLUMNS[source]
    # The provider's reports are not a checkout's: the generator settles the day's payments.
    assert rows["settlements"] == rows["payouts"] == []
    assert flow.rows["analytics_events"][0]["occurred_at"].replace(microsecond=0) == flow.start
    times = [r["created_at"] for r in flow.rows["payments"] + flow.rows["inventory_moves"]]
    assert len(set(times)) == len(times)
    assert flow.rows["orders"][0]["subtotal_minor"] + flow.rows["orders"][0]["tax_minor"] == 1_200
    completed = flow.rows["analytics_events"][-1]
    assert (completed["revenue_minor"], completed["currency"], completed["utm_source"]) == (
        1_200,
        "EUR",
        "google",
    )


def test_flow_status_changes_are_later_rows_and_voids_take_the_authorized_amount():
    flow = _flow()
    authorization = flow.authorize(1_000)
    order = flow.place_order()
    flow.cancel_order(order)
    void = flow.void(authorization)
    placed, cancelled = flow.rows["orders"]
    assert placed["order_id"] == cancelled["order_id"] == order
    assert cancelled["status"] == "cancelled" and cancelled["updated_at"] > placed["updated_at"]
    assert cancelled["created_at"] == placed["created_at"]
    row = flow.rows["payments"][-1]
    assert (row["payment_id"], row["amount_minor"], row["parent_payment_id"]) == (
        void,
        1_000,
        authorization,
    )
    assert row["idempotency_key"] == "chk_t1:payment.void"
    assert flow.retry_key("payment.authorize") == "chk_t1:payment.authorize:retry-1"
    assert flow.retry_keys == ["chk_t1:payment.authorize:retry-1"]


def test_flow_refuses_contract_breaking_values():
    flow = _flow()
    with pytest.raises(ValueError):
        flow.authorize(0)
    with pytest.raises(ValueError):
        flow.key("payment.charge")
    with pytest.raises(ValueError):
        flow.client_event("checkout_started", revenue=5)
    flow.authorize(at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="before"):
        flow.place_order(at=datetime(2026, 3, 10, 9, 30, tzinfo=UTC))


def test_write_rows_places_rows_by_their_own_date(tmp_path):
    flow = _flow()
    authorization = flow.authorize()
    flow.capture(authorization, at=datetime(2026, 3, 11, 1, 0, tzinfo=UTC))
    late_line = RawLine('{"payment_id": "p', datetime(2026, 3, 11, 2, 0, tzinfo=UTC))
    written = write_rows(tmp_path, {"payments": [*flow.rows["payments"], late_line]})
    assert [(f.landing_date, f.rows) for f in written] == [(DAY, 1), (date(2026, 3, 11), 2)]
    lines = (tmp_path / "payments" / "2026-03-11" / "export-00.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["kind"] == "capture" and lines[1] == late_line.text
    with pytest.raises(ValueError, match="Parquet"):
        write_rows(tmp_path, {"payments": [late_line]}, formats={"payments": "parquet"})


def test_anomaly_catalogue_covers_every_type():
    checkouts = {t for s in ANOMALY_SCENARIOS for t, _ in s.anomalies}
    provider = {a.type for a in PROVIDER_ANOMALIES}
    assert not checkouts & provider and checkouts | provider == set(type_names())
