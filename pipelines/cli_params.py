"""Click parameter callbacks shared by the `recon` commands."""

from datetime import date

import click


def parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """A YYYY-MM-DD option as a date; a usage error (exit 2) naming the value otherwise."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from exc


def examples(*commands: str) -> str:
    """A command's epilog: example invocations, shown as written (`\\b` stops click rewrapping
    the paragraph). tests/pipelines/test_cli.py parses every one of them."""
    return "\b\nExamples:\n" + "\n".join(f"  {command}" for command in commands)
