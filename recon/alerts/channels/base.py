"""What every channel shares."""

import os
from typing import Protocol

import httpx

from recon.alerts.notices import Notice


class DeliveryError(Exception):
    pass


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
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")
    return response
