"""The cluster path: a standalone Spark master and worker on 127.0.0.1 (two JVMs apart from the
driver), whose executor reads the landing files and writes the warehouse's tables itself."""

import contextlib
import json
import os
import socket
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as response:
            return json.load(response)["aliveworkers"]
    except OSError:
        return 0


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    """`spark://127.0.0.1:<port>` with one worker registered; both stopped afterwards."""
    require_java()
    logs = tmp_path_factory.mktemp("spark-cluster")
    port, ui_port = _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    spark_class = str(Path(spark_home()) / "bin" / "spark-class")
    commands = {
        "master": [
            *(spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1"),
            *("--port", str(port), "--webui-port", str(ui_port)),
        ],
        "worker": [
            *(spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1"),
            *("--cores", "1", "--memory", "1g", "--webui-port", "0"),
            *("--work-dir", str(logs / "work")),
        ],
    }
    with contextlib.ExitStack() as stack:
        processes = []
        for name, command in commands.items():
            log = stack.enter_context(open(logs / f"{name}.log", "wb"))
            processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        try:
            # Waiting for a state, not for a time: the worker registers when its JVM is up.
            deadline = time.monotonic() + 120
            while _alive_workers(ui_port) < 1:
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    pytest.fail(f"the Spark worker did not register; logs in {logs}")
                time.sleep(0.5)
            yield url
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)


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
