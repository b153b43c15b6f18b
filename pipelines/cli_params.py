"""Click parameter callbacks shared by the `recon` commands."""

from datetime import date
from pathlib import Path

import click


def parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """A YYYY-MM-DD option as a date; a usage error (exit 2) naming the value otherwise."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from exc


def source_adapters(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str] | None:
    """Repeated `SOURCE=ADAPTER` options as a dict (None when none is given: the setting holds);
    the settings check that each source exists and each adapter loads and feeds it."""
    if not values:
        return None
    adapters: dict[str, str] = {}
    for value in values:
        source, sep, adapter = value.partition("=")
        if not sep or not source.strip() or not adapter.strip():
            raise click.BadParameter(f"{value!r} is not SOURCE=ADAPTER")
        if source.strip() in adapters:
            raise click.BadParameter(f"{source.strip()} is given two adapters")
        adapters[source.strip()] = adapter.strip()
    return adapters


def fee_schedule(_ctx: click.Context, _param: click.Parameter, value: str | None):
    """`--fee-schedule`: `reference` (the reference provider's, which the generators charge), a
    JSON object, or a JSON, YAML or TOML file holding one; None when not given (the setting
    holds). Returns a `recon.cash_settings.FeeSchedule`."""
    if value is None:
        return None
    from pydantic import ValidationError

    from recon.cash_settings import FeeSchedule

    if value == "reference":
        from testdata.settlement import REFERENCE_FEE_SCHEDULE

        return REFERENCE_FEE_SCHEDULE
    try:
        return FeeSchedule.parse(_schedule_mapping(value))
    except (ValueError, ValidationError) as exc:
        raise click.BadParameter(f"{value}: {exc}") from None


def _schedule_mapping(value: str) -> dict:
    import json
    import tomllib

    import yaml

    if value.lstrip().startswith("{"):
        return json.loads(value)
    path = Path(value)
    if not path.is_file():
        raise ValueError("neither `reference`, a JSON object nor a file")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        return tomllib.loads(text)
    return yaml.safe_load(text) or {}  # YAML reads JSON too


def examples(*commands: str) -> str:
    """A command's epilog: example invocations, shown as written (`\\b` stops click rewrapping
    the paragraph). tests/pipelines/test_cli.py parses every one of them."""
    return "\b\nExamples:\n" + "\n".join(f"  {command}" for command in commands)


def landing_option(help: str):
    return click.option(
        "--landing", type=click.Path(path_type=Path, file_okay=False), required=True, help=help
    )


def date_option(help: str = "Business date, YYYY-MM-DD.", *, required: bool = True):
    return click.option(
        "--date", "day", callback=parse_date, required=required, default=None, help=help
    )


def seed_option(default: int = 7):
    return click.option(
        "--seed", type=int, default=default, show_default=True, help="The same seed, the same data."
    )


def warehouse_option():
    return click.option(
        "--warehouse",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="DuckDB warehouse file [default: RECON_WAREHOUSE_PATH or data/warehouse.duckdb].",
    )


def existing_warehouse(warehouse: Path | None) -> Path:
    """The warehouse a command reads: `--warehouse`, else the settings'; a usage error naming it
    when it does not exist (a new empty one would only fail later, less clearly)."""
    from recon.settings import ReconSettings

    path = warehouse or ReconSettings().warehouse_path
    if not path.exists():
        raise click.BadParameter(f"{path} does not exist", param_hint="--warehouse")
    return path
