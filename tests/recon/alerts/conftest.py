"""Real local servers on 127.0.0.1 that record what the channels send, and a warehouse built
from checkout flows through the real reconciliation."""

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller

from recon.reconcile import reconcile_partition
from recon.warehouse import connect
from testdata.flows import CheckoutFlow, combine_rows
from testdata.synthetic import write_rows

DAY = date(2026, 2, 10)
NOW = datetime(2026, 2, 11, 6, 0, tzinfo=UTC)
NEXT_RUN = NOW + timedelta(days=1)


def at(clock: str, days: int = 0) -> datetime:
    return datetime.combine(DAY + timedelta(days=days), time.fromisoformat(clock), UTC)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 202  # what the server answered

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class HttpRecorder:
    url: str
    # The requests answered with a success, in arrival order.
    requests: list[Request] = field(default_factory=list)
    # The requests answered with an error status, in arrival order.
    refused: list[Request] = field(default_factory=list)
    # path -> HTTP status to answer with; anything unlisted gets 202 (PagerDuty's answer).
    status: dict[str, int] = field(default_factory=dict)
    # path -> (status, headers) answers given first, one per request, before `status` applies.
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)

    def at(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def refused_at(self, path: str) -> list[Request]:
        return [r for r in self.refused if r.path == path]


@pytest.fixture
def http() -> Iterator[HttpRecorder]:
    recorder = HttpRecorder(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                script = recorder.script.get(self.path)
                status, extra = (
                    script.pop(0) if script else (recorder.status.get(self.path, 202), {})
                )
                request = Request(self.path, dict(self.headers), body, status)
                (recorder.requests if status < 300 else recorder.refused).append(request)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll: `shutdown()` waits for it at teardown (the default is half a second).
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield recorder
    server.shutdown()
    server.server_close()
    thread.join()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


@dataclass
class Smtp:
    port: int
    messages: list[Message]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield Smtp(controller.port, mailbox.messages)
    controller.stop()


@dataclass
class Shop:
    """Three checkouts of DAY: a critical payment without order (90 000 EUR), a high order
    without payment (2 500 EUR) and a low phantom completion (1 000 EUR)."""

    landing: Path
    con: duckdb.DuckDBPyConnection
    flows: dict[str, CheckoutFlow]
    authorization: str

    def reconcile(self) -> None:
        write_rows(self.landing, combine_rows(flow.rows for flow in self.flows.values()))
        reconcile_partition(self.con, self.landing, DAY)

    def refund_late(self) -> None:
        """Late data: the kept payment is refunded the next day, so the critical one clears."""
        self.flows["pwo"].refund(self.authorization, 90_000, at=at("09:00", days=1))
        self.reconcile()

    def ids(self) -> dict[str, str]:
        rows = self.con.execute(
            "select checkout_id, discrepancy_id from marts.discrepancies where _partition_date = ?",
            [DAY],
        ).fetchall()
        return dict(rows)


@pytest.fixture
def shop(tmp_path) -> Iterator[Shop]:
    pwo = CheckoutFlow("chk_pwo", at("10:00"), total_minor=90_000)
    authorization = pwo.authorize()
    pwo.capture(authorization)
    owp = CheckoutFlow("chk_owp", at("11:00"), total_minor=2_500)
    owp.start_checkout()
    owp.place_order()
    owp.complete()
    phantom = CheckoutFlow("chk_ph", at("12:00"), total_minor=1_000)
    phantom.start_checkout()
    phantom.complete()
    with connect(tmp_path / "warehouse.duckdb") as con:
        shop = Shop(
            tmp_path / "landing", con, {"pwo": pwo, "owp": owp, "ph": phantom}, authorization
        )
        shop.reconcile()
        yield shop


# A Standard Webhooks secret (`whsec_` + base64 of 32 bytes), the webhook's default signing.
SECRET = "whsec_Y2hlY2tvdXQtcmVjb24gYWxlcnRzIHRlc3Qga2V5ISE="
# A plain shared secret, for `signing: recon`.
RECON_SECRET = "webhook-test-secret"
ROUTING_KEY = "pd-routing-key"


@pytest.fixture
def full_config(http, smtp, tmp_path, monkeypatch) -> dict:
    """Every channel type, pointed at the local servers: critical ones page and go to Slack one
    by one; everything is digested to Slack, e-mail and the webhook, and logged per line."""
    monkeypatch.setenv("RECON_TEST_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("RECON_TEST_SLACK_URL", f"{http.url}/slack")
    monkeypatch.setenv("RECON_TEST_PD_KEY", ROUTING_KEY)
    return {
        "channels": [
            {"name": "log", "type": "console", "options": {"stream": "log"}},
            {"name": "file", "type": "jsonl", "options": {"path": str(tmp_path / "n.jsonl")}},
            {
                "name": "hook",
                "type": "webhook",
                "options": {"url": f"{http.url}/hook", "secret_env": "RECON_TEST_WEBHOOK_SECRET"},
            },
            {
                "name": "slack",
                "type": "slack",
                "options": {"webhook_url_env": "RECON_TEST_SLACK_URL"},
            },
            {
                "name": "mail",
                "type": "email",
                "options": {
                    "host": "127.0.0.1",
                    "port": smtp.port,
                    "sender": "recon@example.test",
                    "recipients": ["oncall@example.test"],
                    "starttls": False,
                },
            },
            {
                "name": "pager",
                "type": "pagerduty",
                "options": {"routing_key_env": "RECON_TEST_PD_KEY", "url": f"{http.url}/pd"},
            },
        ],
        "rules": [
            {"channels": ["pager", "slack"], "severities": ["critical"], "mode": "each"},
            {"channels": ["slack", "mail", "hook", "log"], "check_failures": True},
            {"channels": ["file"], "mode": "each"},
        ],
        "retry": {"attempts": 3, "base_delay_s": 0.5, "max_delay_s": 1.0},
    }
