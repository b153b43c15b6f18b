"""GA4's BigQuery export, one event a JSON line: begin_checkout and purchase become the
contract's checkout events, their event_params read by key."""

from datetime import datetime

from recon.adapters.apply import apply_mapping
from recon.adapters.registry import load_adapter
from tests.recon.adapters.mapped import quarantined
from tests.recon.adapters.provider_exports import ga4_event, write_jsonl

AT_10 = 1773136800_000000  # 2026-03-10 10:00:00 UTC, in microseconds
SESSION = 1773136700
CAMPAIGN = {"manual_source": "newsletter", "manual_medium": "email",
            "manual_campaign_name": "spring"}  # fmt: skip


def test_ga4_checkout_events_map_with_their_params_and_other_events_are_filtered_out(tmp_path):
    purchase = {"ga_session_id": SESSION, "currency": "EUR", "transaction_id": "#1001",
                "value": 49.9, "checkout_id": "5001"}  # fmt: skip
    export = write_jsonl(
        tmp_path / "events_20260310.jsonl",
        [
            ga4_event("page_view", AT_10, {"ga_session_id": SESSION, "page_title": "Cart"}),
            ga4_event("begin_checkout", AT_10 + 250_000,
                      {"ga_session_id": SESSION, "checkout_id": "5001", "currency": "EUR",
                       "value": 49.9, "page_referrer": "https://mail.example.com/"},
                      collected=CAMPAIGN),
            ga4_event("purchase", AT_10 + 120_000_000, purchase,
                      ecommerce={"transaction_id": "#1001", "purchase_revenue": 49.9,
                                 "purchase_revenue_in_usd": 54.2, "total_item_quantity": "1"}),
        ],
    )  # fmt: skip
    mapped = apply_mapping(load_adapter("ga4_events"), export)
    assert (mapped.read, mapped.filtered_out, quarantined(mapped)) == (3, 1, [])
    started, completed = mapped.rows.to_pylist()
    assert started == {
        "event_id": "1234.5678:7:1773136800250000:begin_checkout",
        "event_name": "checkout_started",
        "anonymous_id": "1234.5678",
        "session_id": f"1234.5678:{SESSION}",
        "checkout_id": "5001",
        "occurred_at": datetime(2026, 3, 10, 10, 0, 0, 250000),
        "received_at": datetime(2026, 3, 10, 10, 0, 0, 250000),
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "spring",
        "referrer": "https://mail.example.com/",
        "revenue_minor": None,
        "currency": "EUR",
        "adapter_origin": "events_20260310.jsonl:2",
    }
    # The user's first-visit `traffic_source` ((direct)) is not this checkout's attribution.
    assert {k: completed[k] for k in ("event_name", "checkout_id", "revenue_minor", "currency",
                                      "utm_source", "occurred_at")} == {
        "event_name": "checkout_completed",
        "checkout_id": "5001",
        "revenue_minor": 4990,
        "currency": "EUR",
        "utm_source": None,
        "occurred_at": datetime(2026, 3, 10, 10, 2),
    }  # fmt: skip


def test_a_purchase_without_a_transaction_id_param_falls_back_and_direct_is_no_campaign(tmp_path):
    event = ga4_event(
        "purchase", AT_10, {"currency": "JPY", "value": 1000, "transaction_id": "#1002"},
        pseudo_id="", collected={"manual_source": "(direct)", "manual_medium": "(none)"},
    )  # fmt: skip
    del event["user_pseudo_id"]
    mapped = apply_mapping(load_adapter("ga4_events"), write_jsonl(tmp_path / "e.jsonl", [event]))
    [row] = mapped.rows.to_pylist()
    assert (row["checkout_id"], row["revenue_minor"], row["utm_source"], row["utm_medium"]) == (
        "#1002",
        1000,
        None,
        None,
    )
    # Consent mode: no pseudo ID, yet an event ID of its own.
    assert (row["event_id"], row["anonymous_id"], row["session_id"]) == (
        "-:7:1773136800000000:purchase",
        None,
        None,
    )


def test_ga4_events_that_do_not_map_are_quarantined_with_the_reason(tmp_path):
    export = write_jsonl(
        tmp_path / "events.jsonl",
        [
            ga4_event("purchase", AT_10, {"currency": "EUR", "value": 49.9},
                      ecommerce={"transaction_id": "(not set)", "purchase_revenue": 49.9}),
            ga4_event("purchase", AT_10, {"currency": "EUR", "checkout_id": "5003"},
                      ecommerce={"transaction_id": "#1003", "purchase_revenue": 49.999}),
            ga4_event("begin_checkout", AT_10, {"checkout_id": "5004"}) | {"event_timestamp": "x"},
            '{"event_name": "purchase", ',
        ],
    )  # fmt: skip
    mapped = apply_mapping(load_adapter("ga4_events"), export)
    assert mapped.rows.num_rows == 0
    assert [(line, reason) for line, reason, _ in quarantined(mapped)] == [
        (1, "missing_value"),
        (2, "invalid_integer"),
        (3, "unparseable_timestamp"),
        (4, "malformed_json"),
    ]
    details = [detail for _, _, detail in quarantined(mapped)]
    assert details[0] == (
        "column checkout_id: is missing (neither a checkout_id event parameter nor a transaction "
        "ID)"
    )
    assert details[1] == (
        "column revenue_minor (from its value): not an amount in major units of its currency: "
        "49.999"
    )
