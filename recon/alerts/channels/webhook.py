"""A generic webhook: the notice as JSON, signed so the receiver can trust and date it.

Signature: hex HMAC-SHA256 over `<timestamp>.<body>` with the shared secret; the receiver rejects
old timestamps, so a captured request cannot be replayed later."""

import hashlib
import hmac
import time

from recon.alerts.channels.base import post, secret
from recon.alerts.config import WebhookOptions
from recon.alerts.notices import Notice


def sign(secret_value: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return hmac.new(secret_value.encode(), message, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, options: WebhookOptions) -> None:
        self.options = options

    def send(self, notice: Notice) -> None:
        key = secret(self.options.secret_env)
        body = notice.to_json().encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            self.options.timestamp_header: timestamp,
            self.options.signature_header: f"sha256={sign(key, timestamp, body)}",
            "Idempotency-Key": notice.notice_id,
        }
        post(self.options.url, body, headers, self.options.timeout_s)
