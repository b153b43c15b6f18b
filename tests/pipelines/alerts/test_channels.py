"""What each channel puts on the wire, checked at the receiving end."""

import hashlib
import hmac
import json

from pipelines.alerts import AlertConfig, run_alerts
from tests.pipelines.alerts.conftest import DAY, NOW, ROUTING_KEY, SECRET


def test_payload_shapes_of_every_channel(shop, http, smtp, full_config, tmp_path):
    config = AlertConfig.model_validate(full_config)
    ids = shop.ids()
    run_alerts(shop.con, DAY, config, now=NOW, sleep=lambda _s: None)

    # Webhook: HMAC-SHA256 over "<timestamp>.<body>", verifiable by the receiver.
    [hook] = http.at("/hook")
    timestamp = hook.headers["X-Recon-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + hook.body, hashlib.sha256)
    assert hook.headers["X-Recon-Signature"] == f"sha256={expected.hexdigest()}"
    assert timestamp.isdigit()
    assert hook.headers["Idempotency-Key"] == hook.json["notice_id"]
    assert hook.json["kind"] == "new" and hook.json["mode"] == "digest"
    assert hook.json["total"] == 3 and hook.json["total_minor"] == {"EUR": 93_500}

    # Slack: a Block Kit message with a fallback text.
    critical = next(r.json for r in http.at("/slack") if "payment_without_order" in r.json["text"])
    assert [block["type"] for block in critical["blocks"]] == ["header", "section", "context"]
    assert critical["blocks"][0]["text"]["type"] == "plain_text"
    assert critical["blocks"][1]["text"]["type"] == "mrkdwn"
    assert ids["chk_pwo"] in critical["blocks"][1]["text"]["text"]

    # PagerDuty Events API v2.
    [page] = http.at("/pd")
    assert page.json == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": ids["chk_pwo"],
        "payload": {
            "summary": "recon 2026-02-10: critical payment_without_order 90000 EUR "
            "(checkout chk_pwo)",
            "source": "checkout-recon",
            "severity": "critical",
            "custom_details": {
                "discrepancy_id": ids["chk_pwo"],
                "business_date": "2026-02-10",
                "type": "payment_without_order",
                "severity": "critical",
                "checkout_id": "chk_pwo",
                "amount_minor": 90_000,
                "currency": "EUR",
            },
        },
    }

    # E-mail: plain text and HTML alternatives.
    [mail] = smtp.messages
    assert mail["Subject"] == "[recon 2026-02-10] 3 new discrepancies"
    assert mail["To"] == "oncall@example.test"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in mail.walk()
        if not part.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "order_without_payment EUR 25.00" in parts["text/plain"]
    assert parts["text/html"].startswith("<html>") and ids["chk_owp"] in parts["text/html"]

    # JSON lines: one notice per line.
    lines = [json.loads(line) for line in (tmp_path / "n.jsonl").read_text().splitlines()]
    assert sorted(line["items"][0]["checkout_id"] for line in lines) == [
        "chk_owp",
        "chk_ph",
        "chk_pwo",
    ]

    # No personal data: the customer IDs of the flows never leave the warehouse.
    everything = b"".join(r.body for r in http.requests) + b"".join(
        m.as_bytes() for m in smtp.messages
    )
    assert b"cus_" not in everything
