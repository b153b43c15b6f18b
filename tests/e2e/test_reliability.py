"""Runs that collide or die: the warehouse stays consistent and a rerun gives the same answer."""

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from testdata.synthetic import generate_landing

pytestmark = pytest.mark.slow

DAY = date(2026, 3, 10)


def start_run(tmp_path: Path, landing: Path, warehouse: Path, out: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "DAGSTER_HOME"))}
    args = ["--landing", str(landing), "--date", DAY.isoformat(), "--out", str(tmp_path / out)]
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", *args, "--warehouse", str(warehouse)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(process: subprocess.Popen, fragment: str) -> list[str]:
    seen = []
    for line in process.stderr:
        seen.append(line)
        if fragment in line:
            return seen
    raise AssertionError(f"never printed {fragment!r}: {''.join(seen)}")


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    generate_landing(root, DAY, checkouts=120, seed=4)
    return root


def discrepancies(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "discrepancies.parquet").sort("discrepancy_id")


def test_two_runs_of_one_partition_take_turns_and_agree(tmp_path, landing):
    warehouse = tmp_path / "warehouse.duckdb"
    first = start_run(tmp_path, landing, warehouse, "one")
    wait_for_line(first, "raw/")  # the first run holds the warehouse now
    second = start_run(tmp_path, landing, warehouse, "two")
    _, first_err = first.communicate(timeout=300)
    _, second_err = second.communicate(timeout=300)
    assert first.returncode == second.returncode == 0, first_err + second_err
    assert "waiting for recon run (pid" in second_err
    assert discrepancies(tmp_path / "one").equals(discrepancies(tmp_path / "two"))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(rows,)] = con.execute("select count(*) from marts.discrepancies").fetchall()
    assert rows == discrepancies(tmp_path / "one").height  # replaced, not doubled


def test_a_run_killed_midway_keeps_the_previous_state_and_the_rerun_matches(tmp_path, landing):
    warehouse = tmp_path / "warehouse.duckdb"
    reference = start_run(tmp_path, landing, warehouse, "before")
    assert reference.wait(timeout=300) == 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        before = con.execute("select * from marts.discrepancies order by 2").fetchall()

    doomed = start_run(tmp_path, landing, warehouse, "killed")
    wait_for_line(doomed, "staging/stg_order_versions")  # killed between two steps of the models
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=60)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select * from marts.discrepancies order by 2").fetchall() == before
    rerun = start_run(tmp_path, landing, warehouse, "after")
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read()
    assert discrepancies(tmp_path / "after").equals(discrepancies(tmp_path / "before"))
