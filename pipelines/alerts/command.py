"""`recon alerts --date D [--dry-run]`, ready to be added to the `recon` group."""

import sys
from datetime import date
from pathlib import Path

import click

from pipelines.cli_params import date_option, examples, existing_warehouse, warehouse_option


@click.command(
    name="alerts",
    epilog=examples(
        "recon alerts --date 2026-03-10 --dry-run        # what would be sent",
        "recon alerts --date 2026-03-10 --config alerts.yaml",
        "RECON_ALERTS_CONFIG=alerts.yaml recon alerts --date 2026-03-10",
    ),
)
@date_option()
@click.option("--dry-run", is_flag=True, help="Show what would be sent; change nothing.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    envvar="RECON_ALERTS_CONFIG",
    default=None,
    help="Routing config, YAML or TOML [default: RECON_ALERTS_CONFIG, else console only].",
)
@warehouse_option()
def alerts(day: date, dry_run: bool, config_path: Path | None, warehouse: Path | None) -> None:
    """Send the notices of a reconciled date: new and resolved discrepancies, and any notice
    still pending from an earlier run. Exits 1 if a notice could not be delivered: it stays
    queued for the next run, unless its channel refused the notice itself (HTTP 400, 413, 415,
    422), which rejects it for good."""
    from pydantic import ValidationError

    from recon.alerts.config import load_config
    from recon.alerts.planning import PartitionNotReconciled
    from recon.alerts.run import run_alerts
    from recon.warehouse import connect

    try:
        config = load_config(config_path)
    except (ValidationError, ValueError) as error:
        raise click.BadParameter(str(error), param_hint="--config") from error
    with connect(existing_warehouse(warehouse)) as con:
        try:
            run = run_alerts(con, day, config, dry_run=dry_run)
        except PartitionNotReconciled as error:
            raise click.ClickException(f"{error}: run `recon run` first") from error
    click.echo(run.describe())
    if run.failed:
        sys.exit(1)
