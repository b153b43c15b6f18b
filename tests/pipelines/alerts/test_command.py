"""The `recon alerts` command as the lead will register it."""

from click.testing import CliRunner

from pipelines.alerts.command import alerts
from tests.recon.alerts.conftest import DAY


def test_dry_run_then_real_run_from_the_command_line(shop, tmp_path):
    shop.con.close()  # the command opens the warehouse file itself
    args = ["--date", DAY.isoformat(), "--warehouse", str(tmp_path / "warehouse.duckdb")]
    runner = CliRunner()

    dry = runner.invoke(alerts, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "DRY RUN" in dry.output and "would send 1 notice(s)" in dry.output

    real = runner.invoke(alerts, args)
    assert real.exit_code == 0, real.output
    assert "3 new discrepancies" in real.output  # the console channel's digest
    assert "1 delivered, 0 failed, 0 pending" in real.output

    again = runner.invoke(alerts, args)
    assert "0 new, 0 resolved" in again.output and "0 delivered" in again.output


def test_bad_config_and_unreconciled_date_are_clear_errors(shop, tmp_path):
    shop.con.close()
    bad = tmp_path / "alerts.yaml"
    bad.write_text("channels: [{name: c, type: console}]\nrules: [{channels: [c], mode: batch}]\n")
    warehouse = ["--warehouse", str(tmp_path / "warehouse.duckdb")]
    runner = CliRunner()

    result = runner.invoke(alerts, ["--date", DAY.isoformat(), "--config", str(bad), *warehouse])
    assert result.exit_code == 2 and "rules.0.mode" in result.output

    result = runner.invoke(alerts, ["--date", "2026-01-01", *warehouse])
    assert result.exit_code == 1 and "has not been reconciled" in result.output
