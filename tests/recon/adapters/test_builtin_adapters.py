"""Each built-in adapter turns an export in its provider's documented shape into contract rows, and
quarantines the rows it cannot map with the adapter's name and the reason."""

from datetime import datetime

import pytest

from recon.adapters.apply import apply_mapping
from recon.adapters.registry import BUILTIN_DIR, builtin_names, load_adapter
from tests.recon.adapters.mapped import quarantined
from tests.recon.adapters.provider_exports import (
    SHOPIFY_ORDER_COLUMNS,
    STRIPE_CHARGE_COLUMNS,
    STRIPE_REFUND_COLUMNS,
    segment_track,
    shopify_order,
    stripe_charge,
    stripe_refund,
    write_csv,
    write_jsonl,
)

# 2026-03-10 10:00:30 UTC
CREATED = 1773136830


def test_every_builtin_file_is_named_after_its_adapter():
    assert builtin_names() == [
        "adyen_settlement_details",
        "adyen_settlement_lines",
        "ga4_events",
        "segment_track",
        "shopify_orders",
        "stripe_balance_settlements",
        "stripe_balance_transactions",
        "stripe_charges",
        "stripe_payouts",
        "stripe_refunds",
    ]
    for name in builtin_names():
        mapping = load_adapter(name)
        assert mapping.name == name
        assert (BUILTIN_DIR / f"{name}.yaml").is_file()
        assert mapping.document.startswith("https://")


def test_stripe_charges_become_captures_and_authorizations(tmp_path):
    export = write_csv(
        tmp_path / "charges.csv",
        STRIPE_CHARGE_COLUMNS,
        [
            stripe_charge("ch_1", "chk_1", 4990, CREATED),
            # Authorized, not captured: an authorization held for the checkout.
            stripe_charge("ch_2", "chk_2", 1500, CREATED + 60, captured="false"),
            # A partial capture: the captured amount counts.
            stripe_charge("ch_3", "chk_3", 3000, "2026-03-10 11:00:00", amount_captured=2500),
            stripe_charge(
                "ch_4",
                "chk_4",
                990,
                CREATED,
                captured="false",
                status="failed",
                failure_code="card_declined",
            ),
        ],
    )
    mapped = apply_mapping(load_adapter("stripe_charges"), export)
    assert quarantined(mapped) == []
    rows = {r["payment_id"]: r for r in mapped.rows.to_pylist()}
    assert rows["ch_1"] == {
        "payment_id": "ch_1",
        "checkout_id": "chk_1",
        "idempotency_key": "chk_1:payment.capture",
        "kind": "capture",
        "status": "succeeded",
        "amount_minor": 4990,
        "currency": "eur",
        "created_at": datetime(2026, 3, 10, 10, 0, 30),
        "psp_reference": "pi_1",
        "parent_payment_id": None,
        "failure_code": None,
        "adapter_origin": "charges.csv:2",
    }
    assert (rows["ch_2"]["kind"], rows["ch_2"]["idempotency_key"]) == (
        "authorization",
        "chk_2:payment.authorize",
    )
    assert (rows["ch_3"]["amount_minor"], rows["ch_3"]["created_at"]) == (
        2500,
        datetime(2026, 3, 10, 11, 0),
    )
    assert (rows["ch_4"]["status"], rows["ch_4"]["failure_code"]) == ("failed", "card_declined")


def test_a_stripe_charge_without_checkout_metadata_or_with_a_bad_created_is_quarantined(tmp_path):
    export = write_csv(
        tmp_path / "charges.csv",
        STRIPE_CHARGE_COLUMNS,
        [
            stripe_charge("ch_1", None, 4990, CREATED),
            stripe_charge("ch_2", "chk_2", 4990, "yesterday"),
            {
                **stripe_charge("ch_3", "chk_3", 4990, CREATED),
                "amount": "49.90",
                "amount_captured": None,
            },
            stripe_charge("ch_4", "chk_4", 4990, CREATED),
        ],
    )
    mapped = apply_mapping(load_adapter("stripe_charges"), export)
    assert [r["payment_id"] for r in mapped.rows.to_pylist()] == ["ch_4"]
    assert quarantined(mapped) == [
        (2, "missing_value", "column checkout_id: is missing"),
        (3, "unparseable_timestamp",
         "column created_at (from created): not a timestamp in unix_seconds or iso: yesterday"),
        (4, "invalid_integer", "column amount_minor: not an integer: 49.90"),
    ]  # fmt: skip
    assert set(mapped.quarantine.column("adapter").to_pylist()) == {"stripe_charges"}


def test_stripe_charges_as_json_lines_read_metadata_by_its_path(tmp_path):
    charge = stripe_charge("ch_1", None, 4990, CREATED)
    del charge["checkout_id (metadata)"]
    charge |= {"captured": True, "amount": 4990, "metadata": {"checkout_id": "chk_1"}}
    mapped = apply_mapping(
        load_adapter("stripe_charges"), write_jsonl(tmp_path / "charges.jsonl", [charge])
    )
    [row] = mapped.rows.to_pylist()
    assert (row["checkout_id"], row["kind"], row["amount_minor"]) == ("chk_1", "capture", 4990)


def test_stripe_refunds_name_the_refunded_charge(tmp_path):
    export = write_csv(
        tmp_path / "refunds.csv",
        STRIPE_REFUND_COLUMNS,
        [
            stripe_refund("re_1", "ch_1", "chk_1", 4990, CREATED),
            {**stripe_refund("re_2", "ch_2", "chk_2", 500, CREATED), "status": "canceled"},
        ],
    )
    mapped = apply_mapping(load_adapter("stripe_refunds"), export)
    rows = mapped.rows.to_pylist()
    assert [
        (r["payment_id"], r["kind"], r["status"], r["parent_payment_id"], r["idempotency_key"])
        for r in rows
    ] == [
        ("re_1", "refund", "succeeded", "ch_1", "chk_1:payment.refund"),
        ("re_2", "refund", "failed", "ch_2", "chk_2:payment.refund"),
    ]


def test_shopify_line_items_collapse_to_one_order_with_its_attribution(tmp_path):
    export = write_csv(
        tmp_path / "orders_export_1.csv",
        SHOPIFY_ORDER_COLUMNS,
        [
            *shopify_order(
                "#1001", "5001", "2026-03-10 11:00:00 +0100",
                [("SKU-TEE", 1, "29.90"), ("SKU-CAP", 2, "10.00")],
                subtotal="49.90", taxes="7.97", total="49.90",
                landing_site="/products/tee?utm_source=news%20letter&utm_medium=email"
                "&utm_campaign=spring",
                referring_site="https://mail.example.com/",
            ),
            *shopify_order(
                "#1002", "5002", "2026-03-10 12:00:00 +0000", [("SKU-TEE", 1, "1000")],
                subtotal="1000", taxes="0", total="1000", currency="JPY",
                cancelled_at="2026-03-11 09:30:00 +0000",
            ),
        ],
    )  # fmt: skip
    mapped = apply_mapping(load_adapter("shopify_orders"), export)
    assert quarantined(mapped) == []
    assert mapped.read == 3  # line-item rows
    first, second = mapped.rows.to_pylist()
    assert first == {
        "order_id": "#1001",
        "checkout_id": "5001",
        "idempotency_key": "5001:order",
        "customer_id": None,
        "status": "placed",
        "currency": "EUR",
        "subtotal_minor": 4990,
        "tax_minor": 797,
        "total_minor": 4990,
        "created_at": datetime(2026, 3, 10, 10, 0),
        "updated_at": datetime(2026, 3, 10, 10, 0),
        "utm_source": "news letter",
        "utm_medium": "email",
        "utm_campaign": "spring",
        "referrer": "https://mail.example.com/",
        "adapter_origin": "orders_export_1.csv:2",
    }
    # JPY has no minor unit; a cancelled order was last written when it was cancelled.
    assert (second["status"], second["total_minor"], second["updated_at"]) == (
        "cancelled",
        1000,
        datetime(2026, 3, 11, 9, 30),
    )
    assert second["utm_source"] is None


def test_a_shopify_amount_finer_than_its_currency_is_quarantined_with_the_order(tmp_path):
    export = write_csv(
        tmp_path / "orders_export_1.csv",
        SHOPIFY_ORDER_COLUMNS,
        shopify_order("#1", "1", "2026-03-10 11:00:00 +0000", [("A", 1, "5.5"), ("B", 1, "1")],
                      subtotal="6.5", taxes="0", total="6.5", currency="JPY"),
    )  # fmt: skip
    mapped = apply_mapping(load_adapter("shopify_orders"), export)
    assert mapped.rows.num_rows == 0
    [row] = mapped.quarantine.to_pylist()
    assert (row["line"], row["reason"]) == (2, "invalid_integer")
    assert row["detail"].startswith("column subtotal_minor (from Subtotal): not an amount")
    # The order's every line, as read, so the quarantine shows what was collapsed.
    assert row["raw_text"].count("\n") == 1


def test_segment_checkout_events_map_and_other_calls_are_filtered_out(tmp_path):
    campaign = {"name": "spring", "source": "newsletter", "medium": "email"}
    export = write_jsonl(
        tmp_path / "segment.jsonl",
        [
            segment_track("m-1", "Checkout Started", "2026-03-10T10:00:00.250Z",
                          "2026-03-10T10:00:01Z", {"order_id": "5001", "value": 49.9},
                          campaign=campaign, referrer="https://mail.example.com/"),
            segment_track("m-2", "Product Viewed", "2026-03-10T10:00:05Z",
                          "2026-03-10T10:00:06Z", {"product_id": "SKU-TEE"}),
            {"type": "identify", "messageId": "m-3", "userId": "u1"},
            segment_track("m-4", "Order Completed", "2026-03-10T10:02:00Z",
                          "2026-03-10T10:02:01Z",
                          {"checkout_id": "5001", "order_id": "#1001", "total": 49.9,
                           "revenue": 41.93, "currency": "EUR"}, campaign=campaign),
        ],
    )  # fmt: skip
    mapped = apply_mapping(load_adapter("segment_track"), export)
    assert (mapped.read, mapped.filtered_out, quarantined(mapped)) == (4, 2, [])
    started, completed = mapped.rows.to_pylist()
    assert started == {
        "event_id": "m-1",
        "event_name": "checkout_started",
        "anonymous_id": "anon-1",
        "session_id": None,
        "checkout_id": "5001",
        "occurred_at": datetime(2026, 3, 10, 10, 0, 0, 250000),
        "received_at": datetime(2026, 3, 10, 10, 0, 1),
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "spring",
        "referrer": "https://mail.example.com/",
        "revenue_minor": None,
        "currency": None,
        "adapter_origin": "segment.jsonl:1",
    }
    assert (completed["event_name"], completed["revenue_minor"], completed["currency"]) == (
        "checkout_completed",
        4990,
        "EUR",
    )


@pytest.mark.parametrize(
    ("line", "reason", "detail"),
    [
        ("{not json", "malformed_json", "not valid JSON"),
        (
            '{"type": "track", "event": "Order Completed", "messageId": "m-9", '
            '"timestamp": "2026-03-10T10:00:00Z", "receivedAt": "2026-03-10T10:00:01Z", '
            '"properties": {"checkout_id": "c1", "currency": "EUR"}}',
            "missing_value",
            "column revenue_minor: is missing",
        ),
        (
            '{"type": "track", "event": "Checkout Started", "messageId": "m-9", '
            '"timestamp": "2026-03-10T10:00:00Z", "receivedAt": "10/03/2026", '
            '"properties": {"checkout_id": "c1"}}',
            "unparseable_timestamp",
            "column received_at (from receivedAt): not a timestamp in iso: 10/03/2026",
        ),
    ],
)
def test_segment_lines_that_do_not_map_are_quarantined_with_the_reason(
    tmp_path, line, reason, detail
):
    mapped = apply_mapping(load_adapter("segment_track"), write_jsonl(tmp_path / "s.jsonl", [line]))
    [(number, got_reason, got_detail)] = quarantined(mapped)
    assert (number, got_reason) == (1, reason)
    assert got_detail.startswith(detail)
