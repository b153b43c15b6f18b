"""A real `recon web` over a real warehouse file, reached over real HTTP.

`site` serves `create_app` under uvicorn on a free port of 127.0.0.1 (the socket listens before
the server thread starts, so no test waits for readiness) over a fresh copy of a warehouse with
five cases; `Visitor` is a browser without a browser: it keeps the session cookie, reads the
CSRF token off the page and posts forms. `running_recon_web` starts the command itself."""

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest
import yaml

from recon.cases.actions import assign, resolve
from recon.web.app import WebSettings, create_app
from recon.web.config import WebConfig, load_web_config
from recon.web.passwords import hash_secret
from tests.recon.cases.conftest import (
    MISMATCH,
    RESERVATION,
    copied,
    five_cases,
)
from tests.serving import serve

PASSWORDS = {"alice": "alice-password", "rita": "rita-password"}
API_KEY = "bot-api-key-0123456789"


def write_users_file(path: Path) -> Path:
    """alice operates, rita reads, bot reads with an API key."""
    users = [
        {"name": "alice", "role": "operator", "password_hash": hash_secret(PASSWORDS["alice"])},
        {"name": "rita", "role": "reader", "password_hash": hash_secret(PASSWORDS["rita"])},
        {"name": "bot", "role": "reader", "api_key_hash": hash_secret(API_KEY)},
    ]
    path.write_text(yaml.safe_dump({"users": users}), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def users_file(tmp_path_factory) -> Path:
    return write_users_file(tmp_path_factory.mktemp("web") / "web.yaml")


@pytest.fixture(scope="session")
def users(users_file) -> WebConfig:
    return load_web_config(users_file)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Five cases, opened relative to the wall clock: the old charge ten days ago, the others
    five hours ago; the mismatch assigned to bob, the reservation resolved."""
    path = tmp_path_factory.mktemp("cases") / "warehouse.duckdb"
    with five_cases(path) as shop:
        assign(shop.con, MISMATCH.id, to="bob", by="alice")
        resolve(shop.con, RESERVATION.id, resolution="false_positive", by="bob")
    return path


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


def error_of(response: httpx.Response) -> str | None:
    """The message a page shows in its error box (HTML entities as sent)."""
    found = _ERROR.search(response.text)
    return found[1] if found else None


class Visitor:
    """One browser's cookies, over real HTTP."""

    def __init__(self, url: str, cookies: dict[str, str] | None = None):
        self.http = httpx.Client(base_url=url, cookies=cookies, follow_redirects=False, timeout=30)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict[str, str], **kwargs) -> httpx.Response:
        return self.http.post(path, data=data, **kwargs)

    def csrf(self, path: str = "/cases") -> str:
        page = self.get(path)
        assert page.status_code == 200, page.text
        return _CSRF.search(page.text)[1]

    def sign_in(self, name: str, password: str | None = None) -> httpx.Response:
        token = self.csrf("/signin")
        password = PASSWORDS[name] if password is None else password
        return self.post("/signin", {"csrf": token, "name": name, "password": password})

    def act(self, case_id: str, action: str, **fields: str) -> httpx.Response:
        token = self.csrf(f"/cases/{case_id}")
        return self.post(f"/cases/{case_id}/{action}", {"csrf": token, **fields})


@dataclass
class Site:
    url: str
    warehouse: Path

    def visitor(self, name: str | None = None) -> Visitor:
        visitor = Visitor(self.url)
        if name is not None:
            assert visitor.sign_in(name).status_code == 303
        return visitor

    def events(self, case_id: str) -> list[tuple]:
        """(actor, action, status, resolution, assignee, note) of each event, read after the
        server closed its connection (a second, read-write one here would be refused)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(
                "select actor, action, status, resolution, assignee, note from cases.events "
                "where case_id = ? order by event_no",
                [case_id],
            ).fetchall()


@pytest.fixture
def make_site(template, users, tmp_path) -> Iterator[Callable[..., Site]]:
    """A server over a fresh copy of the template; keyword arguments go to WebSettings."""
    with ExitStack() as stack:

        def make(**settings) -> Site:
            warehouse = copied(template, tmp_path)
            app = create_app(WebSettings(warehouse=warehouse, config=users, **settings))
            return Site(stack.enter_context(serve(app)), warehouse)

        yield make


@pytest.fixture
def site(make_site) -> Site:
    return make_site()


@contextmanager
def running_recon_web(
    warehouse: Path, config: Path, log: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`recon web --port 0` in a process of its own; yields the address it prints."""
    command = [sys.executable, "-m", "pipelines.cli", "web", "--port", "0"]
    command += ["--warehouse", str(warehouse), "--config", str(config), *args]
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=log.parent
        )
    try:
        line = process.stdout.readline()  # printed once the socket listens
        found = re.search(r"http://\S+?/", line)
        assert found, f"recon web did not start: {line!r}\n{log.read_text()}"
        yield found[0].rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=15)
        process.stdout.close()
