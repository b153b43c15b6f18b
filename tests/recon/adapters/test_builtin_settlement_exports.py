"""Stripe's balance transactions and Adyen's Settlement details report, in their documented
columns: charges and settled lines become captures, refunds refunds, and everything else a
settlement holds (fees, payouts, chargebacks) is filtered out, not quarantined."""

from datetime import datetime

from recon.adapters.apply import apply_mapping
from recon.adapters.registry import load_adapter
from tests.recon.adapters.mapped import quarantined
from tests.recon.adapters.provider_exports import (
    ADYEN_SETTLEMENT_COLUMNS,
    STRIPE_BALANCE_TRANSACTION_COLUMNS,
    adyen_line,
    stripe_balance_transaction,
    write_csv,
    write_jsonl,
)

# 2026-03-10 10:00:30 UTC
CREATED = 1773136830


def test_stripe_balance_transactions_map_charges_and_refunds_and_filter_the_rest(tmp_path):
    txn = stripe_balance_transaction
    export = write_csv(
        tmp_path / "balance_transactions.csv",
        STRIPE_BALANCE_TRANSACTION_COLUMNS,
        [
            txn("txn_1", "ch_1", "charge", 4990, CREATED, "chk_1"),
            txn("txn_2", None, "stripe_fee", -500, CREATED),
            # Stripe signs a refund negative: funds sent back to the customer.
            txn("txn_3", "re_1", "refund", -1000, CREATED + 60, "chk_1"),
            txn("txn_4", "po_1", "payout", -3815, CREATED + 120),
            # No metadata of the charge in the export: nothing says which checkout it paid.
            txn("txn_5", "ch_2", "charge", 2500, CREATED),
            txn("txn_6", "py_1", "payment", 1000, CREATED, "chk_3", currency="jpy"),
            # A refund signed as a charge is no refund this mapping can trust.
            txn("txn_7", "re_2", "refund", 500, CREATED, "chk_2"),
        ],
    )
    mapped = apply_mapping(load_adapter("stripe_balance_transactions"), export)
    assert (mapped.read, mapped.filtered_out) == (7, 2)
    rows = mapped.rows.to_pylist()
    assert rows[:2] == [
        {
            "payment_id": "ch_1",
            "checkout_id": "chk_1",
            "idempotency_key": "chk_1:payment.capture",
            "kind": "capture",
            "status": "succeeded",
            "amount_minor": 4990,
            "currency": "eur",
            "created_at": datetime(2026, 3, 10, 10, 0, 30),
            "psp_reference": None,
            "parent_payment_id": None,
            "failure_code": None,
            "adapter_origin": "balance_transactions.csv:2",
        },
        {
            "payment_id": "re_1",
            "checkout_id": "chk_1",
            "idempotency_key": "chk_1:payment.refund",
            "kind": "refund",
            "status": "succeeded",
            "amount_minor": 1000,
            "currency": "eur",
            "created_at": datetime(2026, 3, 10, 10, 1, 30),
            "psp_reference": None,
            # The CSV names the refund, not the charge it refunds.
            "parent_payment_id": None,
            "failure_code": None,
            "adapter_origin": "balance_transactions.csv:4",
        },
    ]
    assert [(r["payment_id"], r["kind"], r["amount_minor"], r["currency"]) for r in rows[2:]] == [
        ("py_1", "capture", 1000, "jpy")
    ]
    assert quarantined(mapped) == [
        (6, "missing_value",
         "column checkout_id: is missing (a balance transaction carries no metadata of its charge "
         "or refund: export it with the source expanded (expand[]=data.source) or with its "
         "checkout_id metadata column)"),
        (8, "non_positive_amount", "column amount_minor: -500 is below 1"),
    ]  # fmt: skip


def test_stripe_balance_transactions_with_the_source_expanded_name_the_refunded_charge(tmp_path):
    refund = stripe_balance_transaction("txn_9", "re_9", "refund", -1500, CREATED)
    del refund["checkout_id (metadata)"]
    refund["source"] = {
        "id": "re_9",
        "object": "refund",
        "charge": "ch_9",
        "payment_intent": "pi_9",
        "metadata": {"checkout_id": "chk_9"},
    }
    mapped = apply_mapping(
        load_adapter("stripe_balance_transactions"),
        write_jsonl(tmp_path / "balance_transactions.jsonl", [refund]),
    )
    assert quarantined(mapped) == []
    [row] = mapped.rows.to_pylist()
    assert (row["payment_id"], row["checkout_id"], row["kind"], row["amount_minor"]) == (
        "re_9",
        "chk_9",
        "refund",
        1500,
    )
    assert (row["parent_payment_id"], row["psp_reference"]) == ("ch_9", "pi_9")


def test_adyen_settled_and_refunded_lines_become_payments_in_their_own_time_zone(tmp_path):
    export = write_csv(
        tmp_path / "settlement_detail_report_batch_42.csv",
        ADYEN_SETTLEMENT_COLUMNS,
        [
            adyen_line("Settled", "8815000000000001", "chk_1", "2026-01-15 10:00:00", "CET",
                       gross="49.90", modification="8816000000000001"),
            # Summer time: the report says CEST, two hours ahead of UTC.
            adyen_line("Refunded", "8815000000000001", "chk_1", "2026-07-15 12:00:00", "CEST",
                       gross="10.00", modification="8817000000000001"),
            adyen_line("Settled", "8815000000000002", "chk_2", "2026-03-10 09:00:00", "JST",
                       gross="1000", currency="JPY", modification="8816000000000002"),
            adyen_line("Fee", None, None, "2026-03-11 04:55:40", "CET", gross="12.00"),
            adyen_line("MerchantPayout", None, None, "2026-03-11 05:00:00", "CET",
                       gross="1027.90", modification="Payout batch 42"),
            adyen_line("Settled", "8815000000000003", None, "2026-03-10 09:00:00", "CET",
                       gross="5.00", modification="8816000000000003"),
            # CST is China's or the US Central zone: the mapping does not guess.
            adyen_line("Settled", "8815000000000004", "chk_4", "2026-03-10 09:00:00", "CST",
                       gross="5.00", modification="8816000000000004"),
            adyen_line("Chargeback", "8815000000000001", "chk_1", "2026-03-12 09:00:00", "CET",
                       gross="39.90", modification="8818000000000001"),
        ],
    )  # fmt: skip
    mapped = apply_mapping(load_adapter("adyen_settlement_details"), export)
    assert (mapped.read, mapped.filtered_out) == (8, 3)
    settled, refunded, yen = mapped.rows.to_pylist()
    assert settled == {
        "payment_id": "8816000000000001",
        "checkout_id": "chk_1",
        "idempotency_key": "chk_1:payment.capture",
        "kind": "capture",
        "status": "succeeded",
        "amount_minor": 4990,
        "currency": "EUR",
        "created_at": datetime(2026, 1, 15, 9, 0),
        "psp_reference": "8815000000000001",
        "parent_payment_id": "8815000000000001",
        "failure_code": None,
        "adapter_origin": "settlement_detail_report_batch_42.csv:2",
    }
    assert refunded | {"adapter_origin": None} == {
        "payment_id": "8817000000000001",
        "checkout_id": "chk_1",
        "idempotency_key": "chk_1:payment.refund",
        "kind": "refund",
        "status": "succeeded",
        "amount_minor": 1000,
        "currency": "EUR",
        "created_at": datetime(2026, 7, 15, 10, 0),
        "psp_reference": "8815000000000001",
        "parent_payment_id": "8815000000000001",
        "failure_code": None,
        "adapter_origin": None,
    }
    assert (yen["amount_minor"], yen["currency"], yen["created_at"]) == (
        1000,
        "JPY",
        datetime(2026, 3, 10, 0, 0),
    )
    assert quarantined(mapped) == [
        (7, "missing_value",
         "column checkout_id: is missing (the Merchant Reference (the payment request's "
         "`reference`) is blank)"),
        (8, "unparseable_timestamp",
         "column created_at (from Creation Date): unknown time zone CST (from TimeZone; name an "
         "abbreviation in zones): 2026-03-10 09:00:00"),
    ]  # fmt: skip
