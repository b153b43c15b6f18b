"""What every channel shares."""

import os
from typing import Protocol

import httpx

from recon.alerts.notices import Notice


class DeliveryError(Exception):
    """A notice not delivered. `rejected`: the receiver refused the notice itself, so sending it
    again would be refused again; anything else (a channel down, a wrong URL or secret, a rate
    limit) may pass on a later try, and the notice stays pending."""

    def __init__(self, message: str, *, rejected: bool = False):
        super().__init__(message)
        self.rejected = rejected


# The answers that refuse a notice's content: malformed, too large, not understood. Not 401,
# 403, 404 or 410: those say the channel's URL or secret is wrong, which the config fixes, and
# the notices are still owed then. Not 408, 429 or 5xx: they may pass later.
REJECTED_STATUSES = frozenset({400, 413, 415, 422})


def http_failure(status: int, text: str) -> DeliveryError:
    return DeliveryError(f"HTTP {status}: {text}", rejected=status in REJECTED_STATUSES)


class Channel(Protocol):
    def send(self, notice: Notice) -> None: ...


def secret(env_name: str) -> str:
    """Secrets live in the environment only; a missing one is a delivery failure, so the notice
    stays pending until the variable is set."""
    value = os.environ.get(env_name)
    if not value:
        raise DeliveryError(f"environment variable {env_name} is not set")
    return value


def post(url: str, content: bytes, headers: dict[str, str], timeout_s: float) -> httpx.Response:
    try:
        response = httpx.post(url, content=content, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as error:
        raise DeliveryError(f"{type(error).__name__}: {error}") from error
    if response.status_code >= 300:
        raise http_failure(response.status_code, response.text[:200])
    return response
