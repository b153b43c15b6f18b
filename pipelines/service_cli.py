"""`recon serve` and `recon worker`: the reference checkout service as real processes."""

import signal
import sys
import threading
from pathlib import Path

import click

from checkout_service.serve import COMPONENTS, SERVERS, WORKER, ComponentFailed, StackSettings
from pipelines.cli_params import examples, seed_option


def _settings(**options: object) -> StackSettings:
    """RECON_SERVICE_* from the environment, overridden by the options given."""
    return StackSettings(**{name: value for name, value in options.items() if value is not None})


_database_options = [
    click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="SQLite files and logs [default: RECON_SERVICE_DATA_DIR or data/services].",
    ),
    click.option(
        "--database-url",
        default=None,
        help="SQLAlchemy URL instead of SQLite files, e.g. postgresql://postgres@127.0.0.1/test "
        "(one schema per service) [default: RECON_SERVICE_DATABASE_URL].",
    ),
    click.option(
        "--port",
        type=click.IntRange(1, 65529),
        default=None,
        help="The orchestrator's port; the six services take the next six "
        "[default: RECON_SERVICE_PORT or 8100].",
    ),
]


def database_options(command):
    for option in reversed(_database_options):
        command = option(command)
    return command


@click.command(
    epilog=examples(
        "recon serve                                   # all of it, SQLite files in data/services",
        "recon serve --data-dir /tmp/shop --port 9100",
        "recon serve --database-url postgresql://postgres@127.0.0.1/test",
        "recon serve --only payment                    # one component in the foreground",
    )
)
@database_options
@click.option(
    "--only",
    type=click.Choice(COMPONENTS),
    default=None,
    help="Run this one component in the foreground instead of all of them.",
)
@click.option("--no-worker", is_flag=True, help="Do not start the outbox/recovery worker.")
def serve(
    data_dir: Path | None,
    database_url: str | None,
    port: int | None,
    only: str | None,
    no_worker: bool,
) -> None:
    """Run the checkout service: the orchestrator, six downstream services and the worker.

    Each is its own process on 127.0.0.1 (orchestrator on --port, then fraud, tax, inventory,
    payment, order, fulfillment), with its own database and a log under <data-dir>/logs/. A
    process that exits is restarted; Ctrl-C stops them all. A checkout:

    \b
      curl -X POST localhost:8100/v1/checkouts -H 'Content-Type: application/json' \\
        -H 'Authorization: Bearer sk_test_default' -H 'Idempotency-Key: k1' -d '{
          "lines": [{"sku": "SKU-TEE", "quantity": 1, "unit_price_minor": 1990}],
          "customer": {"id": "cus_1"}, "currency": "EUR", "payment_token": "tok_visa"}'
    """
    from checkout_service.serve import Stack, run_server, run_worker

    settings = _settings(data_dir=data_dir, database_url=database_url, port=port)
    if only == WORKER:
        run_worker(settings)
        return
    if only is not None:
        run_server(only, settings)
        return
    stack = Stack.of(settings, worker=not no_worker)
    click.echo(f"starting {len(stack.components)} processes (logs: {settings.data_dir / 'logs'})")
    try:
        stack.start()
    except ComponentFailed as error:
        raise click.ClickException(str(error)) from error
    for name in SERVERS:
        click.echo(f"  {name:<12} {settings.url_of(name)}")
    click.echo("ready; Ctrl-C stops")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stack.supervise(stop, sys.stdout)
    except ComponentFailed as error:
        raise click.ClickException(str(error)) from error
    finally:
        click.echo("stopping")
        stack.stop()


@click.command(
    epilog=examples(
        "recon worker --once                           # one pass, for cron",
        "recon worker --database-url postgresql://postgres@127.0.0.1/test",
    )
)
@database_options
@click.option("--once", is_flag=True, help="One pass (recover, deliver the outbox), then exit.")
def worker(data_dir: Path | None, database_url: str | None, port: int | None, once: bool) -> None:
    """The outbox and recovery worker of the checkout service.

    Resumes sagas whose process died (compensating those undecided for too long) and delivers
    the outbox (captures, fulfillment requests), at least once, through idempotent calls. Runs
    until SIGINT/SIGTERM; --once makes a single pass, for cron or a test.
    """
    from checkout_service.serve import run_worker

    settings = _settings(data_dir=data_dir, database_url=database_url, port=port)
    counts = run_worker(settings, once=once)
    if once:
        click.echo(", ".join(f"{name} {n}" for name, n in counts.items()))


@click.command(
    epilog=examples(
        "recon chaos --data-dir /tmp/chaos-1",
        "recon chaos --data-dir /tmp/soak-1 --checkouts 2000 --clients 8 --kills 50   # a soak",
    )
)
@database_options
@click.option("--checkouts", type=click.IntRange(1), default=30, show_default=True)
@click.option("--clients", type=click.IntRange(1), default=4, show_default=True)
@click.option("--kills", type=click.IntRange(0), default=6, show_default=True)
@seed_option(default=0)
def chaos(
    data_dir: Path | None,
    database_url: str | None,
    port: int | None,
    checkouts: int,
    clients: int,
    kills: int,
    seed: int,
) -> None:
    """Prove the service loses and doubles nothing when its processes are killed.

    Starts every component, sends CHECKOUTS checkouts from CLIENTS safe clients (retrying with
    the same key, cancelling some), SIGKILLs a random component KILLS times and restarts it,
    lets the worker drain, then audits the services' databases: every checkout terminal, no one
    charged twice, one order per charge, no reservation held; and reconciles their export, which
    must show no money discrepancy. Exits 1 on any violation. Use a fresh --data-dir (or
    PostgreSQL schema prefix) each time; large counts make a soak.
    """
    from testdata.chaos import ChaosPlan, run_chaos

    settings = _settings(
        data_dir=data_dir,
        database_url=database_url,
        port=port,
        saga_lease_seconds=5.0,
        lock_timeout_seconds=5.0,
        give_up_after_seconds=20.0,
        worker_poll_seconds=0.5,
    )
    plan = ChaosPlan(checkouts=checkouts, clients=clients, kills=kills, seed=seed)
    result = run_chaos(settings, plan, click.echo)
    click.echo(result.describe())
    if result.violations:
        sys.exit(1)
    found = _reconcile_export(settings)
    click.echo(f"reconciliation of the export: {len(found)} money discrepancies")
    for row in found:
        click.echo(f"  {row['type']} checkout {row['checkout_id']}")
    if found:
        sys.exit(1)


def _reconcile_export(settings: StackSettings) -> list[dict]:
    """The service databases through the pipeline, in a scratch landing folder."""
    import tempfile

    from testdata.chaos_audit import money_discrepancies

    with tempfile.TemporaryDirectory(prefix="recon-chaos-") as landing:
        return money_discrepancies(settings.database(), Path(landing))
