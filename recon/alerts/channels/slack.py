"""A Slack incoming webhook, as a Block Kit message, through the Slack SDK (`slack-sdk`).

Retries: the outbox (`recon.alerts.delivery`) owns them. A 5xx, a timeout or a connection error
fails the attempt at once and the outbox retries it with its backoff (`retry:`), then leaves the
notice pending for a later run. So the SDK gets none of its own retry handlers for those (its
default retries a connection error once more, with a sleep the outbox does not see: 2 requests
per attempt). The one it gets answers Slack's rate limit: a 429 waits the `Retry-After` Slack
asks for, if that is short, and tries once more inside the same attempt; a longer wait (or
another 429) fails the attempt like any other error."""

import http.client
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.webhook import WebhookClient

from recon.alerts.channels.base import DeliveryError, http_failure, secret
from recon.alerts.config import SlackOptions
from recon.alerts.notices import Notice

# The longest `Retry-After` waited for inside an attempt; a longer one is left to the outbox.
MAX_RETRY_AFTER_S = 30.0


def blocks(notice: Notice) -> list[Block]:
    lines = notice.lines()
    return [
        HeaderBlock(text=PlainTextObject(text=notice.title[: HeaderBlock.text_max_length])),
        SectionBlock(
            text=MarkdownTextObject(
                text="\n".join(f"• {line}" for line in lines)[: SectionBlock.text_max_length]
            )
        ),
        ContextBlock(elements=[MarkdownTextObject(text=f"notice `{notice.notice_id}`")]),
    ]


def retry_after(response: HttpResponse | None) -> float | None:
    """The seconds a 429 asks to wait, if given in seconds and at most `MAX_RETRY_AFTER_S`."""
    if response is None or response.status_code != 429:
        return None
    values = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), [])
    try:
        seconds = float(values[0])
    except (IndexError, ValueError):  # absent, or an HTTP date
        return None
    return seconds if 0 <= seconds <= MAX_RETRY_AFTER_S else None


class RateLimitRetry(RetryHandler):
    """Slack's rate limit (429): wait `Retry-After`, then one more request. `sleep` is the seam
    tests replace (the SDK's own `RateLimitErrorRetryHandler` sleeps unbounded, with jitter)."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        super().__init__(max_retry_count=1)
        self.sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return retry_after(response) is not None

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self.sleep(retry_after(response) or 0.0)
        state.increment_current_attempt()


class SlackSender:
    def __init__(self, options: SlackOptions, *, sleep: Callable[[float], None] = time.sleep):
        self.options = options
        self.sleep = sleep

    def send(self, notice: Notice) -> None:
        env_name = self.options.webhook_url_env
        url = secret(env_name)
        # Checked here: urllib's and the SDK's errors about a bad URL quote it, and it is a secret.
        bad_url = DeliveryError(f"environment variable {env_name}: not a valid http(s) URL")
        try:
            parts = urlsplit(url)
            valid = parts.scheme.lower() in ("http", "https") and parts.hostname
            parts.port  # noqa: B018  (raises on a port out of range)
        except ValueError:
            valid = False
        if not valid:
            raise bad_url
        client = WebhookClient(
            url,
            timeout=self.options.timeout_s,  # type: ignore[arg-type]  # urllib takes a float
            retry_handlers=[RateLimitRetry(self.sleep)],
        )
        try:
            # `text` is the fallback shown in notifications and by clients without blocks.
            response = client.send(text=notice.title, blocks=blocks(notice))
        except (SlackRequestError, ValueError):
            raise bad_url from None
        except (OSError, http.client.HTTPException) as error:
            # OSError: urllib's URLError and timeouts, whose messages do not quote the URL.
            raise DeliveryError(f"{type(error).__name__}: {error}") from error
        if response.status_code >= 300:
            wait = response.headers.get("Retry-After") if response.status_code == 429 else None
            later = f" (Retry-After: {wait})" if wait else ""
            raise http_failure(response.status_code, f"{response.body[:200]}{later}")
