"""HTTP calls to the downstream services, each under its `{checkout_id}:{step}` key.

A lost answer is never guessed: a transport error is resolved by asking the service what it did
under the key (`GET /v1/operations/{key}`), and otherwise the call is repeated with the same key,
which the service executes at most once.
"""

import asyncio
import threading
import time
import weakref
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from checkout_service.idempotency import KEY_HEADER

T = TypeVar("T")

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
    async-only): the services run in-process, without ports.

    The app runs on an event loop of its own, in a background thread started on first use and
    stopped by `close()`. One loop for the transport's lifetime keeps the threadpool where
    FastAPI runs sync endpoints alive between requests; a loop per request (`asyncio.run`) paid
    for a new loop and a new worker thread on every call. Callable from any thread, including a
    FastAPI threadpool worker of another in-process app, and from several threads at once."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self._lock = threading.Lock()
        self._runner: _LoopThread | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(
                response.status_code, headers=response.headers, content=content, request=request
            )

        return self._loop().run(send())

    def close(self) -> None:
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop()

    def _loop(self) -> "_LoopThread":
        with self._lock:
            if self._runner is None:
                self._runner = _LoopThread(f"in-process {type(self.inner.app).__name__}")
                # A transport dropped without close() still stops its thread.
                weakref.finalize(self, self._runner.stop, wait=False)
            return self._runner


class _LoopThread:
    """An event loop running in a daemon thread until `stop()`.

    The loop runs one long-lived task, so anyio treats it as the root task and keeps its worker
    threads for as long as the loop lives (they stop when a root task ends)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._stopping: asyncio.Event | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._main, args=(ready,), name=name, daemon=True)
        self.thread.start()
        ready.wait()

    def _main(self, ready: threading.Event) -> None:
        async def until_stopped() -> None:
            self._stopping = asyncio.Event()
            ready.set()
            await self._stopping.wait()

        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(until_stopped())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            coroutine.close()
            raise RuntimeError("an in-process app cannot call itself synchronously")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self, wait: bool = True) -> None:
        if self.loop.is_closed() or self._stopping is None:
            return
        try:
            self.loop.call_soon_threadsafe(self._stopping.set)
        except RuntimeError:  # closed in between
            return
        if wait and threading.current_thread() is not self.thread:
            self.thread.join()


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
        return _operation_reply(service, key, response.json())

    def fence(self, service: str, key: str) -> Reply | None:
        """Like `lookup`, for a caller about to give up on `key`: the stored outcome, or None
        when the request never ran, in which case the service now refuses it if it arrives
        late. Raises OutcomeUnknown while it is in flight or the service is unreachable."""
        try:
            response = self.clients[service].post(f"/v1/operations/{key}/fence")
        except httpx.TransportError as error:
            raise OutcomeUnknown(f"{service} fence of {key}: {error}") from error
        if response.status_code != 200:
            raise OutcomeUnknown(f"{service} fence of {key}: HTTP {response.status_code}")
        return _operation_reply(service, key, response.json())

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def _operation_reply(service: str, key: str, operation: dict[str, Any]) -> Reply | None:
    if operation["state"] == "fenced":
        return None
    if operation["state"] != "completed":
        raise OutcomeUnknown(f"{service} operation {key} is still in flight")
    return Reply(operation["status_code"], operation["body"])


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
