"""The `recon` command group itself: what a user sees before choosing a command."""

from importlib.metadata import version

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
