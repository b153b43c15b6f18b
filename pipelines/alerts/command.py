"""`recon alerts --date D [--dry-run]`, ready to be added to the `recon` group."""

import sys
from datetime import date
from pathlib import Path

import click

from pipelines.cli_params import examples, parse_date


@click.command(
    name="alerts",
    epilog=examples(
        "recon alerts --date 2026-03-10 --dry-run        # what would be sent",
        "recon alerts --date 2026-03-10 --config alerts.yaml",
        "RECON_ALERTS_CONFIG=alerts.yaml recon alerts --date 2026-03-10",
    ),
)
@click.option(
    "--date", "day", callback=parse_date, required=True, help="Business date, YYYY-MM-DD."
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent; change nothing.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    envvar="RECON_ALERTS_CONFIG",
    default=None,
    help="Routing config, YAML or TOML [default: RECON_ALERTS_CONFIG, else console only].",
)
@click.option(
    "--warehouse",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="DuckDB warehouse file [default: RECON_WAREHOUSE_PATH or data/warehouse.duckdb].",
)
def alerts(day: date, dry_run: bool, config_path: Path | None, warehouse: Path | None) -> None:
    """Send the notices of a reconciled date: new and resolved discrepancies, and any notice
    still pending from an earlier run. Exits 1 if a notice could not be delivered (it stays
    queued for the next run)."""
    from pydantic import ValidationError

    from recon.alerts.config import load_config
    from recon.alerts.planning import PartitionNotReconciled
    from recon.alerts.run import run_alerts
    from recon.settings import ReconSettings
    from recon.warehouse import connect

    try:
        config = load_config(config_path)
    except (ValidationError, ValueError) as error:
        raise click.BadParameter(str(error), param_hint="--config") from error
    path = warehouse or ReconSettings().warehouse_path
    if not path.exists():
        raise click.BadParameter(f"{path} does not exist", param_hint="--warehouse")
    with connect(path) as con:
        try:
            run = run_alerts(con, day, config, dry_run=dry_run)
        except PartitionNotReconciled as error:
            raise click.ClickException(f"{error}: run `recon run` first") from error
    click.echo(run.describe())
    if run.failed:
        sys.exit(1)
