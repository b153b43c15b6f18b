"""HTTP calls to the downstream services, each under its `{checkout_id}:{step}` key.

A lost answer is never guessed: a transport error is resolved by asking the service what it did
under the key (`GET /v1/operations/{key}`), and otherwise the call is repeated with the same key,
which the service executes at most once.
"""

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from checkout_service.idempotency import KEY_HEADER

# Problem types of the idempotency layer that mean "not decided yet, retry with the same key".
_RETRY_TYPES = frozenset(
    {
        "urn:checkout-recon:problem:idempotency-request-in-flight",
        "urn:checkout-recon:problem:idempotency-retry",
    }
)


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


class OutcomeUnknown(Exception):
    """A call's outcome could not be established; the saga stays at its recovery point."""


class InProcessTransport(httpx.BaseTransport):
    """A synchronous transport over an ASGI app, through `httpx.ASGITransport` (which is
    async-only): the services run in-process, without ports. Each request runs on its own event
    loop, so it works from any thread, including a FastAPI threadpool worker."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(
                response.status_code, headers=response.headers, content=content, request=request
            )

        return asyncio.run(send())


class ServiceClients:
    def __init__(
        self, clients: Mapping[str, httpx.Client], attempts: int = 3, backoff_seconds: float = 0.05
    ) -> None:
        self.clients = dict(clients)
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds

    @classmethod
    def from_urls(
        cls,
        urls: Mapping[str, str],
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        attempts: int = 3,
    ) -> "ServiceClients":
        clients = {
            name: httpx.Client(base_url=url, transport=transport, timeout=timeout)
            for name, url in urls.items()
        }
        return cls(clients, attempts=attempts)

    @classmethod
    def in_process(
        cls, apps: Mapping[str, Any], *, timeout: float = 10.0, attempts: int = 3
    ) -> "ServiceClients":
        """Clients that call each service's ASGI app directly (tests, a one-process simulator)."""
        clients = {
            name: httpx.Client(
                base_url=f"http://{name}.internal",
                transport=InProcessTransport(app),
                timeout=timeout,
            )
            for name, app in apps.items()
        }
        return cls(clients, attempts=attempts)

    def call(self, service: str, path: str, key: str, body: Mapping[str, Any]) -> Reply:
        client = self.clients[service]
        last = "no attempt"
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                response = client.post(path, json=dict(body), headers={KEY_HEADER: key})
            except httpx.TransportError as error:
                last = f"{type(error).__name__}: {error}"
                try:
                    found = self.lookup(service, key)
                except OutcomeUnknown as unknown:
                    last += f"; {unknown}"
                    continue
                if found is not None:
                    return found
                continue  # never executed: repeating it under the same key is safe
            if _transient(response):
                last = f"HTTP {response.status_code} {_json(response).get('type', '')}".strip()
                continue
            return Reply(response.status_code, _json(response))
        raise OutcomeUnknown(f"{service} POST {path} under key {key} (last: {last})")

    def lookup(self, service: str, key: str) -> Reply | None:
        """The stored outcome of `key`; None if the service never executed it. Raises
        OutcomeUnknown when the service cannot tell yet (in flight, unreachable)."""
        try:
            response = self.clients[service].get(f"/v1/operations/{key}")
        except httpx.TransportError as error:
            raise OutcomeUnknown(f"{service} lookup of {key}: {error}") from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise OutcomeUnknown(f"{service} lookup of {key}: HTTP {response.status_code}")
        operation = response.json()
        if operation["state"] != "completed":
            raise OutcomeUnknown(f"{service} operation {key} is still in flight")
        return Reply(operation["status_code"], operation["body"])

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def _transient(response: httpx.Response) -> bool:
    if response.status_code >= 500 or response.status_code == 429:
        return True
    if response.status_code == 409:
        return _json(response).get("type") in _RETRY_TYPES
    return False


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"text": response.text}
