"""Slack through the Slack SDK against a real local server: the message, and who retries what.
The outbox retries failures; the SDK only waits out a short rate limit (429 + Retry-After)."""

import socket
import threading
from collections.abc import Iterator

import pytest

from recon.alerts import AlertConfig, run_alerts
from recon.alerts.channels.slack import SlackSender
from tests.recon.alerts.conftest import DAY, NOW

ENV = "RECON_TEST_SLACK_URL"


def slack_only(monkeypatch, url: str) -> AlertConfig:
    monkeypatch.setenv(ENV, url)
    return AlertConfig.model_validate(
        {
            "channels": [{"name": "slack", "type": "slack", "options": {"webhook_url_env": ENV}}],
            "rules": [{"channels": ["slack"]}],
            "retry": {"attempts": 3, "base_delay_s": 0.5, "max_delay_s": 1.0},
        }
    )


def run(shop, config: AlertConfig, delays: list[float], waits: list[float]):
    """One run; `delays` records the outbox's backoff, `waits` the rate-limit waits."""
    sender = SlackSender(config.channel("slack").options, sleep=waits.append)
    return run_alerts(
        shop.con, DAY, config, now=NOW, sleep=delays.append, channels={"slack": sender}
    )


def test_the_digest_arrives_as_blocks_with_a_fallback_text(shop, http, monkeypatch):
    config = slack_only(monkeypatch, f"{http.url}/slack")

    done = run(shop, config, [], [])

    assert [d.delivered for d in done.deliveries] == [True]
    [message] = http.at("/slack")
    assert message.headers["Content-Type"] == "application/json;charset=utf-8"
    body = message.json
    assert body["text"] == "[recon 2026-02-10] 3 new discrepancies"
    header, section, context = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": body["text"]}}
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert section["text"]["text"].splitlines()[0].startswith("• critical payment_without_order")
    assert section["text"]["text"].endswith("• total at risk: EUR 935.00")
    assert context["elements"] == [
        {"type": "mrkdwn", "text": f"notice `{done.deliveries[0].notice_id}`"}
    ]


def test_a_short_rate_limit_is_waited_out_within_the_attempt(shop, http, monkeypatch):
    config = slack_only(monkeypatch, f"{http.url}/slack")
    http.script["/slack"] = [(429, {"Retry-After": "3"})]
    delays: list[float] = []
    waits: list[float] = []

    done = run(shop, config, delays, waits)

    # Slack's wait, then the same message again; the outbox saw one successful attempt.
    assert waits == [3.0] and delays == []
    assert [(d.delivered, d.attempts) for d in done.deliveries] == [(True, 1)]
    [limited] = http.refused_at("/slack")
    [sent] = http.at("/slack")
    assert limited.body == sent.body


def test_a_long_rate_limit_is_left_to_the_outbox(shop, http, monkeypatch):
    config = slack_only(monkeypatch, f"{http.url}/slack")
    http.script["/slack"] = [(429, {"Retry-After": "120"})] * 3
    delays: list[float] = []
    waits: list[float] = []

    failed = run(shop, config, delays, waits)

    assert waits == [] and delays == [0.5, 1.0]
    assert len(http.refused_at("/slack")) == 3 and http.at("/slack") == []
    [failure] = failed.failed
    assert failure.error == "HTTP 429: ok (Retry-After: 120)" and failed.pending == 1


def test_a_server_error_is_retried_by_the_outbox_alone(shop, http, monkeypatch):
    config = slack_only(monkeypatch, f"{http.url}/slack")
    http.status["/slack"] = 500
    delays: list[float] = []
    waits: list[float] = []

    failed = run(shop, config, delays, waits)

    # One request per attempt of the outbox: no second retry loop inside the SDK.
    assert len(http.refused_at("/slack")) == 3 and delays == [0.5, 1.0] and waits == []
    assert failed.failed[0].error == "HTTP 500: ok"


@pytest.fixture
def hang_up() -> Iterator[tuple[str, list[int]]]:
    """A server that accepts each connection and closes it unanswered; counts the connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []
    stopping = threading.Event()

    def serve() -> None:
        while True:
            connection, _ = listener.accept()
            if stopping.is_set():
                connection.close()
                return
            accepted.append(1)  # before the close the client waits on
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/slack", accepted
    stopping.set()
    socket.create_connection(listener.getsockname()).close()  # wakes the accept
    thread.join()
    listener.close()


def test_a_dropped_connection_is_retried_by_the_outbox_alone(shop, monkeypatch, hang_up):
    # The SDK's default handlers would reconnect once per attempt (6 connections, not 3).
    url, accepted = hang_up
    config = slack_only(monkeypatch, url)
    delays: list[float] = []

    failed = run(shop, config, delays, [])

    assert len(accepted) == 3 and delays == [0.5, 1.0]
    [failure] = failed.failed
    assert failure.attempts == 3 and failed.pending == 1
    assert url not in failure.error  # the webhook URL is a secret


@pytest.mark.parametrize(
    "url",
    [
        "hooks.slack.com/services/T000/B000/XXXXSECRET",
        "ftp://hooks.slack.com/services/T000/B000/XXXXSECRET",
        "https://hooks.slack.com:99999/services/T000/B000/XXXXSECRET",
    ],
)
def test_a_url_that_is_not_http_fails_without_quoting_it(shop, monkeypatch, url):
    config = slack_only(monkeypatch, url)

    failed = run(shop, config, [], [])

    expected = f"environment variable {ENV}: not a valid http(s) URL"
    assert [d.error for d in failed.failed] == [expected]
