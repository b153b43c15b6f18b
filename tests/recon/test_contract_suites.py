"""The contract suites' import, as a user's run sees it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_that_validates_contracts_prints_no_pyspark_warning_about_pandas():
    # In a process of its own: pytest's own filter (pyproject) hides the warning here, and
    # pyspark warns once, on its first import. Great Expectations imports pyspark's modules
    # whenever the Spark extra is installed; a DuckDB run printed two FutureWarnings about
    # pandas 3 that concern only pyspark's pandas API, which the engine does not use.
    code = (
        "import recon.contract_suites as suites\n"
        "from recon.contract import SOURCES\n"
        "suites._schema_expectations(SOURCES['orders'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "PySpark does not yet fully support pandas" not in done.stderr
