"""A day whose orders, payments and events are a Shopify orders export, a Stripe charges export
and Segment track calls, converted by the adapters and reconciled by the real ingestion and SQL
models: the findings are the ones the exports hold."""

from datetime import date
from pathlib import Path

from recon.adapters.convert import convert_file
from recon.adapters.registry import load_adapter
from recon.landing_writer import write_rows
from recon.reconcile import discrepancies, reconcile_partition
from recon.warehouse import connect
from tests.recon.adapters.provider_exports import (
    ADYEN_SETTLEMENT_COLUMNS,
    SHOPIFY_ORDER_COLUMNS,
    STRIPE_CHARGE_COLUMNS,
    STRIPE_PAYOUT_COLUMNS,
    adyen_line,
    ga4_event,
    segment_track,
    stripe_payout,
    stripe_settlement_transaction,
    write_csv,
    write_jsonl,
)
from tests.recon.adapters.three_checkouts import (
    AT_10,
    DAY,
    FINDINGS,
    NO_CASH_ROWS,
    findings,
    inventory_moves,
    shopify_orders,
    stripe_charges,
)
from tests.settlement_types import SETTLEMENT_TYPES

CAMPAIGN = {"name": "spring", "source": "newsletter", "medium": "email"}


def exports(folder):
    """#1001 paid once; #1002 never charged; #1003 charged twice (a retried payment)."""
    orders = shopify_orders([("SKU-TEE", 1, "49.90")])
    events = [
        segment_track(f"m-{checkout}", "Order Completed", f"2026-03-10T{clock}:40Z",
                      f"2026-03-10T{clock}:41Z",
                      {"checkout_id": checkout, "total": 49.9, "currency": "EUR"},
                      campaign=CAMPAIGN)
        for checkout, clock in (("5001", "10:00"), ("5002", "10:10"), ("5003", "10:20"))
    ]  # fmt: skip
    return (
        write_csv(folder / "orders_export_1.csv", SHOPIFY_ORDER_COLUMNS, orders),
        write_csv(folder / "charges.csv", STRIPE_CHARGE_COLUMNS, stripe_charges()),
        write_jsonl(folder / "segment.jsonl", events),
    )


def convert(landing: Path, **exports_by_adapter: Path) -> None:
    """Each export converted into `landing` by the adapter it is given for, every row mapped."""
    for adapter, export in exports_by_adapter.items():
        conversion = convert_file(load_adapter(adapter), export, landing)
        assert conversion.quarantine_file is None, conversion.describe()


def reconcile_the_day(landing: Path, warehouse: Path) -> tuple[dict[str, int], list[tuple]]:
    """DAY reconciled: the rows loaded of each source and the findings (as `findings` gives
    them), every converted row loaded (the adapters' rows meet the contract)."""
    with connect(warehouse) as con:
        reports = reconcile_partition(con, landing, DAY)
        found = discrepancies(con, DAY)
        quarantined = con.execute("select count(*) from raw.quarantine").fetchone()[0]
    assert quarantined == 0
    return {name: report.rows_loaded for name, report in reports.items()}, findings(found)


def settlement_lines(
    landing: Path, warehouse: Path, day: date, columns: str, *, order_by: str
) -> tuple[list[tuple], list[dict]]:
    """`day` reconciled: each of its settlement lines with the payment it names (`columns` of
    the model the settlement rules read, in `order_by` order), and its findings."""
    with connect(warehouse) as con:
        reconcile_partition(con, landing, day)
        found = discrepancies(con, day)
        lines = con.execute(
            f"select {columns} from intermediate.int_settlement_lines "
            f"where _partition_date = ? order by {order_by}",
            [day],
        ).fetchall()
    return lines, found


def test_a_day_of_provider_exports_reconciles_to_the_findings_they_hold(tmp_path):
    landing = tmp_path / "landing"
    shopify, stripe, segment = exports(tmp_path / "exports")
    convert(landing, shopify_orders=shopify, stripe_charges=stripe, segment_track=segment)
    # The project's own inventory export beside them: #1001's stock, reserved and committed.
    write_rows(landing, {"inventory_moves": inventory_moves()})

    loaded, found = reconcile_the_day(landing, tmp_path / "warehouse.duckdb")
    with connect(tmp_path / "warehouse.duckdb") as con:
        origins = con.execute(
            "select _extra from raw.payments where payment_id = 'ch_3b'"
        ).fetchone()[0]

    assert loaded == {
        "orders": 3, "payments": 3, "inventory_moves": 2, "fulfillments": 0,
        "analytics_events": 3, **NO_CASH_ROWS,
    }  # fmt: skip
    assert found == FINDINGS
    # A finding's payment row still says where in Stripe's export it came from.
    assert "charges.csv:4" in origins


def test_adyen_settlements_and_ga4_events_reconcile_to_the_same_findings(tmp_path):
    """The same day with the payments from Adyen's Settlement details report (Berlin time) and
    the events from GA4's BigQuery export."""
    landing = tmp_path / "landing"
    shopify, _, _ = exports(tmp_path / "exports")
    settled = [
        adyen_line("Settled", f"88150000000000{n}", checkout, f"2026-03-10 {clock}", "CET",
                   gross="49.90", modification=f"88160000000000{n}")
        for n, checkout, clock in ((10, "5001", "11:00:10"), (30, "5003", "11:20:10"),
                                   (31, "5003", "11:20:50"))
    ]  # fmt: skip
    adyen = write_csv(
        tmp_path / "exports" / "settlement_detail_report_batch_1.csv",
        ADYEN_SETTLEMENT_COLUMNS,
        [*settled, adyen_line("Fee", None, None, "2026-03-11 04:00:00", "CET", gross="1.20")],
    )
    ga4 = write_jsonl(
        tmp_path / "exports" / "events_20260310.jsonl",
        [
            ga4_event("purchase", (AT_10 + 40 + 600 * n) * 1_000_000,
                      {"checkout_id": checkout, "currency": "EUR", "value": 49.9},
                      ecommerce={"transaction_id": f"#100{n + 1}", "purchase_revenue": 49.9},
                      collected={"manual_source": "newsletter", "manual_medium": "email",
                                 "manual_campaign_name": "spring"})
            for n, checkout in enumerate(("5001", "5002", "5003"))
        ],
    )  # fmt: skip
    convert(landing, shopify_orders=shopify, adyen_settlement_details=adyen, ga4_events=ga4)

    loaded, found = reconcile_the_day(landing, tmp_path / "warehouse.duckdb")

    assert loaded == {
        "orders": 3, "payments": 3, "inventory_moves": 0, "fulfillments": 0,
        "analytics_events": 3, **NO_CASH_ROWS,
    }  # fmt: skip
    assert found == FINDINGS


def test_stripe_settlement_lines_and_payouts_match_the_charges_they_settle(tmp_path):
    """The same day with Stripe's cash side, settled and paid out the next day: the balance
    transactions of payout po_1 (the source expanded) and the payouts export. #1001's and #1003's
    first charge settle; a line names a payment no export has, and the payout is one cent short
    of its lines. Reported on the day of the lines and the payout."""
    landing = tmp_path / "landing"
    shopify, stripe, segment = exports(tmp_path / "exports")
    available = AT_10 + 86400  # 2026-03-11 10:00 UTC

    def line(txn_id, charge_id, gross, fee):
        source = {"id": charge_id, "object": "charge", "payment_intent": f"pi_{charge_id[3:]}"}
        return stripe_settlement_transaction(txn_id, "charge", gross, fee, available,
                                             source=source)  # fmt: skip

    lines = write_jsonl(
        tmp_path / "exports" / "balance_transactions_po_1.jsonl",
        [
            line("txn_1", "ch_1", 4990, 0),
            line("txn_3a", "ch_3a", 4990, 0),
            line("txn_9", "ch_9", 1000, 0),
            stripe_settlement_transaction("txn_fee", "stripe_fee", -500, 0, available),
        ],
    )
    net = 4990 + 4990 + 1000 - 500
    payouts = write_csv(
        tmp_path / "exports" / "payouts.csv",
        STRIPE_PAYOUT_COLUMNS,
        [stripe_payout("po_1", net - 1, "paid", available, arrival_date=available + 3600)],
    )
    convert(landing, shopify_orders=shopify, stripe_charges=stripe, segment_track=segment,
            stripe_balance_settlements=lines, stripe_payouts=payouts)  # fmt: skip
    settled_on = date(2026, 3, 11)
    matched, found = settlement_lines(
        landing, tmp_path / "warehouse.duckdb", settled_on,
        "settlement_line_id, payment_id", order_by="settlement_line_id",
    )  # fmt: skip
    assert matched == [("txn_1", "ch_1"), ("txn_3a", "ch_3a"), ("txn_9", None), ("txn_fee", None)]
    assert sorted(
        (d["type"], d["amount_minor"]) for d in found if d["type"] in SETTLEMENT_TYPES
    ) == [("payout_mismatch", 1), ("settlement_without_capture", 1000)]


def test_an_adyen_report_feeds_payments_and_settlements_that_match(tmp_path):
    """One Settlement details report read by both Adyen adapters: its Settled lines are the
    captures and the lines that settle them, under the same PSP reference; a chargeback of
    #1001's payment is found against that capture."""
    landing = tmp_path / "landing"
    shopify, _, _ = exports(tmp_path / "exports")
    report = [
        adyen_line("Settled", f"88150000000000{n}", checkout, f"2026-03-10 {clock}", "CET",
                   gross="49.90", modification=f"88160000000000{n}")
        for n, checkout, clock in ((10, "5001", "11:00:10"), (30, "5003", "11:20:10"))
    ]  # fmt: skip
    report += [
        adyen_line("Chargeback", "8815000000000010", "5001", "2026-03-10 18:00:00", "CET",
                   gross="49.90", modification="8818000000000010"),
        adyen_line("Fee", None, None, "2026-03-10 23:00:00", "CET", gross="1.20"),
        adyen_line("MerchantPayout", None, None, "2026-03-10 23:30:00", "CET", gross="48.70",
                   modification="Payout batch 42"),
    ]  # fmt: skip
    adyen = write_csv(
        tmp_path / "exports" / "settlement_detail_report_batch_42.csv",
        ADYEN_SETTLEMENT_COLUMNS,
        report,
    )
    convert(landing, shopify_orders=shopify, adyen_settlement_details=adyen,
            adyen_settlement_lines=adyen)  # fmt: skip
    lines, found = settlement_lines(
        landing, tmp_path / "warehouse.duckdb", DAY,
        "line_type, gross_minor, net_minor, payment_id, checkout_id", order_by="settled_at",
    )  # fmt: skip
    assert lines == [
        ("charge", 4990, 4990, "8816000000000010", "5001"),
        ("charge", 4990, 4990, "8816000000000030", "5003"),
        ("chargeback", -4990, -4990, "8816000000000010", "5001"),
        ("fee", -120, -120, None, None),
    ]
    assert sorted(
        (d["type"], d["checkout_id"], d["amount_minor"])
        for d in found
        if d["type"] in SETTLEMENT_TYPES
    ) == [("chargeback", "5001", 4990)]
