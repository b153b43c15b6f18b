"""`make demo`: generate a day with known anomalies, reconcile it, show and score the result."""

import sys
from datetime import date
from pathlib import Path

from checkout_service.synthetic import generate_landing
from pipelines.local_run import run_partition
from pipelines.scoring import score
from pipelines.settings import ReconSettings


def run_demo(root: Path, day: date, checkouts: int, seed: int) -> bool:
    landing = root / "landing"
    print(f"generating {checkouts} checkouts for {day} (seed {seed}) into {landing}")
    generate_landing(landing, day, checkouts=checkouts, seed=seed)
    settings = ReconSettings(
        landing_dir=landing,
        warehouse_path=root / "warehouse.duckdb",
        out_dir=str(root / "out" / "{date}"),
    )
    outcome = run_partition(settings, day, progress=sys.stderr)
    print(outcome.report())
    if not outcome.success:
        return False
    result = score(landing / "_ground_truth.parquet", outcome.out / "discrepancies.parquet")
    print()
    print(result.describe())
    print()
    print("Next: `make ui` opens the Dagster UI on this warehouse (RECON_* settings in README).")
    return result.recall == 1.0 and result.precision == 1.0
