"""Benchmark: the reference checkout service over real HTTP on 127.0.0.1.

    python bench/service.py --seconds 10 --clients 8 [--pg-url postgresql://postgres@127.0.0.1/test]

Starts the stack as `recon serve` does: the six downstream services and the orchestrator each as its
own uvicorn process, and the outbox worker settling captures beside them (SQLite files by default,
or PostgreSQL schemas). Drives POST /v1/checkouts from concurrent clients for a bounded time, then
sends the same requests again (idempotent replays). Prints checkouts/s and p50/p95/p99 latency for
both, and the replay/first-request latency ratio."""

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from checkout_service.db import drop_schema, normalise_url  # noqa: E402
from checkout_service.orchestrator.settings import DOWNSTREAM, SERVICE  # noqa: E402
from checkout_service.serve import SERVERS, Stack, StackSettings, free_port_block  # noqa: E402

API_KEY = "sk_bench"
SKUS = 50


def body(n: int) -> dict:
    return {
        "lines": [{"sku": f"SKU-{n % SKUS}", "quantity": 1, "unit_price_minor": 1999}],
        "customer": {"id": f"cus_{n}", "country": "DE"},
        "currency": "EUR",
        "payment_token": "tok_visa",
        "client_context": {"utm_source": "newsletter"},
    }


def drive(url: str, keys: list[str], clients: int, deadline: float | None) -> list[float]:
    """POST checkouts under `keys` (in order) until done or past `deadline`; latencies in s."""
    latencies: list[float] = []
    lock = threading.Lock()
    position = iter(range(len(keys)))

    def client() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while deadline is None or time.perf_counter() < deadline:
                with lock:
                    n = next(position, None)
                if n is None:
                    return
                started = time.perf_counter()
                response = http.post(
                    "/v1/checkouts",
                    json=body(n),
                    headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": keys[n]},
                )
                elapsed = time.perf_counter() - started
                if response.status_code >= 500:
                    raise SystemExit(f"{response.status_code}: {response.text}")
                with lock:
                    latencies.append(elapsed)

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    return latencies


def show(label: str, latencies: list[float], seconds: float) -> float:
    q = statistics.quantiles(latencies, n=100)
    p50 = statistics.median(latencies)
    print(
        f"{label:<14} {len(latencies):>6} requests {len(latencies) / seconds:>8.1f}/s  "
        f"p50 {p50 * 1000:7.1f} ms  p95 {q[94] * 1000:7.1f} ms  p99 {q[98] * 1000:7.1f} ms"
    )
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration [10]")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients [8]")
    parser.add_argument("--pg-url", default=None, help="PostgreSQL instead of SQLite files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        settings = StackSettings(
            data_dir=Path(data),
            database_url=args.pg_url,
            schema_prefix=f"bench{uuid.uuid4().hex[:6]}_" if args.pg_url else "",
            port=free_port_block(len(SERVERS)),
            api_keys={API_KEY: "mer_bench"},
            initial_stock={f"SKU-{i}": 10**9 for i in range(SKUS)},
        )
        stack = Stack.of(settings)
        stack.start()
        try:
            backend = "PostgreSQL" if args.pg_url else "SQLite"
            print(
                f"checkout service on {backend}: {len(stack.components)} processes "
                f"(orchestrator, 6 services, worker), {args.clients} clients, {args.seconds:.0f} s"
            )
            url = settings.url_of(SERVICE)
            keys = [f"bench-{uuid.uuid4().hex}" for _ in range(1_000_000)]
            started = time.perf_counter()
            first = drive(url, keys, args.clients, started + args.seconds)
            first_p50 = show("first requests", first, time.perf_counter() - started)
            started = time.perf_counter()
            replays = drive(url, keys[: len(first)], args.clients, None)
            replay_p50 = show("replays", replays, time.perf_counter() - started)
            print(f"replay/first p50 latency ratio: {replay_p50 / first_p50:.2f}")
        finally:
            stack.stop()
            if args.pg_url:
                _drop_schemas(args.pg_url, settings.schema_prefix)


def _drop_schemas(pg_url: str, prefix: str) -> None:
    """The benchmark's PostgreSQL schemas are scratch: leave the server as it was."""
    engine = create_engine(normalise_url(pg_url))
    for name in (*DOWNSTREAM, SERVICE):
        drop_schema(engine, f"{prefix}{name}")
    engine.dispose()


if __name__ == "__main__":
    main()
