"""The provider's cash side in the reports: the revenue bridge on from net revenue to what was paid
out, and the finance page's cash section, on a small landing day whose settlement lines and
payouts are written by hand, so every figure below can be worked out on paper."""

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from checks.invariants import bridge_closes as bridge_check
from recon.landing_writer import write_rows
from recon.reconcile import reconcile_partition
from recon.reports.build import ReportFiles, build_bridge, build_finance
from recon.run_params import RunParams
from recon.sql_models import project_relations
from recon.warehouse import connect
from testdata.flows import CheckoutFlow, combine_rows
from testdata.settlement import REFERENCE_FEE_SCHEDULE

DAY = date(2026, 5, 6)


def at(days: int, clock: str) -> datetime:
    return datetime.combine(DAY + timedelta(days=days), time.fromisoformat(clock), UTC)


def paid(checkout_id: str, total: int, start: datetime, currency: str = "EUR", refund: int = 0):
    """A checkout that ordered and captured `total`, refunding `refund` that afternoon:
    (flow, capture's psp_reference, refund's psp_reference or None)."""
    flow = CheckoutFlow(checkout_id, start, currency=currency, total_minor=total)
    flow.view()
    flow.start_checkout()
    authorization = flow.authorize()
    flow.place_order()
    flow.capture(authorization)
    flow.complete()
    if refund:
        flow.refund(authorization, refund, at=start.replace(hour=15))
    references = {p["kind"]: p["psp_reference"] for p in flow.rows["payments"]}
    return flow, references["capture"], references.get("refund")


def line(line_id, payout, reference, line_type, gross, fee, settled_at, currency="EUR") -> dict:
    return {
        "settlement_line_id": line_id,
        "payout_id": payout,
        "psp_reference": reference,
        "line_type": line_type,
        "gross_minor": gross,
        "fee_minor": fee,
        "net_minor": gross - fee,
        "currency": currency,
        "settled_at": settled_at,
    }


def payout(payout_id, amount, status, arrival: date, created_at, currency="EUR") -> dict:
    return {
        "payout_id": payout_id,
        "amount_minor": amount,
        "currency": currency,
        "status": status,
        "arrival_date": datetime.combine(arrival, time(0), UTC),
        "created_at": created_at,
    }


def landing_day(landing: Path, *, cash: bool = True) -> None:
    """The day's checkouts, one older capture, and (with `cash`) the provider's reports:

    - chk_a EUR 100.00, settled D+1 (fee 1.65 by the schedule), then charged back (fee 15.00);
    - chk_b EUR 50.00, settled twice D+1 (fees 0.95 and 1.00), in a payout not reported paid;
    - chk_c EUR 20.00 with 5.00 refunded: the refund is settled D+1, the capture never;
    - chk_d USD 30.00, settled 1.00 short D+1 (fee 1.14);
    - chk_e GBP 10.00, settled D+1 as EUR 10.00 (fee 0.39), in a payout not reported paid;
    - chk_old EUR 15.00 captured on D-3, never settled;
    - on D, the provider's monthly fee (1.00) and a charge no capture names (EUR 40.00, fee 0.90
      where the schedule sets 0.81), paid out on D; on D-1 an adjustment of 7.00 (another day).
    """
    a, a_ref, _ = paid("chk_a", 10_000, at(0, "09:00"))
    b, b_ref, _ = paid("chk_b", 5_000, at(0, "09:10"))
    c, _, c_refund = paid("chk_c", 2_000, at(0, "09:20"), refund=500)
    d, d_ref, _ = paid("chk_d", 3_000, at(0, "09:30"), currency="USD")
    e, e_ref, _ = paid("chk_e", 1_000, at(0, "09:40"), currency="GBP")
    old, _, _ = paid("chk_old", 1_500, at(-3, "08:00"))
    rows = combine_rows(f.rows for f in (a, b, c, d, e, old))
    if cash:
        rows["settlements"] = [
            line("sl_a", "po_a", a_ref, "charge", 10_000, 165, at(1, "03:00")),
            line("sl_a_cb", "po_a", a_ref, "chargeback", -10_000, 1_500, at(1, "03:01")),
            line("sl_b1", "po_b", b_ref, "charge", 5_000, 95, at(1, "03:02")),
            line("sl_b2", "po_b", b_ref, "charge", 5_000, 100, at(1, "03:03")),
            line("sl_c_refund", "po_a", c_refund, "refund", -500, 0, at(1, "03:04")),
            line("sl_d", "po_d", d_ref, "charge", 2_900, 114, at(1, "03:05"), currency="USD"),
            line("sl_e", "po_e", e_ref, "charge", 1_000, 39, at(1, "03:06")),
            line("sl_fee", "po_fee", None, "fee", 0, 100, at(0, "03:00")),
            line("sl_foreign", "po_fee", "psp_unknown", "charge", 4_000, 90, at(0, "03:01")),
            line("sl_adjust", "po_adj", None, "adjustment", 700, 0, at(-1, "03:00")),
        ]
        rows["payouts"] = [
            payout("po_fee", 3_810, "paid", DAY, at(0, "04:00")),
            payout("po_a", -2_165, "paid", DAY + timedelta(days=2), at(1, "12:00")),
            payout("po_d", 2_786, "paid", DAY + timedelta(days=2), at(1, "11:00"), "USD"),
            payout("po_late", 900, "failed", DAY, at(0, "05:00")),
        ]
    write_rows(landing, rows)


def reconciled(root: Path, *, cash: bool = True) -> tuple[Path, ReportFiles]:
    landing_day(root / "landing", cash=cash)
    warehouse = root / "warehouse.duckdb"
    files = ReportFiles(root / "reports")
    with connect(warehouse) as con:
        reconcile_partition(
            con, root / "landing", DAY, RunParams(fee_schedule=REFERENCE_FEE_SCHEDULE)
        )
        build_bridge(con, DAY, files)
        build_finance(con, DAY, files)
    return warehouse, files


@pytest.fixture(scope="module")
def cash_day(tmp_path_factory) -> tuple[Path, ReportFiles]:
    return reconciled(tmp_path_factory.mktemp("cash"))


def export(files: ReportFiles, name: str) -> pl.DataFrame:
    return pl.read_parquet(files.root / "exports" / f"{name}.parquet")


def bridge_of(files: ReportFiles, currency: str) -> dict[str, int]:
    lines = export(files, "revenue_bridge").filter(pl.col("currency") == currency)
    return dict(lines.select("line", "amount_minor").iter_rows())


CASH_LINES = [
    "not_settled",
    "settlement_differs",
    "settled_gross",
    "fees",
    "chargebacks",
    "adjustments",
    "settled_net",
    "awaiting_payout",
    "paid_out",
]


def test_the_bridge_goes_on_from_net_revenue_to_what_was_paid_out(cash_day):
    _, files = cash_day
    eur = bridge_of(files, "EUR")
    assert eur["net_revenue"] == 10_000 + 5_000 + 2_000 - 500
    assert [eur[name] for name in CASH_LINES] == [
        -2_000,  # chk_c's capture has no charge line
        5_000 + 1_000,  # chk_b settled twice; chk_e's GBP capture settled in EUR
        20_500,  # charges 100.00 + 50.00 + 50.00 + 10.00, refund -5.00
        -(165 + 95 + 100 + 39 + 1_500),  # the lines' fees and the chargeback's
        -10_000,  # chk_a charged back
        -100 + 3_910,  # lines of D naming no payment: the monthly fee, the unknown charge (net)
        12_411,
        -(4_905 + 4_900 + 961),  # the payouts of chk_b's and chk_e's lines are not paid yet
        1_645,  # po_a's lines (-21.65) and po_fee's (38.10)
    ]
    usd = bridge_of(files, "USD")
    assert [usd[name] for name in CASH_LINES] == [0, -100, 2_900, -114, 0, 0, 2_786, 0, 2_786]
    # The provider settled chk_e in another currency: none of its GBP came in.
    gbp = bridge_of(files, "GBP")
    assert gbp["net_revenue"] == 1_000
    assert [gbp[name] for name in CASH_LINES] == [0, -1_000, 0, 0, 0, 0, 0, 0, 0]


def test_the_bridge_with_settlements_closes_and_its_check_passes(cash_day):
    warehouse, files = cash_day
    lines = export(files, "revenue_bridge")
    assert lines.filter(pl.col("line") == "paid_out").height == 3
    assert lines["line_no"].max() == 25
    page = (files.root / "revenue_bridge.html").read_text()
    assert page.count('data-figure="closes-') == 3 and ">NO<" not in page
    assert "from marketing-attributed to paid out" in page
    with duckdb.connect(str(warehouse), read_only=True) as con:
        result = bridge_check(project_relations(con, DAY), None, DAY)
    assert result.passed, result.metadata


@pytest.mark.parametrize(
    ("tamper", "line", "says"),
    [
        # Still closing (the steps around it moved too): only staging's own sum can tell.
        (
            {"settlement_differs": 1, "settled_gross": 1, "fees": -1},
            "settled_gross",
            "staging says 20500, bridge says 20501",
        ),
        (
            {"awaiting_payout": -7, "paid_out": -7},
            "paid_out",
            "staging says 1645, bridge says 1638",
        ),
    ],
    ids=["settled_gross", "paid_out"],
)
def test_the_bridge_check_fails_on_a_cash_total_staging_does_not_give(
    tmp_path, cash_day, tamper, line, says
):
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(cash_day[0].read_bytes())
    with duckdb.connect(str(copy)) as con:
        for name, delta in tamper.items():
            con.execute(
                "update marts.revenue_bridge set amount_minor = amount_minor + ? "
                "where currency = 'EUR' and line = ?",
                [delta, name],
            )
        result = bridge_check(project_relations(con, DAY), None, DAY)
    assert not result.passed
    assert result.metadata["problems"].value == [f"EUR {line}: {says}"]


def test_the_cash_section_shows_the_days_settlements_payouts_fees_and_waiting_captures(cash_day):
    _, files = cash_day
    cash = {row["currency"]: row for row in export(files, "finance_cash").iter_rows(named=True)}
    assert set(cash) == {"EUR", "GBP", "USD"}
    eur = cash["EUR"]
    assert (eur["captures"], eur["captured_minor"]) == (3, 17_000)
    assert cash["GBP"]["captured_minor"] == 1_000
    # settled on D: the monthly fee and the unknown charge; D+1's lines are another day's
    assert (eur["settled_lines"], eur["settled_gross_minor"]) == (2, 4_000)
    assert (eur["settled_fee_minor"], eur["settled_net_minor"]) == (190, 3_810)
    # the failed payout arriving on D is not money in the bank
    assert (eur["payouts_paid"], eur["paid_out_minor"]) == (1, 3_810)
    # only the charge's fee is scheduled: 1.4 % of 40.00 + 0.25 = 0.81
    assert (eur["fee_scheduled_lines"], eur["fees_charged_minor"]) == (1, 90)
    assert (eur["fees_scheduled_minor"], eur["fees_over_schedule_minor"]) == (81, 9)
    assert (eur["waiting_captures"], eur["waiting_minor"]) == (2, 3_500)
    assert (eur["waiting_beyond_sla_captures"], eur["waiting_beyond_sla_minor"]) == (1, 1_500)
    usd = cash["USD"]
    assert (usd["captured_minor"], usd["settled_lines"], usd["paid_out_minor"]) == (3_000, 0, 0)
    assert usd["waiting_captures"] == 0

    # The provider's clock is D+1 12:00: chk_c's capture (D 09:20) is a date old, chk_old's
    # (D-3 08:00) beyond the 3-day SLA.
    waiting = export(files, "finance_cash_waiting")
    assert waiting.select("currency", "age_bucket", "captures", "amount_minor").rows() == [
        ("EUR", "1 day", 1, 2_000),
        ("EUR", "beyond the SLA", 1, 1_500),
    ]
    page = (files.root / "finance.html").read_text()
    assert 'data-figure="settlement-as-of">2026-05-07 12:00 UTC<' in page
    assert "EUR 38.10" in page and "EUR 0.09" in page and "EUR 15.00" in page
    assert 'data-figure="cash-missing"' not in page


def test_without_the_providers_reports_the_bridge_ends_at_net_revenue_and_says_so(tmp_path):
    warehouse, files = reconciled(tmp_path, cash=False)
    lines = export(files, "revenue_bridge")
    assert lines["line_no"].max() == 16 and not set(CASH_LINES) & set(lines["line"])
    assert bridge_of(files, "EUR")["net_revenue"] == 16_500
    assert set(lines["currency"]) == {"EUR", "GBP", "USD"}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert bridge_check(project_relations(con, DAY), None, DAY).passed
    assert (
        "from marketing-attributed to net revenue"
        in (files.root / "revenue_bridge.html").read_text()
    )

    assert export(files, "finance_cash").height == 0
    assert export(files, "finance_cash_waiting").height == 0
    page = (files.root / "finance.html").read_text()
    assert 'data-figure="cash-missing"' in page
    assert "No settlement report or payouts were landed" in page


def test_the_bridge_check_counts_once_a_line_whose_reference_names_two_refunds(tmp_path):
    """A provider that gives a payment's partial refunds the payment's own reference: each refund
    line names two refunds, and settles one of them (int_settlement_lines); staging's own sum
    must count each line once too, or the check blocks a day that closes."""
    flow, capture_ref, _ = paid("chk_r", 10_000, at(0, "09:00"), refund=1_000)
    [authorization] = [
        p["payment_id"] for p in flow.rows["payments"] if p["kind"] == "authorization"
    ]
    flow.refund(authorization, 2_000, at=at(0, "16:00"))
    rows = combine_rows([flow.rows])
    for payment in rows["payments"]:
        if payment["kind"] == "refund":
            payment["psp_reference"] = capture_ref
    rows["settlements"] = [
        line("sl_r", "po_r", capture_ref, "charge", 10_000, 165, at(1, "03:00")),
        line("sl_r1", "po_r", capture_ref, "refund", -1_000, 0, at(1, "03:01")),
        line("sl_r2", "po_r", capture_ref, "refund", -2_000, 0, at(1, "03:02")),
    ]
    rows["payouts"] = [payout("po_r", 6_835, "paid", DAY + timedelta(days=2), at(1, "12:00"))]
    write_rows(tmp_path / "landing", rows)
    with connect(tmp_path / "warehouse.duckdb") as con:
        reconcile_partition(
            con, tmp_path / "landing", DAY, RunParams(fee_schedule=REFERENCE_FEE_SCHEDULE)
        )
        files = ReportFiles(tmp_path / "reports")
        build_bridge(con, DAY, files)
        result = bridge_check(project_relations(con, DAY), None, DAY)
    eur = bridge_of(files, "EUR")
    assert (eur["net_revenue"], eur["settled_gross"], eur["paid_out"]) == (7_000, 7_000, 6_835)
    assert result.passed, result.metadata
