"""The webhook's signatures, checked by a receiver: Standard Webhooks by default, verified with
the specification's reference library (`standardwebhooks`); the earlier `recon` scheme when
configured."""

import base64
import hashlib
import hmac
from datetime import date

import pytest
from pydantic import TypeAdapter, ValidationError
from standardwebhooks import Webhook, WebhookVerificationError

from recon.alerts import AlertConfig, run_alerts
from recon.alerts.channels import build_channel
from recon.alerts.channels.webhook import sign_standard
from recon.alerts.config import StandardWebhookSecret, WebhookChannel
from recon.alerts.notices import Item, Notice
from tests.recon.alerts.conftest import DAY, NEXT_RUN, NOW, RECON_SECRET, SECRET

ENV = "RECON_TEST_HOOK_SECRET"
NOTICE = Notice(
    "0123456789abcdef0123456789abcdef",
    "hook",
    "new",
    date(2026, 2, 10),
    "each",
    items=(Item("d-1", "duplicate_charge", "critical", "chk_1", 5_000, "EUR"),),
    total=1,
    total_minor={"EUR": 5_000},
)


def hook_channel(http, monkeypatch, secret: str = SECRET, **options) -> WebhookChannel:
    monkeypatch.setenv(ENV, secret)
    return WebhookChannel(
        name="hook",
        type="webhook",
        options={"url": f"{http.url}/hook", "secret_env": ENV, **options},
    )


def hook_only(http, monkeypatch, secret: str = SECRET, **options) -> AlertConfig:
    return AlertConfig(
        channels=[hook_channel(http, monkeypatch, secret, **options)],
        rules=[{"channels": ["hook"]}],
        retry={"attempts": 3, "base_delay_s": 0.5, "max_delay_s": 1.0},
    )


def test_the_receiver_verifies_a_notice_with_the_reference_library(http, monkeypatch):
    build_channel(hook_channel(http, monkeypatch)).send(NOTICE)

    [hook] = http.at("/hook")
    assert Webhook(SECRET).verify(hook.body, hook.headers) == hook.json
    assert hook.json["notice_id"] == NOTICE.notice_id
    assert hook.headers["webhook-id"] == NOTICE.notice_id == hook.headers["Idempotency-Key"]
    assert hook.headers["webhook-signature"].startswith("v1,")
    assert hook.headers["webhook-timestamp"].isdigit()
    assert not any(name.startswith("X-Recon-") for name in hook.headers)


def test_a_tampered_notice_or_another_secret_fails_verification(http, monkeypatch):
    build_channel(hook_channel(http, monkeypatch)).send(NOTICE)
    [hook] = http.at("/hook")
    receiver = Webhook(SECRET)

    tampered = hook.body.replace(b'"amount_minor": 5000', b'"amount_minor": 5')
    assert tampered != hook.body
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        receiver.verify(tampered, hook.headers)
    # The ID and the timestamp are signed too: neither can be swapped.
    for header, value in [("webhook-id", "another-notice"), ("webhook-timestamp", "1")]:
        with pytest.raises(WebhookVerificationError):
            receiver.verify(hook.body, hook.headers | {header: value})
    other = "whsec_" + base64.b64encode(b"another endpoint's key, 32 bytes").decode()
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(other).verify(hook.body, hook.headers)


def test_a_retried_notice_carries_the_same_webhook_id_each_time(shop, http, monkeypatch):
    config = hook_only(http, monkeypatch)
    http.status["/hook"] = 503
    delays: list[float] = []

    failed = run_alerts(shop.con, DAY, config, now=NOW, sleep=delays.append)

    assert delays == [0.5, 1.0] and [d.attempts for d in failed.failed] == [3]
    http.status.clear()
    later = run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=delays.append)
    assert [d.delivered for d in later.deliveries] == [True]

    # Three refused attempts in the first run, delivered in the next: one ID, every attempt
    # signed validly on its own.
    attempts = [*http.refused_at("/hook"), *http.at("/hook")]
    assert [a.status for a in attempts] == [503, 503, 503, 202]
    assert {a.headers["webhook-id"] for a in attempts} == {failed.failed[0].notice_id}
    for attempt in attempts:
        assert Webhook(SECRET).verify(attempt.body, attempt.headers) == attempt.json


def test_the_recon_signing_still_works_when_configured(http, monkeypatch):
    channel = hook_channel(
        http, monkeypatch, RECON_SECRET, signing="recon", signature_header="X-Sig"
    )
    build_channel(channel).send(NOTICE)

    [hook] = http.at("/hook")
    timestamp = hook.headers["X-Recon-Timestamp"]
    expected = hmac.new(RECON_SECRET.encode(), f"{timestamp}.".encode() + hook.body, hashlib.sha256)
    assert hook.headers["X-Sig"] == f"sha256={expected.hexdigest()}"
    assert hook.headers["Idempotency-Key"] == NOTICE.notice_id
    assert not any(name.lower().startswith("webhook-") for name in hook.headers)


BARE_BASE64 = SECRET.removeprefix("whsec_")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        # A plain shared secret of the recon scheme, under the new default.
        (RECON_SECRET, "must start with `whsec_`"),
        # Hex is valid base64 too: without the prefix it is refused, not reinterpreted.
        ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "`whsec_`"),
        # What the libraries would take bare is refused too: `whsec_` in front says it all.
        (BARE_BASE64, "put `whsec_` in front"),
        ("whsec_" + base64.urlsafe_b64encode(b"\xfb" * 32).decode(), "standard base64"),
        ("whsec_" + base64.b64encode(b"too short").decode(), "24 to 64 random bytes"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "this one holds 65"),
    ],
)
def test_a_malformed_secret_fails_the_delivery_with_the_reason(
    shop, http, monkeypatch, value, reason
):
    config = hook_only(http, monkeypatch, value)

    run = run_alerts(shop.con, DAY, config, now=NOW, sleep=lambda _s: None)

    [failure] = run.failed
    assert failure.error.startswith(f"environment variable {ENV}: ")
    assert reason in failure.error
    assert value.removeprefix("whsec_") not in failure.error  # the secret is never quoted
    assert http.requests == [] and http.refused == [] and run.pending == 1


def test_the_secret_is_decoded_as_the_reference_library_does():
    key = TypeAdapter(StandardWebhookSecret)
    assert key.validate_python(SECRET) == b"checkout-recon alerts test key!!"
    # Padding is optional; a trailing newline (a secrets file) is not part of the key.
    assert key.validate_python(SECRET.rstrip("=")) == key.validate_python(SECRET + "\n")
    timestamp = NOW.replace(microsecond=0)
    assert sign_standard(
        key.validate_python(SECRET), "msg_1", str(int(timestamp.timestamp())), b"{}"
    ) == Webhook(SECRET).sign("msg_1", timestamp, b"{}")
    with pytest.raises(ValidationError, match="standard_webhook_secret") as raised:
        key.validate_python(RECON_SECRET)
    assert "`signing: recon`" in str(raised.value)
