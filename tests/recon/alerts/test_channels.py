"""What each channel puts on the wire, checked at the receiving end."""

import json

from standardwebhooks import Webhook

from recon.alerts import AlertConfig, run_alerts
from recon.alerts.delivery import deliver_pending
from recon.alerts.notices import Item, Notice
from recon.alerts.schema import ensure_alerts_schema
from tests.recon.alerts.conftest import DAY, NEXT_RUN, NOW, ROUTING_KEY, SECRET


def test_payload_shapes_of_every_channel(shop, http, smtp, full_config, tmp_path):
    config = AlertConfig.model_validate(full_config)
    ids = shop.ids()
    run_alerts(shop.con, DAY, config, now=NOW, sleep=lambda _s: None)

    # Webhook: signed per Standard Webhooks, verified by the reference library.
    [hook] = http.at("/hook")
    assert Webhook(SECRET).verify(hook.body, hook.headers) == hook.json
    assert hook.headers["webhook-id"] == hook.json["notice_id"]
    assert hook.headers["Idempotency-Key"] == hook.json["notice_id"]
    assert hook.json["kind"] == "new" and hook.json["mode"] == "digest"
    assert hook.json["total"] == 3 and hook.json["total_minor"] == {"EUR": 93_500}

    # Slack: a Block Kit message with a fallback text, sent by the Slack SDK.
    assert all("slackclient/" in r.headers["User-Agent"] for r in http.at("/slack"))
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


def pager_only(http, monkeypatch, rule: dict) -> AlertConfig:
    monkeypatch.setenv("RECON_TEST_PD_KEY", ROUTING_KEY)
    pager = {"routing_key_env": "RECON_TEST_PD_KEY", "url": f"{http.url}/pd"}
    return AlertConfig.model_validate(
        {
            "channels": [{"name": "pager", "type": "pagerduty", "options": pager}],
            "rules": [{"channels": ["pager"], **rule}],
        }
    )


def test_pagerduty_gets_an_event_for_every_discrepancy_of_a_digest(shop, http, monkeypatch):
    # The digest lists only the largest; the events cover all it holds, largest first.
    config = pager_only(http, monkeypatch, {"digest_top": 1})
    ids = shop.ids()

    run_alerts(shop.con, DAY, config, now=NOW, sleep=lambda _s: None)

    events = [r.json for r in http.at("/pd")]
    assert [e["dedup_key"] for e in events] == [ids["chk_pwo"], ids["chk_owp"], ids["chk_ph"]]
    assert {e["event_action"] for e in events} == {"trigger"}
    # The listed one with its details, the others by ID only.
    assert events[0]["payload"]["custom_details"]["checkout_id"] == "chk_pwo"
    assert "checkout_id" not in events[1]["payload"]["custom_details"]

    http.requests.clear()
    shop.refund_late()
    run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=lambda _s: None)

    assert [r.json for r in http.at("/pd")] == [
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": ids["chk_pwo"]}
    ]


def test_a_queued_digest_from_before_still_pages_every_id_its_payload_lists(
    shop, http, monkeypatch
):
    # Digests enqueued before notice_items became their record listed every ID in the payload.
    config = pager_only(http, monkeypatch, {"digest_top": 1})
    ensure_alerts_schema(shop.con)
    item = Item("d-1", "duplicate_charge", "critical", "chk_1", 5_000, "EUR")
    old = Notice(
        "old-digest",
        "pager",
        "new",
        DAY,
        "digest",
        items=(item,),
        total=2,
        total_minor={"EUR": 6_000},
        discrepancy_ids=("d-1", "d-2"),
    )
    assert json.loads(old.to_json())["discrepancy_ids"] == ["d-1", "d-2"]
    shop.con.execute(
        "insert into alerts.outbox (notice_id, channel, kind, business_date, payload, created_at, "
        "next_attempt_at) values (?, 'pager', 'new', ?, ?, ?, ?)",
        [old.notice_id, DAY, old.to_json(), NOW, NOW],
    )

    deliveries = deliver_pending(shop.con, config, NOW, sleep=lambda _s: None)

    assert [d.delivered for d in deliveries] == [True]
    assert [r.json["dedup_key"] for r in http.at("/pd")] == ["d-1", "d-2"]
