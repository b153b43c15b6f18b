"""`make demo`: simulate a day of checkouts with known anomalies, reconcile it, show and score the
result.

By default the day comes from the simulator: the reference checkout service (orchestrator and six
services without ports, as two lanes run side by side: `SIMULATOR_LANES`) under the realistic
profile's faults and unsafe clients, so what the pipeline reconciles is what a real service wrote.
`generator="synthetic"` writes the scripted day of `testdata.synthetic` instead (faster; every
anomaly scenario, plus bad rows).
"""

import os
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import TextIO

from pipelines.local_run import run_partition
from recon.landing_writer import COLUMNS
from recon.settings import ReconSettings
from testdata.scoring import score
from testdata.settlement import REFERENCE_FEE_SCHEDULE
from testdata.synthetic import GROUND_TRUTH_FILE, generate_landing

GENERATORS = ("simulator", "synthetic")
# The simulated day runs as two lanes (two copies of the service, each owning half of the
# checkouts; see `testdata.simulator.simulate`): side by side on two cores, so a day takes about
# half the time, and the same day on every machine.
SIMULATOR_LANES = 2


def run_demo(
    root: Path,
    day: date,
    checkouts: int,
    seed: int,
    *,
    generator: str = "simulator",
    profile: str = "realistic",
    progress: TextIO | None = sys.stderr,
    lanes: int = SIMULATOR_LANES,
) -> bool:
    """Write a landing day under `root`, reconcile it into `root`/warehouse.duckdb and
    `root`/out, and print the summary and the score; True if the score is perfect."""
    if generator not in GENERATORS:
        raise ValueError(f"unknown generator {generator!r}; known: {', '.join(GENERATORS)}")
    landing = root / "landing"
    _clear_day(landing, day)
    started = time.monotonic()
    if generator == "simulator":
        from pipelines.progress import checkout_progress
        from testdata.simulator import simulate

        print(
            f"simulating {checkouts} checkouts on {day} through the reference service "
            f"(profile {profile}, seed {seed}) into {landing}",
            flush=True,
        )
        report = checkout_progress(progress or sys.stderr)
        summary = simulate(landing, day, checkouts, seed, profile, progress=report, lanes=lanes)
        print(summary.describe())
    else:
        print(f"generating {checkouts} checkouts for {day} (seed {seed}) into {landing}")
        generate_landing(landing, day, checkouts=checkouts, seed=seed)
    print(f"  ({time.monotonic() - started:.0f} s)\n", flush=True)
    settings = ReconSettings(
        landing_dir=landing,
        warehouse_path=root / "warehouse.duckdb",
        out_dir=str(root / "out" / "{date}"),
        # The generated data is the reference provider's: reconcile its fees by its schedule.
        fee_schedule=REFERENCE_FEE_SCHEDULE,
    )
    outcome = run_partition(settings, day, progress=progress)
    print(outcome.report())
    if not outcome.success:
        return False
    result = score(landing / GROUND_TRUTH_FILE, outcome.out / "discrepancies.parquet")
    print()
    print(result.describe())
    print()
    print(f"Reports: {outcome.out / 'reports' / 'index.html'} (opens from disk)")
    print(_next_step(os.environ.get("DAGSTER_HOME")))
    return result.recall == 1.0 and result.precision == 1.0


def _clear_day(landing: Path, day: date) -> None:
    """Remove the day's landing folders: a file left by an earlier demo (another generator,
    another number of files per day) would otherwise be read with the new ones."""
    for source in COLUMNS:
        folder = landing / source / day.isoformat()
        if folder.is_dir():
            shutil.rmtree(folder)


def _next_step(dagster_home: str | None) -> str:
    if dagster_home:
        return (
            f"The run is recorded in the Dagster instance at {dagster_home}: `make ui` opens it "
            "(the run, its materialisations and its checks)."
        )
    return (
        "Next: `make ui` opens the Dagster UI on this warehouse; set DAGSTER_HOME (as `make demo` "
        "does) to record the demo's run there."
    )
