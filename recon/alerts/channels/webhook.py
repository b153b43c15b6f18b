"""A generic webhook: the notice as JSON, signed so the receiver can trust and date it.

`signing: standard` (the default) follows Standard Webhooks (https://www.standardwebhooks.com/),
so receivers verify with the `standardwebhooks` libraries: `webhook-id` is the notice ID (the
same on every retry, for the receiver to deduplicate), `webhook-timestamp` the Unix seconds of
the attempt, and `webhook-signature` is `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed
with the base64-decoded `whsec_` secret.

`signing: recon`, the scheme before it: hex HMAC-SHA256 over `<timestamp>.<body>` keyed with the
secret's UTF-8 bytes, as `sha256=<hex>` in `signature_header`, the timestamp in
`timestamp_header`.

Either way the receiver rejects old timestamps, so a captured request cannot be replayed later,
and `Idempotency-Key` carries the notice ID too."""

import base64
import hashlib
import hmac
import time

from pydantic import TypeAdapter, ValidationError

from recon.alerts.channels.base import DeliveryError, post, secret
from recon.alerts.config import StandardWebhookSecret, WebhookOptions
from recon.alerts.notices import Notice

_STANDARD_KEY = TypeAdapter(StandardWebhookSecret)


def sign(secret_value: str, timestamp: str, body: bytes) -> str:
    """The `recon` scheme's signature, hex."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret_value.encode(), message, hashlib.sha256).hexdigest()


def sign_standard(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """A Standard Webhooks `v1` signature; `key` is the decoded secret (`standard_key`)."""
    message = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


def standard_key(env_name: str) -> bytes:
    """The HMAC key of the `whsec_` secret in `env_name`; a missing or malformed one is a
    delivery failure naming the variable (and never quoting the value)."""
    try:
        return _STANDARD_KEY.validate_python(secret(env_name))
    except ValidationError as error:
        reasons = "; ".join(e["msg"] for e in error.errors(include_input=False))
        raise DeliveryError(f"environment variable {env_name}: {reasons}") from None


class WebhookSender:
    def __init__(self, options: WebhookOptions) -> None:
        self.options = options

    def send(self, notice: Notice) -> None:
        options = self.options
        body = notice.to_json().encode()
        # The attempt's time, not the notice's: each retry is signed afresh.
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": notice.notice_id}
        if options.signing == "standard":
            key = standard_key(options.secret_env)
            headers |= {
                # A notice ID is hex: no `.` that could shift the signed content's fields.
                "webhook-id": notice.notice_id,
                "webhook-timestamp": timestamp,
                "webhook-signature": sign_standard(key, notice.notice_id, timestamp, body),
            }
        else:
            key_text = secret(options.secret_env)
            headers |= {
                options.timestamp_header: timestamp,
                options.signature_header: f"sha256={sign(key_text, timestamp, body)}",
            }
        post(options.url, body, headers, options.timeout_s)
