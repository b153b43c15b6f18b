"""`recon`: run the daily reconciliation, generate demo data, inspect the models."""

import importlib
import sys
from datetime import date, timedelta
from pathlib import Path

import click

from pipelines.cli_params import (
    date_option,
    examples,
    existing_warehouse,
    fee_schedule,
    landing_option,
    seed_option,
    source_adapters,
    warehouse_option,
)
from recon.discrepancy_types import SEVERITIES

SEVERITY_CHOICE = click.Choice(list(reversed(SEVERITIES)))


class LazyGroup(click.Group):
    """Commands of other modules, imported only when they run or `--help` lists them (click's
    lazy-loading pattern): `recon run` need not import the service and the alert commands
    first, which cost about half a second at every start."""

    def __init__(self, *args, lazy_commands: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands  # name -> "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy_commands:
            return super().get_command(ctx, name)
        module, attribute = self.lazy_commands[name].split(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(
    cls=LazyGroup,
    lazy_commands={
        "adapters": "pipelines.adapters_command:adapters",
        "alerts": "pipelines.alerts.command:alerts",
        "cases": "pipelines.cases.command:cases",
        "chaos": "pipelines.service_cli:chaos",
        "serve": "pipelines.service_cli:serve",
        "show": "pipelines.show_command:show",
        "web": "pipelines.web_command:web",
        "worker": "pipelines.service_cli:worker",
    },
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=examples(
        "recon demo                 # simulate, reconcile and score a day in ./data",
        "recon run --landing data/landing --date 2026-03-10 --out data/out/2026-03-10",
        "recon alerts --date 2026-03-10 --dry-run",
        "recon run --help           # every command has its own help and examples",
    ),
)
@click.version_option(package_name="checkout-recon", prog_name="recon")
def main() -> None:
    """Checkout reconciliation toolkit.

    Reads landing files (orders, payments, inventory moves, fulfillments, analytics events) for a
    business date, reconciles them in DuckDB (or on Apache Spark: run --engine spark) and reports
    duplicate charges, orphans, unattributed revenue and the other discrepancy types of
    docs/rules.md. Settings not given as options come from RECON_* environment variables
    (docs/operations.md lists them)."""


@main.command(
    epilog=examples(
        "recon run --landing data/landing --date 2026-03-10 --out data/out/2026-03-10",
        "recon run --landing data/landing --date 2026-03-10 --out out --fail-on high --quiet",
        "recon run --landing data/landing --date 2026-03-10 --out out --lookback 7   # late files",
        "recon run --source services --landing data/landing --date 2026-03-10 --out out",
        "recon run --engine spark --warehouse spark.duckdb --landing data/landing "
        "--date 2026-03-10 --out out",
        "recon run --landing data/landing --date 2026-03-10 --out out "
        "--adapter payments=stripe_charges --adapter orders=shopify_orders",
        "recon run --landing data/landing --date 2026-03-10 --out out --fee-schedule fees.yaml",
    )
)
@landing_option("Landing directory: <landing>/<source>/<YYYY-MM-DD>/*.parquet|jsonl|csv.")
@date_option("Business date to reconcile (UTC), YYYY-MM-DD.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory for discrepancies.parquet and quarantine.parquet.",
)
@warehouse_option()
@click.option(
    "--lookback",
    type=click.IntRange(0, 31),
    default=None,
    help="Days of later (and earlier) landing folders read [default: 3].",
)
@click.option(
    "--fail-on",
    type=SEVERITY_CHOICE,
    default=None,
    help="Exit 1 when discrepancies at or above this severity exist (for automation).",
)
@click.option(
    "--source",
    "source_mode",
    type=click.Choice(["landing", "services"]),
    default=None,
    help="Read orders, payments, inventory moves and fulfillments from landing files or "
    "straight from the service databases [default: RECON_SOURCE_MODE or landing].",
)
@click.option(
    "--services-data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="--source services: the services' SQLite files [default: data/services].",
)
@click.option(
    "--services-database-url",
    default=None,
    help="--source services: the services' SQLAlchemy URL instead of SQLite files.",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default=None,
    help="What reads the files and builds the models: DuckDB here, or Apache Spark at "
    "RECON_SPARK_MASTER (default local[*]) [default: RECON_ENGINE or duckdb]. A warehouse "
    "belongs to one engine.",
)
@click.option(
    "--adapter",
    "adapters",
    multiple=True,
    callback=source_adapters,
    metavar="SOURCE=ADAPTER",
    help="Read SOURCE's landing files as a provider's exports through ADAPTER (a built-in "
    "adapter's name or a mapping file's path); repeatable [default: RECON_ADAPTERS, which any "
    "--adapter replaces].",
)
@click.option(
    "--fee-schedule",
    callback=fee_schedule,
    metavar="SCHEDULE",
    help="The payment provider's fees, for fee_mismatch: a JSON object, a JSON/YAML/TOML file, "
    "or `reference` (the reference provider's, which `recon generate` and `recon simulate` "
    "charge) [default: RECON_FEE_SCHEDULE, or no fee check].",
)
@click.option("--quiet", "-q", is_flag=True, help="No per-step progress, only the summary.")
def run(
    landing: Path,
    day: date,
    out: Path,
    warehouse: Path | None,
    lookback: int | None,
    fail_on: str | None,
    source_mode: str | None,
    services_data_dir: Path | None,
    services_database_url: str | None,
    engine: str | None,
    adapters: dict[str, str] | None,
    fee_schedule: object | None,
    quiet: bool,
) -> None:
    """Reconcile one business date through the Dagster job, in this process.

    Prints one line per step, then the discrepancies by type. Rerunning a date replaces its rows:
    the same files give the same output."""
    from pydantic import ValidationError

    from pipelines.local_run import run_partition
    from recon.settings import ReconSettings

    if not landing.is_dir():
        raise click.BadParameter(f"{landing} is not a directory", param_hint="--landing")
    overrides = {"landing_dir": landing, "out_dir": str(out).replace("{", "{{").replace("}", "}}")}
    if warehouse is not None:
        overrides["warehouse_path"] = warehouse
    if lookback is not None:
        overrides["lookback_days"] = lookback
    for name, value in (
        ("source_mode", source_mode),
        ("services_data_dir", services_data_dir),
        ("services_database_url", services_database_url),
        ("engine", engine),
        ("adapters", adapters),
        ("fee_schedule", fee_schedule),
    ):
        if value is not None:
            overrides[name] = value
    try:
        settings = ReconSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
        raise click.UsageError(f"settings: {problems}") from None
    outcome = run_partition(settings, day, progress=None if quiet else sys.stderr)
    click.echo(outcome.report())
    if not outcome.success:
        sys.exit(2)
    if fail_on and outcome.count_at_or_above(fail_on):
        click.echo(f"exit 1: discrepancies at or above {fail_on} severity (--fail-on)", err=True)
        sys.exit(1)


@main.command(
    epilog=examples(
        "recon generate --landing data/landing --date 2026-03-10",
        "recon generate --landing /tmp/landing --checkouts 100000 --seed 3 --no-bad-rows",
    )
)
@landing_option("Landing directory to write into.")
@date_option("Business date of the generated checkouts [default: yesterday, UTC].", required=False)
@click.option(
    "--checkouts",
    type=click.IntRange(14, 1_000_000),
    default=200,
    show_default=True,
    help="Checkouts of the day (at least 14: one per anomaly scenario).",
)
@seed_option()
@click.option("--no-bad-rows", is_flag=True, help="Write only contract-valid rows.")
def generate(landing: Path, day: date | None, checkouts: int, seed: int, no_bad_rows: bool) -> None:
    """Write a synthetic landing dataset with known anomalies.

    Writes the provider's settlement report and payouts too (reconcile them with
    `recon run --fee-schedule reference`, as `recon demo` does). The same seed gives the same files;
    <landing>/_ground_truth.parquet lists every injected anomaly (checkout, type, cause, and the
    line or payout ID where no checkout explains it) so a run can be scored."""
    from testdata.synthetic import generate_landing

    day = day or _yesterday()
    summary = generate_landing(
        landing, day, checkouts=checkouts, seed=seed, bad_rows=not no_bad_rows
    )
    click.echo(summary.describe())


@main.command(
    epilog=examples(
        "recon simulate --landing data/landing --date 2026-03-10 --checkouts 500",
        "recon simulate --landing /tmp/landing --profile clean   # no money discrepancy may result",
    )
)
@landing_option("Landing directory to write the exports and _ground_truth.parquet into.")
@date_option("Business date of the simulated checkouts [default: yesterday, UTC].", required=False)
@click.option("--checkouts", type=click.IntRange(1, 100_000), default=200, show_default=True)
@seed_option()
@click.option(
    "--profile",
    type=click.Choice(["realistic", "clean", "chaos"]),
    default="realistic",
    show_default=True,
    help="clean: network faults and crashes only (no money discrepancy may result); "
    "realistic: plus browser loss and unsafe clients; chaos: more of everything.",
)
def simulate(landing: Path, day: date | None, checkouts: int, seed: int, profile: str) -> None:
    """Drive the reference checkout service with fault injection and export a landing day.

    Runs the orchestrator and the six services in this process, injects the profile's faults
    and unsafe client behaviours (same seed, same data), exports every service database and
    the browsers' analytics events into <landing>, with the simulated payment provider's
    settlement report and payouts, and writes _ground_truth.parquet: one row per anomaly it
    caused."""
    from pipelines.progress import checkout_progress
    from testdata.simulator import DayOverfull
    from testdata.simulator import simulate as run_simulation

    try:
        summary = run_simulation(
            landing, day or _yesterday(), checkouts, seed, profile, progress=checkout_progress()
        )
    except DayOverfull as error:
        raise click.BadParameter(str(error), param_hint="--checkouts") from error
    click.echo(summary.describe())


# A day `make demo` simulates and reconciles within a minute on two cores: 36 to 52 s here, of
# which the simulator takes 25 to 37 (two lanes, 54 to 80 checkouts a second, as busy as the
# machine is) and the pipeline with its imports about 11. Every anomaly type shows at this size.
DEMO_CHECKOUTS = 2000


@main.command(
    epilog=examples(
        "recon demo                                  # 2,000 simulated checkouts into ./data",
        "recon demo --generator synthetic --dir /tmp/demo --checkouts 500",
        "recon demo --profile chaos --seed 11",
    )
)
@click.option(
    "--dir",
    "root",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("data"),
    show_default=True,
    help="Where the demo writes landing/, warehouse.duckdb and out/ (what `make ui` reads).",
)
@date_option("Business date [default: yesterday, UTC].", required=False)
@click.option(
    "--checkouts",
    type=click.IntRange(1, 100_000),
    default=DEMO_CHECKOUTS,
    show_default=True,
    help="Checkouts in the day (the synthetic generator needs at least 14).",
)
@seed_option()
@click.option(
    "--generator",
    type=click.Choice(["simulator", "synthetic"]),
    default="simulator",
    show_default=True,
    help="simulator: drive the reference checkout service with the profile's faults (see "
    "`recon simulate`); synthetic: the scripted day of `recon generate` (faster, with bad rows).",
)
@click.option(
    "--profile",
    type=click.Choice(["realistic", "clean", "chaos"]),
    default="realistic",
    show_default=True,
    help="The simulator's profile (ignored by the synthetic generator).",
)
def demo(
    root: Path, day: date | None, checkouts: int, seed: int, generator: str, profile: str
) -> None:
    """Simulate a day of checkouts with known anomalies, reconcile it, and score the result.

    Prints the reconciliation summary, the score against the simulator's ground truth (recall
    and precision), and where the reports are."""
    from pipelines.demo import run_demo

    if generator == "synthetic" and checkouts < 14:
        raise click.BadParameter(
            "the synthetic generator needs at least 14", param_hint="--checkouts"
        )
    from testdata.simulator import DayOverfull

    try:
        ok = run_demo(
            root, day or _yesterday(), checkouts, seed, generator=generator, profile=profile
        )
    except DayOverfull as error:
        raise click.BadParameter(str(error), param_hint="--checkouts") from error
    sys.exit(0 if ok else 1)


@main.command(
    epilog=examples(
        "recon report --date 2026-03-10 --out data/out/2026-03-10",
        "recon report --date 2026-03-10 --out /tmp/reports --warehouse data/warehouse.duckdb",
    )
)
@date_option()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory to write reports/ into.",
)
@warehouse_option()
def report(day: date, out: Path, warehouse: Path | None) -> None:
    """Rebuild a date's reports from the warehouse (no ingestion, no models run).

    Writes <out>/reports/index.html and the finance, marketing, revenue bridge and discrepancy
    pages (self-contained HTML that opens from disk), with CSV and Parquet of every table."""
    from recon.reports.build import build_reports
    from recon.settings import ReconSettings
    from recon.warehouse import connect, has_tables

    path = existing_warehouse(warehouse)
    with connect(path) as con:
        reconciled = has_tables(con, "marts.revenue_bridge")
        if (
            not reconciled
            or not con.execute(
                "select count(*) from marts.finance_daily where _partition_date = ?", [day]
            ).fetchone()[0]
        ):
            raise click.ClickException(f"{day} has not been reconciled in {path}: run `recon run`")
        files = build_reports(con, day, out, ReconSettings().web_url)
    click.echo(f"reports: {files.pages['index']}")


@main.command(
    epilog=examples(
        "recon models",
        "recon models | grep discrepancy   # the rules and what each reads",
    )
)
def models() -> None:
    """List the SQL models in run order with the tables each reads."""
    from dbt_like_models import MODELS_DIR
    from recon.sql_models import discover, order

    for model in order(discover(MODELS_DIR)):
        click.echo(f"{model.table:<36} <- {', '.join(model.depends_on)}")


def _yesterday() -> date:
    from datetime import UTC, datetime

    return datetime.now(UTC).date() - timedelta(days=1)


if __name__ == "__main__":
    main()
