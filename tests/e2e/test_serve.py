"""`recon serve` and `recon worker` as a user runs them: real processes on real ports."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from checkout_service.serve import COMPONENTS, SERVERS, free_port_block

pytestmark = pytest.mark.slow

RECON = [sys.executable, "-m", "pipelines.cli"]
BODY = {
    "lines": [{"sku": "SKU-TEE", "quantity": 2, "unit_price_minor": 1990}],
    "customer": {"id": "cus_serve"},
    "currency": "EUR",
    "payment_token": "tok_visa",
}
HEADERS = {"Authorization": "Bearer sk_test_default"}


def children(pid: int) -> dict[str, int]:
    """The component processes `recon serve` started, by component name. A child that has
    exited and is not reaped yet has an empty command line (or is gone): it is not counted."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if len(argv) >= 2:
            found[argv[-2].decode()] = int(child)
    return found


def every_component(pid: int) -> dict[str, int] | None:
    found = children(pid)
    return found if set(found) == set(COMPONENTS) else None


def wait_for(condition, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while (value := condition()) is None or value is False:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)  # polling a condition with a deadline, not waiting out a race
    return value


def answer(url: str):
    try:
        return httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def settled(http: httpx.Client, payment_url: str, checkout_id: str) -> bool:
    """Both outbox events delivered: fulfillment requested and the total captured. The worker
    delivers them in either order, so waiting for one alone races the other."""
    checkout = http.get(f"/v1/checkouts/{checkout_id}").json()
    if checkout["fulfillment_id"] is None:
        return False
    try:
        auth = httpx.get(f"{payment_url}/v1/authorizations/{checkout['payment_id']}", timeout=5)
    except httpx.TransportError:
        return False  # the payment process is restarting
    return auth.json()["captured_minor"] == checkout["total_minor"]


def test_serve_runs_every_component_restarts_a_killed_one_and_stops_cleanly(tmp_path):
    port = free_port_block(len(SERVERS))
    data = tmp_path / "services"
    command = [*RECON, "serve", "--data-dir", str(data), "--port", str(port)]
    serve = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not lines or lines[-1] != "ready; Ctrl-C stops":
            line = serve.stdout.readline()
            assert line, f"recon serve exited: {''.join(lines)}"
            lines.append(line.strip())
        assert f"orchestrator http://127.0.0.1:{port}" in " ".join(" ".join(lines).split())
        started = wait_for(lambda: every_component(serve.pid), "one process per component")

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=HEADERS) as http:
            created = http.post("/v1/checkouts", json=BODY, headers={"Idempotency-Key": "s1"})
            assert created.status_code == 201, created.text
            checkout = created.json()
            assert checkout["total_minor"] > 2 * 1990  # tax added
            payment_url = f"http://127.0.0.1:{port + SERVERS.index('payment')}"
            # The worker process, not the request, captures and asks for fulfillment.
            wait_for(lambda: settled(http, payment_url, checkout["id"]), "the worker to settle")

            os.kill(started["payment"], signal.SIGKILL)
            assert "payment exited (-9); restarting" in serve.stdout.readline()
            wait_for(lambda: answer(payment_url), "payment")
            again = http.post("/v1/checkouts", json=BODY, headers={"Idempotency-Key": "s2"})
            assert again.status_code == 201, again.text
            replay = http.post("/v1/checkouts", json=BODY, headers={"Idempotency-Key": "s2"})
            assert replay.json() == again.json()
            wait_for(
                lambda: settled(http, payment_url, again.json()["id"]),
                "the worker to settle the second checkout",
            )

        survivors = children(serve.pid)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
        for pid in survivors.values():
            assert not Path(f"/proc/{pid}").exists() or _zombie(pid)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()

    # Nothing left for a one-off worker pass: the running worker delivered everything.
    once = subprocess.run(
        [*RECON, "worker", "--once", "--data-dir", str(data), "--port", str(port)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert once.stdout.strip() == "recovered 0, delivered 0, failed 0"


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True
