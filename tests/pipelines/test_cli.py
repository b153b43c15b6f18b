"""The `recon` command group itself: what a user sees before choosing a command."""

import shlex
from importlib.metadata import version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipelines.cli import main


def test_version_names_the_installed_package_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"recon, version {version('checkout-recon')}"


def test_help_lists_the_commands_of_other_modules_without_running_them():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "demo", "alerts", "serve", "worker", "chaos"):
        assert f"\n  {command} " in result.output, command


def test_an_unknown_command_is_a_usage_error_naming_it():
    result = CliRunner().invoke(main, ["reconcile"])
    assert result.exit_code == 2
    assert "No such command 'reconcile'" in result.output


def commands(group: click.Group = main, path: tuple[str, ...] = ("recon",)):
    """Every command under `recon`, with the words that name it."""
    yield path, group
    ctx = click.Context(group, info_name=path[-1])
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def examples_of(help_text: str) -> list[str]:
    """The invocations under the help's `Examples:` heading, comments and variables dropped."""
    lines = help_text.splitlines()
    heading = next((i for i, line in enumerate(lines) if line.strip() == "Examples:"), None)
    if heading is None:
        return []
    indent = len(lines[heading]) - len(lines[heading].lstrip())
    found = []
    for line in lines[heading + 1 :]:
        if len(line) - len(line.lstrip()) <= indent:
            break
        found.append(line.split("#")[0].strip())
    return found


@pytest.mark.parametrize("path", [p for p, _ in commands()], ids=" ".join)
def test_every_help_shows_examples_that_parse(path, tmp_path, monkeypatch):
    """Each command's --help ends with examples; each example is accepted by the command's own
    options (a renamed option or a bad value fails here, not in a user's terminal)."""
    result = CliRunner().invoke(main, [*path[1:], "--help"])
    assert result.exit_code == 0, result.output
    shown = examples_of(result.output)
    assert shown, f"{' '.join(path)} --help has no examples"
    monkeypatch.chdir(tmp_path)
    for example in shown:
        words = shlex.split(example.split("|")[0])
        words = words[words.index("recon") + 1 :]  # a leading VARIABLE=value is the shell's
        for word in words:  # options that want an existing file get one
            if word.endswith((".yaml", ".duckdb")):
                Path(word).parent.mkdir(parents=True, exist_ok=True)
                Path(word).touch()
        ctx, command = click.Context(main, info_name="recon"), main
        # Down to the subcommand it runs; a group's own options (`recon web --port 0`) end it.
        while isinstance(command, click.Group) and words and not words[0].startswith("-"):
            name, *words = words
            parent, command = ctx, command.get_command(ctx, name)
            assert command is not None, f"{example}: no command {name!r}"
            ctx = click.Context(command, info_name=name, parent=parent)
        if "--help" not in words:
            command.make_context(ctx.info_name, words, parent=ctx.parent)


def _run_with_fee_schedule(tmp_path: Path, schedule: str):
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    args = ["run", "--landing", str(landing), "--date", "2026-03-10", "--out", str(tmp_path)]
    return CliRunner().invoke(main, [*args, "--fee-schedule", schedule])


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ('{"EURO": {"percent": "1.4"}}', "'EURO' is neither an ISO-4217 currency nor '*'"),
        ('{"EUR": {"percent": "1.23456"}}', "no more than 4 decimal places"),
        ("fees.yaml", "neither `reference`, a JSON object nor a file"),
        ('{"EUR": {"percent": 1.4, "fixed": 25}}', "fixed"),
    ],
)
def test_a_bad_fee_schedule_is_a_usage_error_naming_what_is_wrong(tmp_path, schedule, message):
    result = _run_with_fee_schedule(tmp_path, schedule)
    assert result.exit_code == 2
    assert "--fee-schedule" in result.output and message in result.output


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("fees.yaml", "EUR: {percent: '1.4', fixed_minor: 25}\n"),
        ("fees.toml", '[EUR]\npercent = "1.4"\nfixed_minor = 25\n'),
        ("fees.json", '{"EUR": {"percent": "1.4", "fixed_minor": 25}}'),
    ],
)
def test_a_fee_schedule_file_is_read_as_yaml_toml_or_json(tmp_path, name, text):
    from pipelines.cli_params import fee_schedule

    path = tmp_path / name
    path.write_text(text)
    schedule = fee_schedule(None, None, str(path))
    assert schedule.rule_for("eur").rate_ppm == 14_000
    assert schedule.rule_for("eur").fixed_minor == 25
    assert schedule.rule_for("USD") is None
