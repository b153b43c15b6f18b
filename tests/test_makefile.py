"""The Makefile's promises that tests elsewhere cannot see: what `make demo` and `make ui` run."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


def dry_run(*targets: str) -> list[str]:
    """The commands `make` would run for `targets`, without running them."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", *targets],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def dagster_home(commands: list[str], program: str) -> str:
    [line] = [c for c in commands if re.search(rf"\b{program}\b", c)]
    match = re.search(r"DAGSTER_HOME=(\S+)", line)
    assert match, f"{program} runs without DAGSTER_HOME: {line}"
    return match.group(1)


def test_the_demo_records_its_run_where_the_ui_looks():
    commands = dry_run("demo", "ui")
    home = dagster_home(commands, "recon demo")
    assert home == dagster_home(commands, "dagster dev")
    assert home == str(PROJECT / ".dagster")
