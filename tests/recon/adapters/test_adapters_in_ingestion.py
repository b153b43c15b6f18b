"""Adapters inside ingestion (`RECON_ADAPTERS`): a day whose payments folder holds a Stripe
charges export and whose orders folder holds a Shopify orders export (gzipped), the other sources
in the contract's own format, reconciled without converting anything first: the findings the
exports hold, a charge that does not map quarantined with the provider file's line, and every
file's rows read = loaded + quarantined."""

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from pipelines.cli import main
from pipelines.local_run import run_partition
from recon.landing import landing_dates
from recon.landing_writer import write_rows
from recon.reconcile import discrepancies, reconcile_partition
from recon.settings import ReconSettings
from recon.warehouse import connect
from tests.recon.adapters.provider_exports import (
    SHOPIFY_ORDER_COLUMNS,
    STRIPE_CHARGE_COLUMNS,
    STRIPE_PAYOUT_COLUMNS,
    stripe_charge,
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
    RESERVED,
    findings,
    inventory_moves,
    shopify_orders,
    stripe_charges,
)

ADAPTERS = {"payments": "stripe_charges", "orders": "shopify_orders"}


def _landing(root: Path) -> Path:
    """#1001 paid once; #1002 never charged; #1003 charged twice; a charge without the
    `checkout_id` metadata (line 5 of the export) does not map."""
    landing = root / "landing"
    folder = DAY.isoformat()
    orders = shopify_orders([("SKU-TEE", 1, "49.90"), ("SKU-CAP", 1, "0.00")])
    plain = write_csv(root / "orders_export_1.csv", SHOPIFY_ORDER_COLUMNS, orders)
    gzipped = landing / "orders" / folder / "orders_export_1.csv.gz"
    gzipped.parent.mkdir(parents=True)
    gzipped.write_bytes(gzip.compress(plain.read_bytes()))
    charges = [*stripe_charges(), stripe_charge("ch_lost", None, 1200, AT_10 + 1300)]
    write_csv(landing / "payments" / folder / "charges.csv", STRIPE_CHARGE_COLUMNS, charges)
    write_rows(landing, _contract_rows())
    return landing


def _contract_rows() -> dict[str, list[dict]]:
    """#1001's stock reserved and committed and its parcel shipped, and each checkout's
    completion event, in the contract's own format."""
    events = [
        {"event_id": f"m-{checkout}", "event_name": "checkout_completed",
         "anonymous_id": f"anon-{checkout}", "checkout_id": checkout,
         "occurred_at": datetime(2026, 3, 10, 10, minute, 40, tzinfo=UTC),
         "received_at": datetime(2026, 3, 10, 10, minute, 41, tzinfo=UTC),
         "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring",
         "revenue_minor": 4990, "currency": "EUR"}
        for checkout, minute in (("5001", 0), ("5002", 10), ("5003", 20))
    ]  # fmt: skip
    shipped = {"fulfillment_id": "ful_1", "checkout_id": "5001", "order_id": "#1001",
               "status": "shipped", "created_at": RESERVED.replace(hour=12),
               "updated_at": RESERVED.replace(hour=14)}  # fmt: skip
    return {"inventory_moves": inventory_moves(), "fulfillments": [shipped],
            "analytics_events": events}  # fmt: skip


def _ledger(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, int]]:
    rows = con.execute(
        "select source, rows_read, rows_loaded, rows_quarantined from meta.ingested_files "
        "where source in ('orders', 'payments') order by source"
    ).fetchall()
    return {source: (read, loaded, quarantined) for source, read, loaded, quarantined in rows}


def test_provider_exports_in_landing_folders_reconcile_through_their_adapters(tmp_path):
    landing = _landing(tmp_path)
    with connect(tmp_path / "warehouse.duckdb") as con:
        reports = reconcile_partition(con, landing, DAY, adapters=ADAPTERS)
        found = discrepancies(con, DAY)
        quarantined = con.execute(
            "select source, _source_file, _line, reason, detail, raw_text from raw.quarantine"
        ).fetchall()
        ledger = _ledger(con)
        ch_3b = con.execute(
            "select created_at, amount_minor, _line, _extra from raw.payments "
            "where payment_id = 'ch_3b'"
        ).fetchone()
        order = con.execute(
            "select total_minor, created_at, utm_source from raw.orders where order_id = '#1002'"
        ).fetchone()

    assert findings(found) == FINDINGS
    assert {name: report.rows_loaded for name, report in reports.items()} == {
        "orders": 3, "payments": 3, "inventory_moves": 2, "fulfillments": 1,
        "analytics_events": 3, **NO_CASH_ROWS,
    }  # fmt: skip
    # The unmapped charge: quarantined with the adapter's reason, the export's file and line.
    [(source, file, line, reason, detail, raw_text)] = quarantined
    assert (source, line, reason) == ("payments", 5, "adapter_unmapped")
    assert file.endswith("payments/2026-03-10/charges.csv")
    assert detail.startswith("stripe_charges: missing_value: column checkout_id: is missing")
    assert raw_text.startswith("ch_lost,charge,1200")
    # Every provider file's audit holds: the Shopify order's two line items are one row.
    assert ledger == {"orders": (3, 3, 0), "payments": (4, 3, 1)}
    # Mapped values round-trip exactly through the contract's text validation.
    assert ch_3b[:3] == (datetime(2026, 3, 10, 10, 20, 50), 4990, 4)
    assert '"adapter_origin":"charges.csv:4"' in ch_3b[3]
    assert order == (4990, datetime(2026, 3, 10, 10, 10, 30), "newsletter")


def test_the_daily_job_reads_the_exports_with_the_adapters_setting(tmp_path):
    landing = _landing(tmp_path)
    settings = ReconSettings(
        landing_dir=landing,
        warehouse_path=tmp_path / "wh.duckdb",
        out_dir=str(tmp_path / "out"),
        adapters=ADAPTERS,
    )
    outcome = run_partition(settings, DAY)

    assert outcome.success, outcome.report()
    assert outcome.quarantined == 1
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert _ledger(con) == {"orders": (3, 3, 0), "payments": (4, 3, 1)}
        found = con.execute(
            "select type, checkout_id, amount_minor from marts.discrepancies "
            "where _partition_date = ? order by all",
            [DAY],
        ).fetchall()
    assert found == FINDINGS
    # rows_conserved and every other blocking check passed on the adapters' rows.
    assert all(passed for _, passed, severity, _ in outcome.checks if severity == "ERROR")


def test_without_the_setting_the_exports_fail_as_missing_contract_columns(tmp_path):
    landing = _landing(tmp_path)
    with connect(tmp_path / "warehouse.duckdb") as con, pytest.raises(ValueError) as failed:
        reconcile_partition(con, landing, DAY)
    assert "missing required column" in str(failed.value)


def test_an_adapter_of_another_source_is_a_settings_error_naming_both(tmp_path):
    with pytest.raises(ValidationError) as failed:
        ReconSettings(adapters={"payments": "shopify_orders"})
    message = str(failed.value)
    assert "payments=shopify_orders" in message
    assert "feeds orders, not payments" in message

    with pytest.raises(ValidationError, match="no landing source 'refunds'"):
        ReconSettings(adapters={"refunds": "stripe_refunds"})
    with pytest.raises(ValidationError, match="no adapter named 'paypal'"):
        ReconSettings(adapters={"payments": "paypal"})
    with pytest.raises(ValidationError, match="no such mapping file"):
        ReconSettings(adapters={"payments": str(tmp_path / "psp.yaml")})
    # The Spark engine reads landing files itself: refused, not silently ignored.
    with pytest.raises(ValidationError, match="duckdb engine only"):
        ReconSettings(adapters={"payments": "stripe_charges"}, engine="spark")


def test_recon_run_takes_adapters_as_options(tmp_path):
    landing = _landing(tmp_path)
    base = ["run", "--landing", str(landing), "--date", DAY.isoformat(), "--quiet"]
    base += ["--out", str(tmp_path / "out"), "--warehouse", str(tmp_path / "wh.duckdb")]

    wrong = CliRunner().invoke(main, [*base, "--adapter", "payments=shopify_orders"])
    assert wrong.exit_code == 2
    assert "payments=shopify_orders: the adapter shopify_orders feeds orders" in wrong.output
    malformed = CliRunner().invoke(main, [*base, "--adapter", "stripe_charges"])
    assert malformed.exit_code == 2
    assert "is not SOURCE=ADAPTER" in malformed.output

    options = ["--adapter", "payments=stripe_charges", "--adapter", "orders=shopify_orders"]
    result = CliRunner().invoke(main, [*base, *options])
    assert result.exit_code == 0, result.output
    assert "2 discrepancies, 1 rows quarantined" in result.output


def test_the_sensor_sees_provider_exports_in_landing_folders(tmp_path):
    landing = _landing(tmp_path)
    files = {path.name for path in landing_dates(landing, ["orders", "payments"])[DAY]}
    assert files == {"orders_export_1.csv.gz", "charges.csv"}


def test_stripe_cash_exports_in_the_settlement_and_payout_folders_read_through_adapters(tmp_path):
    """The cash sources take adapters as any other: a payout's balance transactions in the
    settlements folder and the payouts export in the payouts folder, read in place beside the
    charges they settle; a line without its payout is quarantined with the export's line."""
    landing = tmp_path / "landing"
    next_day = date(2026, 3, 11)
    available = AT_10 + 86400
    write_csv(
        landing / "payments" / DAY.isoformat() / "charges.csv",
        STRIPE_CHARGE_COLUMNS,
        [stripe_charge("ch_1", "5001", 4990, AT_10 + 10)],
    )
    source = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1"}
    write_jsonl(
        landing / "settlements" / next_day.isoformat() / "balance_transactions_po_1.jsonl",
        [
            stripe_settlement_transaction("txn_1", "charge", 4990, 100, available, source=source),
            stripe_settlement_transaction("txn_2", "stripe_fee", -500, 0, available, payout=None),
        ],
    )
    write_csv(
        landing / "payouts" / next_day.isoformat() / "payouts.csv",
        STRIPE_PAYOUT_COLUMNS,
        [stripe_payout("po_1", 4890, "paid", available, arrival_date=available + 3600)],
    )
    adapters = {
        "payments": "stripe_charges",
        "settlements": "stripe_balance_settlements",
        "payouts": "stripe_payouts",
    }
    with connect(tmp_path / "warehouse.duckdb") as con:
        reports = reconcile_partition(con, landing, next_day, adapters=adapters)
        found = discrepancies(con, next_day)
        quarantine = con.execute(
            "select source, reason, _line, detail from raw.quarantine where source = 'settlements'"
        ).fetchall()
    assert [(f.rows_read, f.rows_loaded) for f in reports["settlements"].files] == [(2, 1)]
    assert [(f.rows_read, f.rows_loaded) for f in reports["payouts"].files] == [(1, 1)]
    [(source_name, reason, line, detail)] = quarantine
    assert (source_name, reason, line) == ("settlements", "adapter_unmapped", 2)
    assert detail.startswith("stripe_balance_settlements: missing_value: column payout_id")
    # The charge is settled and the payout is its line's net: nothing to find.
    assert [d["type"] for d in found] == []
