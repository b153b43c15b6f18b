"""The cash side from the exports merchants have: Stripe's balance transactions as settlement lines
and its payouts as payouts, and every entry of Adyen's Settlement details report as a line of its
batch. Each line names its payment as the payments adapters of the same provider do, so that the
settlement rules can match them."""

from datetime import datetime

from recon.adapters.apply import apply_mapping
from recon.adapters.registry import load_adapter
from tests.recon.adapters.mapped import quarantined
from tests.recon.adapters.provider_exports import (
    ADYEN_SETTLEMENT_COLUMNS,
    STRIPE_BALANCE_TRANSACTION_COLUMNS,
    STRIPE_CHARGE_COLUMNS,
    STRIPE_PAYOUT_COLUMNS,
    adyen_entry,
    stripe_balance_transaction,
    stripe_charge,
    stripe_payout,
    stripe_settlement_transaction,
    write_csv,
    write_jsonl,
)

# 2026-03-12 00:00:00 UTC: when the funds became available.
AVAILABLE = 1773273600
SETTLED = datetime(2026, 3, 12)


def lines_of(mapped) -> list[tuple]:
    names = ("settlement_line_id", "payout_id", "psp_reference", "line_type", "gross_minor",
             "fee_minor", "net_minor", "currency")  # fmt: skip
    return [tuple(r[n] for n in names) for r in mapped.rows.to_pylist()]


def charge(charge_id: str) -> dict:
    return {"id": charge_id, "object": "charge", "payment_intent": f"pi_{charge_id[3:]}"}


def test_stripe_balance_transactions_of_a_payout_become_its_settlement_lines(tmp_path):
    txn = stripe_settlement_transaction
    refund = {"id": "re_1", "object": "refund", "charge": "ch_1", "payment_intent": "pi_1"}
    dispute = {"id": "dp_1", "object": "dispute", "charge": "ch_2", "payment_intent": "pi_2"}
    export = write_jsonl(
        tmp_path / "balance_transactions_po_1.jsonl",
        [
            txn("txn_1", "charge", 4990, 100, AVAILABLE, source=charge("ch_1")),
            txn("txn_2", "refund", -1000, 0, AVAILABLE, source=refund),
            # A dispute is `type: adjustment`: its reporting category says what it is.
            txn("txn_3", "adjustment", -2500, 1500, AVAILABLE, source=dispute,
                category="dispute"),
            txn("txn_4", "adjustment", 2500, 0, AVAILABLE, source=dispute,
                category="dispute_reversal"),
            txn("txn_5", "stripe_fee", -500, 0, AVAILABLE, category="fee"),
            txn("txn_6", "adjustment", 300, 0, AVAILABLE, category="other_adjustment"),
            txn("txn_7", "payment", 1000, 30, AVAILABLE, source=charge("py_7"), currency="jpy"),
            # The payout and a transfer are no lines of it.
            txn("txn_8", "payout", -5000, 0, AVAILABLE, source="po_1"),
            txn("txn_9", "transfer", -700, 0, AVAILABLE, source="tr_1"),
            # A type the contract has no line for: quarantined, not dropped from the payout.
            txn("txn_10", "topup", 800, 0, AVAILABLE, source="tu_1"),
            # Not listed by payout: nothing says which payout it was paid out in.
            txn("txn_11", "charge", 2000, 55, AVAILABLE, payout=None, source=charge("ch_11")),
            # The source not expanded: the PaymentIntent is unknown.
            txn("txn_12", "charge", 2000, 55, AVAILABLE, source="ch_12"),
            # A fee given back as a negative fee: the contract's fee is never below zero.
            txn("txn_13", "adjustment", 1500, -1500, AVAILABLE, source=dispute,
                category="dispute_reversal"),
        ],
    )  # fmt: skip
    mapped = apply_mapping(load_adapter("stripe_balance_settlements"), export)
    assert (mapped.read, mapped.filtered_out) == (13, 2)
    first = mapped.rows.to_pylist()[0]
    assert first == {
        "settlement_line_id": "txn_1",
        "payout_id": "po_1",
        "psp_reference": "pi_1",
        "line_type": "charge",
        "gross_minor": 4990,
        "fee_minor": 100,
        "net_minor": 4890,
        "currency": "eur",
        "settled_at": SETTLED,
        "adapter_origin": "balance_transactions_po_1.jsonl:1",
    }
    assert lines_of(mapped) == [
        ("txn_1", "po_1", "pi_1", "charge", 4990, 100, 4890, "eur"),
        ("txn_2", "po_1", "pi_1", "refund", -1000, 0, -1000, "eur"),
        ("txn_3", "po_1", "pi_2", "chargeback", -2500, 1500, -4000, "eur"),
        ("txn_4", "po_1", "pi_2", "chargeback_reversal", 2500, 0, 2500, "eur"),
        ("txn_5", "po_1", None, "fee", -500, 0, -500, "eur"),
        ("txn_6", "po_1", None, "adjustment", 300, 0, 300, "eur"),
        ("txn_7", "po_1", "pi_7", "charge", 1000, 30, 970, "jpy"),
    ]
    assert quarantined(mapped) == [
        (10, "unknown_enum", "column line_type: unknown value topup"),
        (11, "missing_value",
         "column payout_id: is missing (a balance transaction names no payout: export one "
         "payout's transactions (GET /v1/balance_transactions?payout=po_...) with that ID as a "
         "`payout` column, or an export with `automatic_payout_id`)"),
        (12, "missing_value",
         "column psp_reference: is missing (the line's PaymentIntent is known only with the source "
         "expanded (expand[]=data.source) or from a `payment_intent_id` column)"),
        (13, "negative_amount", "column fee_minor: -1500 is below 0"),
    ]  # fmt: skip


def test_a_stripe_charge_line_names_the_payment_intent_the_charges_adapter_names(tmp_path):
    """The settlement rules match a line to its capture by psp_reference: the line must name the
    charge's PaymentIntent, as stripe_charges does, not the `ch_` ID of the unexpanded source."""
    charges = write_csv(
        tmp_path / "charges.csv",
        STRIPE_CHARGE_COLUMNS,
        [stripe_charge("ch_1", "chk_1", 4990, AVAILABLE - 2 * 86400)],
    )
    lines = write_jsonl(
        tmp_path / "balance_transactions.jsonl",
        [stripe_settlement_transaction("txn_1", "charge", 4990, 100, AVAILABLE,
                                       source=charge("ch_1"))],
    )  # fmt: skip
    [capture] = apply_mapping(load_adapter("stripe_charges"), charges).rows.to_pylist()
    [line] = apply_mapping(load_adapter("stripe_balance_settlements"), lines).rows.to_pylist()
    assert line["psp_reference"] == capture["psp_reference"] == "pi_1"
    assert (line["gross_minor"], line["currency"]) == (capture["amount_minor"], capture["currency"])


def test_stripe_balance_transactions_as_a_flat_csv_quarantine_the_lines_of_payments(tmp_path):
    """The object's fields as a CSV names the source by ID only and no payout: the lines of
    payments cannot name their PaymentIntent; the provider's own fees can load."""
    txn = stripe_balance_transaction
    export = write_csv(
        tmp_path / "balance_transactions.csv",
        (*STRIPE_BALANCE_TRANSACTION_COLUMNS, "payout"),
        [
            txn("txn_1", "ch_1", "charge", 4990, AVAILABLE, payout="po_1"),
            txn("txn_2", None, "stripe_fee", -500, AVAILABLE, payout="po_1"),
        ],
    )
    mapped = apply_mapping(load_adapter("stripe_balance_settlements"), export)
    assert lines_of(mapped) == [("txn_2", "po_1", None, "fee", -500, 0, -500, "eur")]
    # The fixture's `available_on` is two days after `created`.
    assert mapped.rows.to_pylist()[0]["settled_at"] == datetime(2026, 3, 14)
    assert [(line, reason) for line, reason, _ in quarantined(mapped)] == [(2, "missing_value")]
    assert mapped.missing_columns == ["source.payment_intent or payment_intent_id"]


def test_stripe_payouts_that_are_done_become_payouts(tmp_path):
    created = AVAILABLE
    export = write_csv(
        tmp_path / "payouts.csv",
        STRIPE_PAYOUT_COLUMNS,
        [
            stripe_payout("po_1", 4890, "paid", created),
            stripe_payout("po_2", 1200, "failed", created, failure_code="account_closed"),
            stripe_payout("po_3", 300, "canceled", created),
            # Not arrived yet: not a payout until an export shows it paid or failed.
            stripe_payout("po_4", 700, "pending", created),
            stripe_payout("po_5", 700, "in_transit", created),
            # A negative balance debited from the bank account.
            stripe_payout("po_6", -2500, "paid", created, currency="jpy"),
            stripe_payout("po_7", 100, "paid", created, arrival_date="next week"),
        ],
    )
    mapped = apply_mapping(load_adapter("stripe_payouts"), export)
    assert (mapped.read, mapped.filtered_out) == (7, 2)
    rows = mapped.rows.to_pylist()
    assert rows[0] == {
        "payout_id": "po_1",
        "amount_minor": 4890,
        "currency": "eur",
        "status": "paid",
        "arrival_date": datetime(2026, 3, 14),
        "created_at": datetime(2026, 3, 12),
        "adapter_origin": "payouts.csv:2",
    }
    assert [(r["payout_id"], r["amount_minor"], r["currency"], r["status"]) for r in rows] == [
        ("po_1", 4890, "eur", "paid"),
        ("po_2", 1200, "eur", "failed"),
        ("po_3", 300, "eur", "failed"),
        ("po_6", -2500, "jpy", "paid"),
    ]
    assert quarantined(mapped) == [
        (8, "unparseable_timestamp",
         "column arrival_date (from arrival_date): not a timestamp in unix_seconds or iso: "
         "next week"),
    ]  # fmt: skip


def test_adyen_settlement_details_become_the_lines_of_their_batch(tmp_path):
    entry = adyen_entry
    export = write_csv(
        tmp_path / "settlement_detail_report_batch_42.csv",
        ADYEN_SETTLEMENT_COLUMNS,
        [
            # Adyen's documented sample lines: a settlement under Interchange++ (markup, scheme
            # fees and interchange) and a chargeback with its commission.
            entry("Settled", "2013-06-03 11:26:49", "CET", Psp_Reference="1813702551707653",
                  Merchant_Reference="3vpzf7", Payment_Method="visa",
                  Modification_Reference="1713702551795048", Gross_Currency="GBP",
                  Gross_Credit="5.00", Exchange_Rate="1", Net_Currency="GBP", Net_Credit="4.88",
                  Markup="0.04", Scheme_Fees="0.01", Interchange="0.07"),
            entry("Chargeback", "2013-03-26 22:37:26", "CET", Psp_Reference="1313642467023511",
                  Merchant_Reference="324959451", Payment_Method="visa",
                  Modification_Reference="2313642467170922", Gross_Currency="EUR",
                  Gross_Debit="349.99", Exchange_Rate="1", Net_Currency="EUR",
                  Net_Debit="357.49", Commission="7.5"),
            entry("ChargebackReversed", "2013-04-20 10:00:00", "CEST",
                  Psp_Reference="1313642467023511", Modification_Reference="2313642467170923",
                  Gross_Currency="EUR", Gross_Credit="349.99", Exchange_Rate="1",
                  Net_Currency="EUR", Net_Credit="349.99"),
            entry("Refunded", "2013-06-04 09:00:00", "CEST", Psp_Reference="1813702551707653",
                  Modification_Reference="1713702551795049", Gross_Currency="GBP",
                  Gross_Debit="2.00", Exchange_Rate="1", Net_Currency="GBP", Net_Debit="2.00"),
            # The batch's fees and corrections: no payment, no gross columns.
            entry("Fee", "2013-06-11 04:55:40", "BST", Modification_Reference="Transaction Fees",
                  Net_Currency="GBP", Net_Debit="0.12"),
            entry("DepositCorrection", "2013-06-11 04:55:41", "BST", Net_Currency="GBP",
                  Net_Credit="1.00"),
            # The payout itself: not a line of it.
            entry("MerchantPayout", "2013-06-11 05:00:00", "BST",
                  Modification_Reference="Payout batch 42", Net_Currency="GBP",
                  Net_Debit="3.76"),
            # Settled in another currency: the gross is the shopper's USD, the rest EUR.
            entry("Settled", "2013-06-03 12:00:00", "CET", Psp_Reference="1813702551707654",
                  Modification_Reference="1713702551795050", Gross_Currency="USD",
                  Gross_Credit="10.00", Exchange_Rate="0.9", Net_Currency="EUR",
                  Net_Credit="8.70", Commission="0.30"),
            # A record type this mapping does not list.
            entry("SettledExternallyWithInfo", "2013-06-03 12:00:00", "CET",
                  Psp_Reference="1813702551707655", Modification_Reference="1713702551795051",
                  Gross_Currency="EUR", Gross_Credit="1.00", Net_Currency="EUR",
                  Net_Credit="1.00"),
            # CST is China's or the US Central zone: the mapping does not guess.
            entry("Settled", "2013-06-03 12:00:00", "CST", Psp_Reference="1813702551707656",
                  Modification_Reference="1713702551795052", Gross_Currency="EUR",
                  Gross_Credit="1.00", Net_Currency="EUR", Net_Credit="1.00"),
        ],
    )  # fmt: skip
    mapped = apply_mapping(load_adapter("adyen_settlement_lines"), export)
    assert (mapped.read, mapped.filtered_out) == (10, 1)
    assert mapped.rows.to_pylist()[0] == {
        "settlement_line_id": (
            "ExampleShopECOM:batch-42:Settled:1713702551795048:2013-06-03 11:26:49"
        ),
        "payout_id": "ExampleShopECOM:batch-42",
        "psp_reference": "1813702551707653",
        "line_type": "charge",
        "gross_minor": 500,
        "fee_minor": 12,
        "net_minor": 488,
        "currency": "GBP",
        "settled_at": datetime(2013, 6, 3, 10, 26, 49),
        "adapter_origin": "settlement_detail_report_batch_42.csv:2",
    }
    assert [row[2:] for row in lines_of(mapped)] == [
        ("1813702551707653", "charge", 500, 12, 488, "GBP"),
        ("1313642467023511", "chargeback", -34999, 750, -35749, "EUR"),
        ("1313642467023511", "chargeback_reversal", 34999, 0, 34999, "EUR"),
        ("1813702551707653", "refund", -200, 0, -200, "GBP"),
        (None, "fee", -12, 0, -12, "GBP"),
        (None, "adjustment", 100, 0, 100, "GBP"),
    ]
    assert [row[0] for row in lines_of(mapped)][4:] == [
        "ExampleShopECOM:batch-42:Fee:Transaction Fees:2013-06-11 04:55:40",
        "ExampleShopECOM:batch-42:DepositCorrection:-:2013-06-11 04:55:41",
    ]
    assert {row[1] for row in lines_of(mapped)} == {"ExampleShopECOM:batch-42"}
    assert quarantined(mapped) == [
        (9, "inconsistent_value", "column net_minor: 870 is not gross_minor - fee_minor"),
        (10, "unknown_enum", "column line_type: unknown value SettledExternallyWithInfo"),
        (11, "unparseable_timestamp",
         "column settled_at (from Creation Date): unknown time zone CST (from TimeZone; name an "
         "abbreviation in zones): 2013-06-03 12:00:00"),
    ]  # fmt: skip


def test_an_adyen_line_names_the_psp_reference_its_payment_has(tmp_path):
    """adyen_settlement_details (payments) and adyen_settlement_lines (settlements) read the same
    report: a Settled line is a capture and the line that settles it, under one psp_reference."""
    export = write_csv(
        tmp_path / "settlement_detail_report_batch_42.csv",
        ADYEN_SETTLEMENT_COLUMNS,
        [
            adyen_entry("Settled", "2026-03-10 11:00:00", "CET", Psp_Reference="8815000000000001",
                        Merchant_Reference="chk_1", Modification_Reference="8816000000000001",
                        Gross_Currency="EUR", Gross_Credit="49.90", Exchange_Rate="1",
                        Net_Currency="EUR", Net_Credit="49.20", Commission="0.70"),
        ],
    )  # fmt: skip
    [capture] = apply_mapping(load_adapter("adyen_settlement_details"), export).rows.to_pylist()
    [line] = apply_mapping(load_adapter("adyen_settlement_lines"), export).rows.to_pylist()
    assert line["psp_reference"] == capture["psp_reference"] == "8815000000000001"
    assert (line["gross_minor"], line["currency"]) == (capture["amount_minor"], capture["currency"])
    assert (line["fee_minor"], line["net_minor"]) == (70, 4920)
