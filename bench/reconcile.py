"""Benchmark: the whole daily job for one partition of N generated checkouts, stage by stage,
against the plain SQL a user would hand-write for the same findings (`baseline.py`), and the time
DuckDB takes merely to scan the same landing files.

    python bench/reconcile.py --checkouts 1000000 --json bench/out/1m.json

Runs through the same code path as `recon run` (the Dagster job, in process). Prints, per stage
(ingest, models, checks, reports) and in total: seconds, checkouts/s, rows/s and peak RSS; the scan
references; the baseline's seconds (under the same DuckDB memory limit), whether it found the same
(checkout, type) pairs as the job; the fixed cost of a 100-checkout partition, in this warm process
and as a `recon run` of its own (imports included); and, as the last line, the headline
`job/baseline ratio`.
Figures, not asserts: see bench/RESULTS.md."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402
import duckdb  # noqa: E402
from baseline import run_baseline  # noqa: E402
from compare_datacompy import (  # noqa: E402
    compare_orders_and_captures,
    datacompy_in_its_own_environment,
)

from pipelines.local_run import run_partition  # noqa: E402
from recon.contract import SOURCES  # noqa: E402
from recon.run_params import RunParams  # noqa: E402
from recon.settings import ReconSettings  # noqa: E402
from testdata.bulk import BulkSummary, generate_bulk  # noqa: E402
from testdata.settlement import REFERENCE_FEE_SCHEDULE  # noqa: E402

DAY = date(2026, 5, 6)
# The generated provider charges the reference fee schedule: the job and the baseline check fees
# against it (every other setting is the default: lookback 3, settlement SLA 3 days).
FEE_SCHEDULE = REFERENCE_FEE_SCHEDULE
MONEY = {
    "orders": ["total_minor"],
    "payments": ["amount_minor"],
    "analytics_events": ["revenue_minor"],
    "inventory_moves": ["quantity"],
    "fulfillments": [],
}


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces), from the
    state on; None when the process has ended."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Spark's JVM is one, when the Spark engine runs)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(entry)) is not None and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _rss(pid: int | str, page: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * page
    except OSError:  # the process ended between the listing and the read
        return 0


def _cpu_seconds(pid: int | str, tick: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / tick


class RssSampler(threading.Thread):
    """Resident memory and CPU time of this process (DuckDB runs in it) and its children (Spark's
    JVM) every 20 ms, with timestamps: the peak of a step, and how many cores it kept busy."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int, float]] = []
        self._done = threading.Event()

    def run(self) -> None:
        page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
        children: list[int] = []
        listed = 0.0
        while not self._done.is_set():
            if time.monotonic() - listed > 1:
                children, listed = _children(os.getpid()), time.monotonic()
            processes = ["self", *children]
            rss = sum(_rss(p, page) for p in processes)
            cpu = sum(_cpu_seconds(p, tick) for p in processes)
            self.samples.append((time.time(), rss, cpu))
            self._done.wait(0.02)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peak(self, start: float = 0, end: float = float("inf")) -> int:
        inside = [rss for at, rss, _ in self.samples if start <= at <= end]
        return max(inside, default=0)

    def cores(self, windows: list[tuple[float, float]]) -> float | None:
        """CPU seconds per second of wall time over `windows` (2.0: both cores busy)."""
        cpu = wall = 0.0
        for start, end in windows:
            inside = [(at, used) for at, _, used in self.samples if start <= at <= end]
            if len(inside) >= 2:
                cpu += inside[-1][1] - inside[0][1]
                wall += inside[-1][0] - inside[0][0]
        return cpu / wall if wall > 0.5 else None


def scan_seconds(landing: Path) -> float:
    """DuckDB reading the same files: count(*) and the sum of the money columns."""
    con = duckdb.connect()
    started = time.perf_counter()
    for source, columns in MONEY.items():
        files = f"{landing}/{source}/*/*.parquet"
        sums = ", ".join(f"sum({c})" for c in columns) or "0"
        con.execute(f"select count(*), {sums} from read_parquet('{files}')").fetchall()
    return time.perf_counter() - started


def column_scan_seconds(landing: Path) -> float:
    """DuckDB reading every contract column of the same files (IDs and other text included),
    which is what the issue's reference S measured ("just the needed columns"): the count and
    money sums above read a few integer columns and say little about string-heavy tables."""
    con = duckdb.connect()
    started = time.perf_counter()
    for source in SOURCES.values():
        files = f"{landing}/{source.name}/*/*.parquet"
        reads = ", ".join(f"max({c})" for c in source.column_names)
        con.execute(f"select count(*), {reads} from read_parquet('{files}')").fetchall()
    return time.perf_counter() - started


def fixed_cost_seconds(root: Path, memory_limit: str, engine: dict | None = None) -> float:
    """The whole job on a 100-checkout partition, imports already warm: Dagster's and the job's
    fixed cost per run. (An empty partition fails `export_arrived` by design: no export, no run.)"""
    small = landing_for(root / "fixed", 100, reuse=False)
    settings = ReconSettings(
        landing_dir=small.landing,
        warehouse_path=root / "fixed" / "warehouse.duckdb",
        out_dir=str(root / "fixed" / "out"),
        duckdb_memory_limit=memory_limit,
        fee_schedule=FEE_SCHEDULE,
        **(engine or {}),
    )
    started = time.time()
    outcome = run_partition(settings, DAY, instance=dg.DagsterInstance.ephemeral())
    if not outcome.success:
        raise SystemExit(outcome.report())
    return time.time() - started


def fresh_process_seconds(root: Path, memory_limit: str, engine: dict | None = None) -> float:
    """`recon run` of the same 100-checkout partition in a process of its own, from its start to
    its exit: what a user's run of a small partition waits for, the imports (Dagster, Great
    Expectations with what it loads, Polars) and the Dagster instance's start included. Call
    it after `fixed_cost_seconds`, which lands the partition."""
    fixed = root / "fixed"
    warehouse = fixed / "fresh.duckdb"
    warehouse.unlink(missing_ok=True)
    fees = {c: r.model_dump(mode="json") for c, r in FEE_SCHEDULE.rules.items()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "DAGSTER_HOME"))}
    env |= {"RECON_FEE_SCHEDULE": json.dumps(fees), "RECON_DUCKDB_MEMORY_LIMIT": memory_limit}
    env |= {f"RECON_{name.upper()}": value for name, value in (engine or {}).items()}
    command = [
        str(Path(sys.executable).with_name("recon")),
        "run",
        *("--landing", str(fixed / "landing"), "--date", DAY.isoformat()),
        *("--out", str(fixed / "fresh-out"), "--warehouse", str(warehouse)),
    ]
    started = time.perf_counter()
    # In the bench's own folder: no project .env is read.
    done = subprocess.run(command, cwd=fixed, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"recon run of the fixed-cost partition failed:\n{done.stderr[-3000:]}")
    return seconds


def stage_of(step_key: str) -> str:
    layer = step_key.split("__")[0]
    if layer in ("raw", "meta"):
        return "ingest"
    if layer == "models":  # one step builds every stored model
        return "models"
    return "reports"


def _materializations(instance: dg.DagsterInstance, run_id: str):
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.event_type_value == "ASSET_MATERIALIZATION":
            yield event.step_key, event.event_specific_data.materialization


def model_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds each model took inside the models step, its checks excluded."""
    return {
        m.asset_key.to_user_string(): float(m.metadata["seconds"].value)
        for step, m in _materializations(instance, run_id)
        if step == "models" and "seconds" in m.metadata
    }


def step_windows(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    windows: dict[str, list[float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            windows[event.step_key] = [entry.timestamp, entry.timestamp]
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            windows[event.step_key][1] = entry.timestamp
    return {k: (v[0], v[1]) for k, v in windows.items()}


def model_windows(
    instance: dg.DagsterInstance, run_id: str, models_step: tuple[float, float]
) -> dict[str, tuple[float, float]]:
    """Each model's stretch of the models step: from the previous model's materialisation (or
    the step's start) to its own, its asset checks included."""
    windows = {}
    start = models_step[0]
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key != "models":
            continue
        if event.event_type_value == "ASSET_MATERIALIZATION":
            key = event.event_specific_data.materialization.asset_key.to_user_string()
            windows[key] = (start, entry.timestamp)
            start = entry.timestamp
    return windows


def check_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[tuple[str, str], float]:
    """Seconds spent in asset checks, by (step, asset) (assets record it as metadata)."""
    return {
        (step, m.asset_key.to_user_string()): float(m.metadata["check_seconds"].value)
        for step, m in _materializations(instance, run_id)
        if "check_seconds" in m.metadata
    }


def job_findings(export: Path) -> set[tuple[str, str]]:
    """The job's (checkout, type) pairs from its export: a finding with no checkout (a provider's
    line or payout) named by its subject, as the baseline names it."""
    query = f"select coalesce(checkout_id, subject_id), type from '{export}'"
    return set(duckdb.sql(query).fetchall())


def landing_for(root: Path, checkouts: int, reuse: bool) -> BulkSummary:
    """Generate the landing files, or with `reuse` take those a kept earlier run generated."""
    landing = root / "landing"
    summary = root / "bulk.json"
    if reuse and summary.exists():
        kept = json.loads(summary.read_text())
        return BulkSummary(landing, kept["checkouts"], kept["rows"], kept["anomalies"], 0.0)
    shutil.rmtree(root, ignore_errors=True)
    generated = generate_bulk(landing, DAY, checkouts)
    summary.write_text(
        json.dumps(
            {"checkouts": checkouts, "rows": generated.rows, "anomalies": generated.anomalies}
        )
    )
    return generated


def run_once(
    root: Path,
    checkouts: int,
    memory_limit: str,
    reuse: bool = False,
    engine: dict | None = None,
    references: bool = True,
) -> dict:
    """`engine`: settings choosing the engine (`engine`, `spark_master`); DuckDB when none.
    `references` False: the job alone, without the baseline, the scans' and fixed cost's runs
    and the orders-vs-captures comparison."""
    generated = landing_for(root, checkouts, reuse)
    landing = generated.landing
    _clear_all_but_landing(root)
    settings = ReconSettings(
        landing_dir=landing,
        warehouse_path=root / "warehouse.duckdb",
        out_dir=str(root / "out"),
        duckdb_memory_limit=memory_limit,
        fee_schedule=FEE_SCHEDULE,
        **(engine or {}),
    )
    scan = scan_seconds(landing)
    instance = dg.DagsterInstance.ephemeral()
    sampler = RssSampler()
    sampler.start()
    started = time.time()
    outcome = run_partition(settings, DAY, instance=instance)
    total = time.time() - started
    sampler.stop()
    if not outcome.success:
        raise SystemExit(outcome.report())
    run = _RunTimes(instance, outcome.run_id)
    figures = {"checkouts": checkouts, "rows": generated.total_rows}
    figures["generate_seconds"] = generated.seconds
    figures |= _stage_figures(run, sampler, checkouts, generated.total_rows)
    figures["total"] = {
        "seconds": total,
        "checkouts_per_second": checkouts / total,
        "rows_per_second": generated.total_rows / total,
        "peak_rss_bytes": sampler.peak(),
        "cores": sampler.cores([(started, started + total)]),
        "dagster_overhead_seconds": total - sum(end - s for s, end in run.windows.values()),
    }
    figures |= _step_figures(run, sampler)
    figures["scan_seconds"] = scan
    figures["total_over_scan"] = total / scan
    figures["discrepancies"] = sum(n for _, _, n, _ in outcome.rows)
    figures["injected"] = generated.anomalies
    if not references:
        return figures
    figures["column_scan_seconds"] = column_scan_seconds(landing)
    figures["total_over_column_scan"] = total / figures["column_scan_seconds"]
    figures["fixed_run_seconds"] = fixed_cost_seconds(root, memory_limit, engine)
    figures["fresh_process_seconds"] = fresh_process_seconds(root, memory_limit, engine)
    figures["baseline"] = _baseline_figures(root, landing, memory_limit, settings)
    figures["job_over_baseline"] = total / figures["baseline"]["seconds"]
    figures["comparison"] = {
        **compare_orders_and_captures(landing),
        **datacompy_in_its_own_environment(landing),
        "job_steps_seconds": sum(figures["steps"][m] for m in _JOB_MODELS),
    }
    return figures


def _clear_all_but_landing(root: Path) -> None:
    """Everything but the landing files is rebuilt: warehouse, its WAL, lock and spill folder,
    out."""
    for stale in root.iterdir():
        if stale.name in ("landing", "bulk.json"):
            continue
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()


class _RunTimes:
    """A finished run's step windows, and its checks' seconds by step and by checked asset."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str) -> None:
        self.instance, self.run_id = instance, run_id
        self.windows = step_windows(instance, run_id)
        self.by_asset = check_seconds(instance, run_id)
        self.in_checks: dict[str, float] = {}
        for (step, _), seconds in self.by_asset.items():
            self.in_checks[step] = self.in_checks.get(step, 0.0) + seconds

    def seconds(self, step: str) -> float:
        """The step's own seconds, its asset checks excluded."""
        start, end = self.windows[step]
        return end - start - self.in_checks.get(step, 0.0)


def _stage_figures(run: _RunTimes, sampler: RssSampler, checkouts: int, rows: int) -> dict:
    stages: dict[str, dict] = {}
    for step, window in run.windows.items():
        stage = stages.setdefault(stage_of(step), {"seconds": 0.0, "windows": []})
        stage["seconds"] += run.seconds(step)
        stage["windows"].append(window)
    stages["checks"] = {
        "seconds": sum(run.in_checks.values()),
        "windows": [run.windows[step] for step in run.in_checks],
    }
    figures = {}
    for name in ("ingest", "models", "checks", "reports"):
        stage = stages.get(name, {"seconds": 0.0, "windows": []})
        seconds = stage["seconds"]
        figures[name] = {
            "seconds": seconds,
            "checkouts_per_second": checkouts / seconds if seconds else None,
            "rows_per_second": rows / seconds if seconds else None,
            "peak_rss_bytes": max((sampler.peak(a, b) for a, b in stage["windows"]), default=0),
            # The checks run inside other stages' steps: no window of their own.
            "cores": sampler.cores(stage["windows"]) if name != "checks" else None,
        }
    return figures


def _step_figures(run: _RunTimes, sampler: RssSampler) -> dict:
    """Seconds, peak and cores per step; the models step, which builds every model, listed
    model by model instead."""
    per_model = model_seconds(run.instance, run.run_id)
    steps = {step: run.seconds(step) for step in run.windows if step != "models"}
    # Which step (or model) sets the peak: the steps' windows, the models step's by model.
    spans = {k: v for k, v in run.windows.items() if k != "models"}
    spans |= model_windows(run.instance, run.run_id, run.windows["models"])
    return {
        "steps": steps | per_model,
        "models_step_overhead_seconds": run.seconds("models") - sum(per_model.values()),
        "step_peak_rss_bytes": {k: sampler.peak(a, b) for k, (a, b) in spans.items()},
        "step_cores": {k: sampler.cores([span]) for k, span in spans.items()},
        "check_steps": {asset: seconds for (_, asset), seconds in run.by_asset.items()},
    }


def _baseline_figures(root: Path, landing: Path, memory_limit: str, settings) -> dict:
    seconds, pairs = run_baseline(
        landing,
        DAY,
        memory_limit,
        spill_dir=root / "baseline.tmp",
        params=RunParams.of(settings),
    )
    job_pairs = job_findings(root / "out" / "discrepancies.parquet")
    return {
        "seconds": seconds,
        "same_pairs_as_job": pairs == job_pairs,
        "pairs": len(pairs),
        "missing": len(job_pairs - pairs),
        "extra": len(pairs - job_pairs),
    }


# Staging itself is ephemeral (inlined into its readers); what is stored is the repeats'
# companions and the intermediates over them.
_JOB_MODELS = (
    "staging/stg_order_versions",
    "staging/stg_payment_copies",
    "intermediate/int_checkout_orders",
    "intermediate/int_authorizations",
    "intermediate/int_payment_ledger",
)


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f} GiB"


def show(figures: dict) -> None:
    print(
        f"\n== {figures['checkouts']:,} checkouts on {figures.get('engine', 'duckdb')}, "
        f"{figures['rows']:,} landing rows "
        f"(generated in {figures['generate_seconds']:.1f} s)"
    )
    print(
        f"{'stage':<8} {'seconds':>9} {'checkouts/s':>13} {'rows/s':>13} {'peak RSS':>10} "
        f"{'cores':>6}"
    )
    for name in ("ingest", "models", "checks", "reports", "total"):
        stage = figures[name]
        print(
            f"{name:<8} {stage['seconds']:>9.2f} {stage['checkouts_per_second'] or 0:>13,.0f} "
            f"{stage['rows_per_second'] or 0:>13,.0f} {_gib(stage['peak_rss_bytes']):>10} "
            f"{_cores(stage.get('cores')):>6}"
        )
    print(
        f"Dagster per-run overhead (wall time outside steps): "
        f"{figures['total']['dagster_overhead_seconds']:.2f} s"
    )
    slowest = sorted(figures["steps"].items(), key=lambda kv: -kv[1])[:10]
    print(
        "slowest steps and models (seconds, their asset checks excluded, and the cores they kept "
        "busy: CPU seconds per second; "
        f"models step outside its models: {figures['models_step_overhead_seconds']:.2f} s):"
    )
    cores = figures.get("step_cores", {})
    for step, seconds in slowest:
        print(f"  {step:<52} {seconds:7.2f} s {_cores(cores.get(step)):>5} cores")
    peaks = sorted(figures["step_peak_rss_bytes"].items(), key=lambda kv: -kv[1])[:5]
    print("highest peak RSS by step and model (checks included):")
    for step, peak in peaks:
        print(f"  {step:<52} {_gib(peak):>10}")
    print("slowest asset checks (seconds, by the asset they check):")
    for step, seconds in sorted(figures["check_steps"].items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {step:<52} {seconds:7.2f}")
    print(f"discrepancies found {figures['discrepancies']:,}, injected {figures['injected']:,}")
    if "baseline" in figures:
        _show_references(figures)


def _show_references(figures: dict) -> None:
    print(
        f"fixed cost of a run (the same job on a 100-checkout partition): "
        f"{figures['fixed_run_seconds']:.2f} s"
    )
    print(
        "the same as `recon run` in a process of its own (its imports included): "
        f"{figures['fresh_process_seconds']:.2f} s"
    )
    print(f"scan of the same files (count + money sums): {figures['scan_seconds']:.2f} s")
    print(
        f"scan of every contract column of the same files: {figures['column_scan_seconds']:.2f} s "
        f"(total/column scan {figures['total_over_column_scan']:.1f})"
    )
    b = figures["baseline"]
    agreement = (
        "the same (checkout, type) pairs as the job"
        if b["same_pairs_as_job"]
        else f"DIFFERENT pairs: {b['missing']:,} of the job's missing, {b['extra']:,} extra"
    )
    print(f"plain-SQL baseline (bench/baseline.py): {b['pairs']:,} pairs, {agreement}")
    print(f"baseline seconds: {b['seconds']:.2f}")
    c = figures["comparison"]
    datacompy_text = (
        "skipped: no uv to build its environment (datacompy pins polars < 1.45, see RESULTS.md)"
        if c.get("datacompy_seconds") is None
        else f"{c['datacompy_seconds']:.2f} s ({c['datacompy_mismatches']:,} checkouts differ)"
    )
    print("orders vs captures per checkout:")
    print(f"  datacompy, Polars backend, with its Parquet read: {datacompy_text}")
    print(
        f"  one DuckDB query on the same files:              {c['duckdb_seconds']:.2f} s "
        f"({c['duckdb_mismatches']:,} checkouts differ)"
    )
    print(
        f"  the job's stored models that do it (2 staging, 3 intermediate; checks excluded): "
        f"{c['job_steps_seconds']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkouts",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000],
        help="one or more sizes; several print the scaling [default: 100k 1M]",
    )
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument(
        "--memory-limit",
        default="2200MB",
        help="DuckDB memory_limit, of the job and of the baseline alike [2200MB: at 10M "
        "checkouts the process peaks at 2.85 GiB, DuckDB at its limit and the rest of the "
        "process (0.4 GiB of imports, Great Expectations' 0.27 GiB of them) beside it. The job "
        "took the same time with 2500MB, and peaked at 3.14 GiB; the baseline was a fifth "
        "faster with 2500MB]",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated landing files in --workdir and reuse them on the next run "
        "with --keep (for comparing changes; the warehouse is always rebuilt)",
    )
    parser.add_argument(
        "--job-only",
        action="store_true",
        help="run the job alone, without the plain-SQL baseline, the scans, the fixed-cost run "
        "and the datacompy comparison (for comparing changes to the job: at 10M checkouts it "
        "saves a few minutes a run; no job/baseline ratio is printed)",
    )
    parser.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="the engine that reads the files and builds the models [duckdb]",
    )
    parser.add_argument(
        "--spark-master",
        default="local[2]",
        help="--engine spark: where Spark runs [local[2]: both cores of the bench machine]",
    )
    args = parser.parse_args()
    engine = {"engine": args.engine}
    if args.engine == "spark":
        engine["spark_master"] = args.spark_master
    results = []
    for n in args.checkouts:
        root = args.workdir / f"n{n}"
        figures = run_once(
            root, n, args.memory_limit, reuse=args.keep, engine=engine, references=not args.job_only
        )
        figures["engine"] = args.engine
        show(figures)
        results.append(figures)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if len(results) > 1:
        print("\nscaling (time per checkout relative to the smallest run):")
        base = results[0]["total"]["seconds"] / results[0]["checkouts"]
        for r in results:
            per = r["total"]["seconds"] / r["checkouts"]
            print(
                f"  {r['checkouts']:>12,} checkouts: {r['total']['seconds']:8.2f} s, "
                f"x{per / base:.2f} per checkout"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    print(f"total/scan ratio: {results[-1]['total_over_scan']:.2f}")
    if not args.job_only:
        print(f"job/baseline ratio: {results[-1]['job_over_baseline']:.2f}")


if __name__ == "__main__":
    main()
