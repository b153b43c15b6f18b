"""The cluster path: a standalone Spark master and worker on 127.0.0.1 (two JVMs apart from the
driver), whose executor reads the landing files and writes the warehouse's tables itself."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import duckdb
import pytest

from recon.reconcile import reconcile_partition
from recon.spark.session import spark_home
from recon.warehouse import connect
from testdata.synthetic import generate_landing
from tests.recon.spark.conftest import differences, key_columns, require_java

pytestmark = pytest.mark.slow

DAY = date(2026, 3, 10)
REPO = Path(__file__).resolve().parents[3]


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as response:
            return json.load(response)["aliveworkers"]
    except OSError:
        return 0


def _await(check, processes: list[subprocess.Popen], logs: Path, what: str):
    """`check()`'s first truthy answer, polled while the JVMs run: waiting for a state, not for
    a time (a JVM starts in 5 to 60 s, as busy as the machine is)."""
    deadline = time.monotonic() + 120
    while not (found := check()):
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            pytest.fail(f"{what}; logs in {logs}")
        time.sleep(0.5)
    return found


def _logged(log: Path, pattern: str) -> re.Match | None:
    return re.search(pattern, log.read_text(errors="replace")) if log.exists() else None


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    """`spark://127.0.0.1:<port>` with one worker registered; both stopped afterwards.

    The master binds ports of its own choosing (0) and the fixture reads them from its log: a
    port picked free here and handed over could be taken in between (the worker's own web UI
    once took the master's, and the master moved to the next one)."""
    require_java()
    logs = tmp_path_factory.mktemp("spark-cluster")
    spark_class = str(Path(spark_home()) / "bin" / "spark-class")
    master_log = logs / "master.log"
    with contextlib.ExitStack() as stack:
        processes: list[subprocess.Popen] = []

        def start(name: str, *args: str) -> None:
            log = stack.enter_context(open(logs / f"{name}.log", "wb"))
            command = [spark_class, *args, "--host", "127.0.0.1"]
            # A session of its own: `spark-class` is a script whose JVM is its child, and the
            # teardown signals both.
            processes.append(
                subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

        try:
            start(
                "master",
                *("org.apache.spark.deploy.master.Master", "--port", "0", "--webui-port", "0"),
            )
            url = _await(
                lambda: _logged(master_log, r"Starting Spark master at (spark://\S+)"),
                processes,
                logs,
                "the Spark master did not start",
            )[1]
            ui_port = int(
                _await(
                    lambda: _logged(master_log, r"started service 'MasterUI' on port (\d+)"),
                    processes,
                    logs,
                    "the Spark master's web UI did not start",
                )[1]
            )
            start(
                "worker",
                *("org.apache.spark.deploy.worker.Worker", url),
                *("--cores", "1", "--memory", "1g", "--webui-port", "0"),
                *("--work-dir", str(logs / "work")),
            )
            _await(
                lambda: _alive_workers(ui_port) >= 1,
                processes,
                logs,
                "the Spark worker did not register",
            )
            yield url
        finally:
            _stop(processes)


def _stop(processes: list[subprocess.Popen]) -> None:
    """Each JVM asked to stop, then killed if it is still shutting down after 30 s: a busy
    machine once kept the master past that, and a test cluster's shutdown proves nothing."""
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def test_an_executor_of_a_standalone_cluster_loads_and_builds_what_duckdb_does(master, tmp_path):
    landing = tmp_path / "landing"
    generate_landing(landing, DAY, checkouts=80, seed=3)
    on_cluster = tmp_path / "cluster" / "wh.duckdb"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.recon.spark.cluster_job",
            master,
            str(landing),
            DAY.isoformat(),
            str(on_cluster),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["executors"] == 1  # the worker's, not the driver's own threads
    assert set(result["loaded"]) == {"orders", "payments"}
    assert "intermediate.int_payment_ledger" in result["built"]

    # DuckDB's side: the same ingestion and models, without the job's checks and reports.
    local = tmp_path / "duckdb" / "wh.duckdb"
    local.parent.mkdir()
    with connect(local) as con:
        reconcile_partition(con, landing, DAY)
    con = duckdb.connect()
    con.execute(f"attach '{local}' as d (read_only)")
    con.execute(f"attach '{on_cluster}' as s (read_only)")
    for name, rows in result["loaded"].items():
        [(on_duckdb,)] = con.execute(
            "select sum(rows_loaded) from d.meta.ingested_files where source = ?", [name]
        ).fetchall()
        assert rows == on_duckdb, name
    for table in result["built"]:
        assert differences(con, f"d.{table}", f"s.{table}", key_columns(con, f"d.{table}")) == []
