"""The reference checkout service as real processes on real ports: `recon serve`, `recon worker`.

Each component is its own process: the orchestrator on `port`, the six downstream services on the
six ports after it (fraud, tax, inventory, payment, order, fulfillment), each a uvicorn server
with its own database, and the worker, which resumes stopped sagas and delivers the outbox. The
inventory process also runs the reservation reaper. Killing any of them (even with SIGKILL) loses
nothing: every step is committed before the next starts and every call carries its idempotency
key, so a restarted process, a retried request or the worker finishes the work exactly once.

Settings come from `RECON_SERVICE_*` environment variables (see `StackSettings`); `recon serve`
passes its own to the processes it starts.
"""

import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from checkout_service.db import DatabaseSettings
from checkout_service.orchestrator.settings import DOWNSTREAM, SERVICE, OrchestratorSettings

WORKER = "worker"
# Set for a component started by `Component`: the PID of the process that started it.
PARENT_ENV = "RECON_SERVICE_PARENT_PID"
SERVERS = (SERVICE, *DOWNSTREAM)
COMPONENTS = (*SERVERS, WORKER)
# The simulator's catalogue, stocked so that a fresh `recon serve` takes orders at once.
DEFAULT_STOCK = {sku: 100_000 for sku in ("SKU-BAG", "SKU-CAP", "SKU-MUG", "SKU-SOCK", "SKU-TEE")}

if TYPE_CHECKING:
    from checkout_service.idempotency import IdempotencyStore
    from checkout_service.services.runtime import ServiceSettings

log = logging.getLogger(__name__)


class StackSettings(BaseSettings):
    """How `recon serve` and `recon worker` run the service (environment: RECON_SERVICE_*)."""

    model_config = SettingsConfigDict(env_prefix="RECON_SERVICE_", extra="ignore")

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL shared by all services (one schema each on PostgreSQL); "
        "default: one SQLite file per service under data_dir.",
    )
    data_dir: Path = Field(Path("data/services"), description="SQLite files and process logs.")
    schema_prefix: str = Field("", description="Prefix of each service's PostgreSQL schema.")
    host: str = "127.0.0.1"
    port: int = Field(8100, ge=1, le=65535 - len(DOWNSTREAM), description="The orchestrator's.")
    api_keys: dict[str, str] = Field(
        default_factory=lambda: {"sk_test_default": "mer_default"},
        description="API key → merchant ID, as JSON.",
    )
    initial_stock: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_STOCK),
        description="Stock seeded for SKUs the inventory does not know yet, as JSON.",
    )
    reaper_seconds: float = Field(30.0, gt=0, description="How often expired holds are released.")
    key_purge_seconds: float = Field(
        3600.0, gt=0, description="How often each component deletes its expired idempotency keys."
    )
    worker_poll_seconds: float = Field(1.0, gt=0)
    give_up_after_seconds: float = Field(
        900.0, gt=0, description="A saga undecided this long is compensated by the worker."
    )
    saga_lease_seconds: float = Field(60.0, gt=0)
    lock_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="An idempotency key locked by a request that died frees up after this.",
    )
    http_timeout_seconds: float = Field(10.0, gt=0)

    def database(self) -> DatabaseSettings:
        return DatabaseSettings(
            url=self.database_url, data_dir=self.data_dir, schema_prefix=self.schema_prefix
        )

    def port_of(self, component: str) -> int:
        return self.port + SERVERS.index(component)

    def url_of(self, component: str) -> str:
        return f"http://{self.host}:{self.port_of(component)}"

    def orchestrator(self) -> OrchestratorSettings:
        return OrchestratorSettings(
            database=self.database(),
            service_urls={name: self.url_of(name) for name in DOWNSTREAM},
            api_keys=self.api_keys,
            saga_lease=timedelta(seconds=self.saga_lease_seconds),
            lock_timeout=self.lock_timeout,
            http_timeout_seconds=self.http_timeout_seconds,
        )

    @property
    def lock_timeout(self) -> timedelta:
        return timedelta(seconds=self.lock_timeout_seconds)

    def service(self) -> "ServiceSettings":
        from checkout_service.services.runtime import ServiceSettings

        return ServiceSettings(database=self.database(), lock_timeout=self.lock_timeout)

    def to_env(self) -> dict[str, str]:
        """These settings as the environment variables that give them back."""
        env = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            text = json.dumps(value) if isinstance(value, dict) else str(value)
            env[f"RECON_SERVICE_{name.upper()}"] = text
        return env


def create_component_app(component: str, settings: StackSettings):
    """The FastAPI app of one server component, built from the settings. Only that component's
    code is imported: a restarted process is back sooner."""
    if component == SERVICE:
        from checkout_service.orchestrator.app import create_app

        return create_app(settings.orchestrator())
    if component not in DOWNSTREAM:
        raise ValueError(f"unknown component {component!r}; known: {', '.join(COMPONENTS)}")
    module = importlib.import_module(f"checkout_service.services.{component}")
    if component == "inventory":
        return module.create_app(
            module.InventorySettings(
                **dict(settings.service()), initial_stock=settings.initial_stock
            )
        )
    return module.create_app(settings.service())


def run_server(component: str, settings: StackSettings, log_level: str = "warning") -> None:
    """Serve one component in this process until SIGINT/SIGTERM."""
    import uvicorn

    app = create_component_app(component, settings)
    stop = threading.Event()
    if component == "inventory":
        threading.Thread(
            target=_reap, args=(app.state.runtime, settings.reaper_seconds, stop), daemon=True
        ).start()
    threading.Thread(
        target=_purge_keys, args=(key_store(app), settings.key_purge_seconds, stop), daemon=True
    ).start()
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port_of(component),
            log_level=log_level,
            access_log=False,
        )
    finally:
        stop.set()


def _reap(runtime: Any, every_seconds: float, stop: threading.Event) -> None:
    from checkout_service.services.inventory import release_expired

    while not stop.wait(every_seconds):
        try:
            released = release_expired(runtime)
        except Exception:
            log.exception("reaper pass failed; retrying after %.0f s", every_seconds)
            continue
        if released:
            log.warning("reaper released %d expired reservation(s)", len(released))


def key_store(app: Any) -> "IdempotencyStore":
    """The idempotency key store of a server component's app."""
    if hasattr(app.state, "orchestrator"):
        return app.state.orchestrator.keys
    return app.state.runtime.store


def _purge_keys(store: "IdempotencyStore", every_seconds: float, stop: threading.Event) -> None:
    # Keys past their retention already count as new; deleting them keeps the table from
    # growing with every request ever answered. At start, then every `every_seconds`.
    while True:
        try:
            purged = store.purge()
        except Exception:
            log.exception("key purge failed; retrying after %.0f s", every_seconds)
        else:
            if purged:
                log.info("purged %d expired idempotency key(s)", purged)
        if stop.wait(every_seconds):
            return


def run_worker(settings: StackSettings, *, once: bool = False) -> dict[str, int]:
    """The outbox and recovery worker; with `once`, a single pass whose counts are returned."""
    from checkout_service.orchestrator import outbox
    from checkout_service.orchestrator.recovery import recover
    from checkout_service.orchestrator.runtime import build_orchestrator

    orch = build_orchestrator(settings.orchestrator())
    give_up_after = timedelta(seconds=settings.give_up_after_seconds)
    try:
        if once:
            recovered = recover(orch, give_up_after)
            delivered = outbox.process_outbox(orch)
            return {
                "recovered": len(recovered),
                "delivered": sum(d.outcome == "handled" for d in delivered),
                "failed": sum(d.outcome == "failed" for d in delivered),
            }
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        outbox.run_worker(
            orch, stop, poll_seconds=settings.worker_poll_seconds, give_up_after=give_up_after
        )
        return {}
    finally:
        orch.close()


# -- processes ------------------------------------------------------------------------------


class ComponentFailed(RuntimeError):
    """A component process exited, or did not answer in time."""


@dataclass
class Component:
    """One component as a child process of this one (`python -m checkout_service.serve NAME`)."""

    name: str
    settings: StackSettings
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log_file: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.settings.data_dir / "logs" / f"{self.name}.log"

    @property
    def url(self) -> str | None:
        return self.settings.url_of(self.name) if self.name in SERVERS else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.log_file is None:
            self.log_file = self.log_path.open("ab")
        env = {**os.environ, **self.settings.to_env(), **self.env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "checkout_service.serve", self.name],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            env={**env, PARENT_ENV: str(os.getpid())},
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the server answers on its port (the worker: until it is running)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise ComponentFailed(f"{self.name} exited: {self.log_tail()}")
            if self.url is None or _answers(self.url):
                return
            if time.monotonic() > deadline:
                raise ComponentFailed(f"{self.name} did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def kill(self, signum: int = signal.SIGKILL) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signum)
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None

    def log_tail(self, lines: int = 15) -> str:
        if not self.log_path.exists():
            return "(no log)"
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(tail) or "(empty log)"


def _exit_with_parent(parent: int, every_seconds: float = 1.0) -> None:
    """In a component process: stop (SIGTERM to itself, a graceful shutdown) once the process
    that started it is gone, even if it died by SIGKILL, so no orphan keeps holding its port.
    Linux's PR_SET_PDEATHSIG would not do: it fires when the parent *thread* that started the
    child exits, and components are restarted from threads."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_seconds)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def free_port_block(size: int) -> int:
    """A first port of `size` consecutive free ones on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + size < 65536 and all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports found")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class Stack:
    """Every component as a child process; `start` returns once all servers answer."""

    settings: StackSettings
    components: dict[str, Component] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: StackSettings, worker: bool = True) -> "Stack":
        names = COMPONENTS if worker else SERVERS
        return cls(settings, {name: Component(name, settings) for name in names})

    def start(self, timeout: float = 60.0) -> None:
        # The servers start side by side; the worker once the orchestrator's tables exist, so
        # the two processes never race to create them.
        servers = [c for c in self.components.values() if c.name != WORKER]
        try:
            for component in servers:
                component.start()
            for component in servers:
                component.wait_ready(timeout)
            if WORKER in self.components:
                self.components[WORKER].start()
                self.components[WORKER].wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def restart(self, name: str, timeout: float = 60.0) -> None:
        component = self.components[name]
        component.kill()
        component.start()
        component.wait_ready(timeout)

    def stop(self) -> None:
        for component in reversed(self.components.values()):
            component.stop()

    def supervise(
        self,
        stop: threading.Event,
        out: IO[str],
        check_seconds: float = 0.5,
        crash_loop: tuple[int, float] = (3, 10.0),
    ) -> None:
        """Restart any component that exits until `stop` is set (what `recon serve` runs). A
        component that exits `crash_loop[0]` times in a row within `crash_loop[1]` seconds of
        its start (a taken port, a bad setting) is not restarted again: ComponentFailed."""
        limit, window = crash_loop
        started = {name: time.monotonic() for name in self.components}
        quick_exits = dict.fromkeys(self.components, 0)
        while not stop.wait(check_seconds):
            for name, component in self.components.items():
                if component.alive():
                    continue
                lived = time.monotonic() - started[name]
                quick_exits[name] = quick_exits[name] + 1 if lived < window else 1
                code = component.process.returncode if component.process else None
                if quick_exits[name] >= limit:
                    raise ComponentFailed(
                        f"{name} exited ({code}) {limit} times within {window:.0f} s of "
                        f"starting; not restarting it. Its log:\n{component.log_tail()}"
                    )
                print(f"{name} exited ({code}); restarting", file=out, flush=True)
                component.start()
                started[name] = time.monotonic()


def main(argv: list[str]) -> int:
    """Entry of a component process: `python -m checkout_service.serve NAME`."""
    if len(argv) != 1 or argv[0] not in COMPONENTS:
        print(
            f"usage: python -m checkout_service.serve {{{','.join(COMPONENTS)}}}", file=sys.stderr
        )
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if PARENT_ENV in os.environ:
        _exit_with_parent(int(os.environ[PARENT_ENV]))
    settings = StackSettings()
    if argv[0] == WORKER:
        run_worker(settings)
    else:
        run_server(argv[0], settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
