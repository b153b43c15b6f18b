"""`recon run` end to end, as a user runs it: generated landing data, a real DuckDB file, the CLI in
a subprocess. Every injected anomaly is found, nothing else is, and a rerun changes nothing."""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from dbt_like_models import MODELS_DIR
from recon.reconcile import reconcile_partition
from recon.run_params import RunParams
from recon.sql_models import discover
from recon.warehouse import connect
from testdata.scoring import score
from testdata.settlement import REFERENCE_FEE_SCHEDULE
from testdata.synthetic import generate_landing

pytestmark = pytest.mark.slow

DAY = date(2026, 3, 10)
RECON = [sys.executable, "-m", "pipelines.cli"]
PROJECT = Path(__file__).resolve().parents[2]


def recon(*args: str, cwd: Path, dagster_home: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "DAGSTER_HOME"))}
    # The generated data is the reference provider's: its fees are checked by its schedule.
    env["RECON_FEE_SCHEDULE"] = REFERENCE_FEE_SCHEDULE.to_json()
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home)
    return subprocess.run(
        [*RECON, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def run_day(tmp_path: Path, landing: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return recon(
        "run",
        "--landing",
        str(landing),
        "--date",
        DAY.isoformat(),
        "--out",
        str(out),
        "--warehouse",
        str(tmp_path / "warehouse.duckdb"),
        *extra,
        cwd=tmp_path,
    )


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    generate_landing(root, DAY, checkouts=240, seed=11)
    return root


@dataclass(frozen=True)
class Reconciled:
    """One `recon run` of the fixture's day: its process, warehouse and output folder."""

    done: subprocess.CompletedProcess
    warehouse: Path
    out: Path

    def warehouse_copy(self, into: Path) -> Path:
        """The warehouse as this run left it, for a test that changes it."""
        shutil.copy(self.warehouse, into / "warehouse.duckdb")
        return into / "warehouse.duckdb"


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory, landing) -> Reconciled:
    """The day reconciled once, for every test that starts from a reconciled warehouse (a run
    is most of this file's time)."""
    root = tmp_path_factory.mktemp("reconciled")
    done = run_day(root, landing, root / "out")
    return Reconciled(done, root / "warehouse.duckdb", root / "out")


def test_run_finds_exactly_the_injected_anomalies(reconciled, landing):
    done = reconciled.done
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[" in done.stderr and "raw/payments" in done.stderr  # per-step progress
    assert "duplicate_charge" in done.stdout  # the summary table

    result = score(landing / "_ground_truth.parquet", reconciled.out / "discrepancies.parquet")
    assert result.missed == set() and result.unexpected == set(), result.describe()
    quarantine = pl.read_parquet(reconciled.out / "quarantine.parquet")
    assert quarantine.height > 0 and quarantine["reason"].null_count() == 0


def test_a_rerun_changes_nothing_and_fail_on_sets_its_exit_code(reconciled, landing, tmp_path):
    reconciled.warehouse_copy(tmp_path)
    again = run_day(tmp_path, landing, tmp_path / "out", "--quiet", "--fail-on", "critical")
    assert again.returncode == 1, again.stdout + again.stderr  # critical findings exist
    assert "--fail-on" in again.stderr
    for name in ("discrepancies.parquet", "quarantine.parquet"):
        one = pl.read_parquet(reconciled.out / name)
        two = pl.read_parquet(tmp_path / "out" / name)
        assert one.equals(two), name


# Through the command line, a seed besides the fixture's; the generator's own tests score
# several seeds through the same pipeline in-process.
@pytest.mark.parametrize("seed", [2])
def test_another_seed_scores_perfectly(tmp_path, seed):
    landing = tmp_path / "landing"
    generate_landing(landing, DAY, checkouts=150, seed=seed)
    done = run_day(tmp_path, landing, tmp_path / "out", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    result = score(landing / "_ground_truth.parquet", tmp_path / "out" / "discrepancies.parquet")
    assert (result.recall, result.precision) == (1.0, 1.0), result.describe()


def test_missing_column_fails_the_run_and_keeps_the_warehouse(reconciled, landing, tmp_path):
    copy = tmp_path / "landing"
    shutil.copytree(landing, copy)
    warehouse = reconciled.warehouse_copy(tmp_path)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        before = con.execute("select count(*) from raw.orders").fetchone()[0]

    orders = next((copy / "orders" / DAY.isoformat()).glob("*.parquet"))
    pl.read_parquet(orders).drop("total_minor").write_parquet(orders)
    failed = run_day(tmp_path, copy, tmp_path / "out", "--quiet")
    assert failed.returncode == 2
    assert orders.name in failed.stdout and "total_minor" in failed.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.orders").fetchone()[0] == before


def test_help_documents_every_command(tmp_path):
    shown = recon("--help", cwd=tmp_path)
    assert shown.returncode == 0
    for command in ("run", "report", "generate", "demo", "models"):
        assert command in shown.stdout
    run_help = recon("run", "--help", cwd=tmp_path).stdout
    for option in ("--landing", "--date", "--out", "--warehouse", "--fail-on"):
        assert option in run_help


def test_bad_date_is_a_usage_error(tmp_path, landing):
    done = recon(
        "run", "--landing", str(landing), "--date", "10/03/2026", "--out", "o", cwd=tmp_path
    )
    assert done.returncode == 2 and "YYYY-MM-DD" in done.stderr


def test_report_rebuilds_the_reports_from_the_warehouse(reconciled, tmp_path):
    assert (reconciled.out / "reports" / "index.html").exists()  # recon run builds them too
    warehouse = str(reconciled.warehouse_copy(tmp_path))
    rebuilt = recon(
        "report",
        "--date",
        DAY.isoformat(),
        "--out",
        "again",
        "--warehouse",
        warehouse,
        cwd=tmp_path,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    for page in ("index", "finance", "marketing", "revenue_bridge", "discrepancies"):
        assert (tmp_path / "again" / "reports" / f"{page}.html").exists()
    one = pl.read_parquet(reconciled.out / "reports" / "exports" / "revenue_bridge.parquet")
    two = pl.read_parquet(tmp_path / "again" / "reports" / "exports" / "revenue_bridge.parquet")
    assert one.equals(two)

    unknown = recon(
        "report", "--date", "2026-03-01", "--out", "x", "--warehouse", warehouse, cwd=tmp_path
    )
    assert unknown.returncode == 1 and "has not been reconciled" in unknown.stderr


def test_demo_simulates_reconciles_and_scores_a_day(tmp_path, monkeypatch):
    (tmp_path / "data" / "landing" / "orders" / DAY.isoformat()).mkdir(parents=True)
    stale = tmp_path / "data" / "landing" / "orders" / DAY.isoformat() / "export-09.csv"
    stale.write_text("left by an earlier demo\n")
    # The instance `make demo` and `make ui` share: the project's settings, in a DAGSTER_HOME.
    home = tmp_path / ".dagster"
    home.mkdir()
    shutil.copy(PROJECT / "dagster_instance.yaml", home / "dagster.yaml")
    done = recon(
        "demo",
        "--dir",
        "data",
        "--date",
        DAY.isoformat(),
        "--checkouts",
        "60",
        cwd=tmp_path,
        dagster_home=home,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "simulating 60 checkouts" in done.stdout and "ground truth:" in done.stdout
    assert "recall 1.000, precision 1.000" in done.stdout
    index = tmp_path / "data" / "out" / DAY.isoformat() / "reports" / "index.html"
    assert f"Reports: {Path('data') / 'out' / DAY.isoformat() / 'reports' / 'index.html'}" in (
        done.stdout
    )
    assert index.exists() and not stale.exists()
    assert f"recorded in the Dagster instance at {home}" in done.stdout
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert_run_recorded()


def assert_run_recorded() -> None:
    """What the UI opened on DAGSTER_HOME shows: one successful run of the day's partition, with
    the models' materialisations and the checks' results."""
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == DAY.isoformat()
        discrepancies = dg.AssetKey(["marts", "discrepancies"])
        [event] = instance.fetch_materializations(discrepancies, limit=1).records
        assert event.run_id == run.run_id and event.partition_key == DAY.isoformat()
        check = dg.AssetCheckKey(discrepancies, "discrepancy_ids_unique")
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])
        assert latest[check].run_id == run.run_id
        assert latest[check].status.value == "SUCCEEDED"


def test_demo_keeps_the_synthetic_generator(tmp_path):
    done = recon(
        "demo",
        "--dir",
        "d",
        "--date",
        DAY.isoformat(),
        "--checkouts",
        "60",
        "--generator",
        "synthetic",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "generating 60 checkouts" in done.stdout
    assert "recall 1.000, precision 1.000" in done.stdout


# Columns that name the run or the instant of the load, not what the data says.
_RUN_COLUMNS = ("run_id", "_loaded_at", "loaded_at")


def test_the_library_runner_builds_what_the_job_builds(reconciled, landing, tmp_path):
    """The rule tests, the chaos audit and the tools reconcile through `reconcile_partition`,
    without Dagster; they prove something about `recon run` only while both build the same
    tables. A step added to the job and not to the library runner (or the reverse) fails here."""
    assert reconciled.done.returncode == 0, reconciled.done.stdout + reconciled.done.stderr
    params = RunParams(fee_schedule=REFERENCE_FEE_SCHEDULE)
    with connect(tmp_path / "library.duckdb") as con:
        reconcile_partition(con, landing, DAY, params)
        con.execute(f"attach '{reconciled.warehouse}' as job (read_only)")
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'library' and table_schema not in ('main', 'pg_catalog') "
            "order by all"
        ).fetchall()
        stored = [m.table for m in discover(MODELS_DIR).values() if m.stored]
        assert set(stored) <= {f"{s}.{t}" for s, t in tables}
        differing = {}
        for schema, table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_catalog = "
                    "'library' and table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if c not in _RUN_COLUMNS
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            only = con.execute(
                f"select count(*) from ((select {listed} from library.{schema}.{table} "
                f"except all select {listed} from job.{schema}.{table}) union all "
                f"(select {listed} from job.{schema}.{table} "
                f"except all select {listed} from library.{schema}.{table}))"
            ).fetchone()[0]
            if only:
                differing[f"{schema}.{table}"] = only
    assert differing == {}
