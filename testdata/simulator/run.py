"""`simulate`: a business day of checkouts through the reference service, exported as landing
files with the payment provider's settlement report and payouts for them, and the ground truth of
every anomaly it injected."""

import multiprocessing
import os
import random
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import polars as pl

from checkout_service import export
from checkout_service.db import DatabaseSettings
from checkout_service.orchestrator.outbox import process_outbox
from checkout_service.orchestrator.recovery import recover
from recon.discrepancy_types import type_names
from recon.landing_writer import COLUMNS
from testdata.faults import FaultPlan
from testdata.simulator import unsafe
from testdata.simulator.browser import Behaviour, Browser
from testdata.simulator.profiles import PROFILES, Profile
from testdata.simulator.provider import provider_report
from testdata.simulator.stack import (
    SimClock,
    Stack,
    build_stack,
    quiet_injected_crashes,
)
from testdata.synthetic import GROUND_TRUTH_FILE, write_rows

SKUS = {"SKU-TEE": 1990, "SKU-MUG": 1250, "SKU-CAP": 2400, "SKU-BAG": 4900, "SKU-SOCK": 590}
CAMPAIGNS = (
    ("newsletter", "email", "spring_sale", "https://mail.example.com/"),
    ("google", "cpc", "brand", "https://www.google.com/"),
    ("instagram", "social", "influencer_q2", "https://instagram.com/"),
)
# A safe client gives up after this many answers that say "retry with the same key".
SAFE_ATTEMPTS = 10
# How many outbox passes settle one checkout: each failed delivery is retried on the next pass,
# and the fault plan faults only a request's first attempts.
OUTBOX_PASSES = 6
# A reservation left behind counts once the data runs past its TTL (30 min); later checkouts
# of the day must supply that data.
LATE_MARGIN = timedelta(hours=1)
# Each checkout takes simulated time (requests, injected latency, retries); past this much
# backlog a dense day would spill records into the next day, off the ground truth's day.
MAX_DRIFT = timedelta(minutes=30)


class DayOverfull(ValueError):
    """More checkouts than the simulated day has room for (see MAX_DRIFT)."""


# `progress(done, total)`, called every PROGRESS_EVERY checkouts and at the end.
Progress = Callable[[int, int], None]
PROGRESS_EVERY = 250
# A day of fewer checkouts runs its lanes one after the other in this process: starting a
# worker process (about a second of imports) would cost more than the lane.
PARALLEL_FROM = 200


@dataclass(frozen=True)
class Anomaly:
    # None for a finding of the provider's reports that no checkout owns (a settlement line or
    # payout): `subject_id` names it then.
    checkout_id: str | None
    type: str
    cause: str
    subject_id: str | None = None

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.checkout_id or "", self.type, self.subject_id or "")


@dataclass
class SimulationSummary:
    landing: Path
    day: date
    seed: int
    profile: str
    checkouts: int
    outcomes: Counter[int] = field(default_factory=Counter)
    rows: dict[str, int] = field(default_factory=dict)
    faults: Counter[str] = field(default_factory=Counter)
    ground_truth: list[Anomaly] = field(default_factory=list)

    @property
    def ground_truth_path(self) -> Path:
        return self.landing / GROUND_TRUTH_FILE

    def describe(self) -> str:
        lines = [
            f"simulated {self.checkouts} checkouts on {self.day} "
            f"(profile {self.profile}, seed {self.seed}) → {self.landing}",
            "  answers: " + ", ".join(f"{code}×{n}" for code, n in sorted(self.outcomes.items())),
            "  rows: " + ", ".join(f"{source} {n}" for source, n in self.rows.items()),
            "  injected faults: "
            + (", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items())) or "none"),
            f"  ground truth: {len(self.ground_truth)} anomalies → {self.ground_truth_path}",
        ]
        by_type = Counter(a.type for a in self.ground_truth)
        lines += [f"    {t}: {by_type[t]}" for t in type_names() if by_type[t]]
        return "\n".join(lines)


def simulate(
    landing: Path,
    day: date,
    checkouts: int,
    seed: int,
    profile: str = "realistic",
    *,
    data_dir: Path | None = None,
    progress: Progress | None = None,
    lanes: int = 1,
) -> SimulationSummary:
    """Run `checkouts` checkouts of business date `day` and write the landing files (the
    provider's `settlements` and `payouts` for the recorded payments among them: see
    `testdata.simulator.provider`) and `_ground_truth.parquet` (checkout_id, type, cause,
    subject_id) under `landing`. The services' SQLite databases go to `data_dir`
    (a temporary directory when None, removed afterwards); it must not hold an earlier run.
    Raises DayOverfull when the checkouts take more simulated time than the day has.

    `lanes` > 1 deals the checkouts round-robin to that many copies of the service, each with
    its own databases (under `data_dir`/lane-N), record IDs and simulated clock, like shards
    that each own their checkouts. The lanes share nothing, so they run side by side in worker
    processes when the machine has the cores (one after the other otherwise): the same
    arguments give the same files on any machine, and a day takes about 1/lanes of the time
    on as many cores. Worker processes are spawned, so a script calling this needs the
    `if __name__ == "__main__":` guard. With one lane (the default) the day is one service's,
    whose databases in `data_dir` the pipeline's services mode reads."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, not {lanes}")
    chosen = PROFILES[profile]
    summary = SimulationSummary(landing, day, seed, chosen.name, checkouts)
    starts = _start_times(day, checkouts, random.Random(f"starts:{seed}"))
    specs = [
        _Lane(
            lane=lane,
            lanes=lanes,
            day=day,
            seed=seed,
            profile=chosen,
            checkouts=checkouts,
            starts=tuple(enumerate(starts))[lane::lanes],
            last_start=starts[-1] if starts else None,
            data_dir=None if data_dir is None else _lane_dir(data_dir, lane, lanes),
        )
        for lane in range(lanes)
    ]
    results = _run_lanes(specs, _ProgressOfLanes(progress, checkouts, lanes))
    rows: dict[str, list[dict[str, Any]]] = {}
    events: list[dict[str, Any]] = []
    for result in results:
        for source, source_rows in result.rows.items():
            rows.setdefault(source, []).extend(source_rows)
        events += result.events
        summary.ground_truth += result.ground_truth
        summary.outcomes += result.outcomes
        summary.faults += result.faults
    rows["analytics_events"] = [{c: e[c] for c in COLUMNS["analytics_events"]} for e in events]
    # Sorts each source's rows by time (stably: lane by lane where times tie). Named after the
    # simulated day: its late rows land in the next day's folders, which simulating that day
    # writes too, and must not overwrite.
    write_rows(landing, rows, name=f"simulated-{day:%Y%m%d}")
    summary.rows = {source: len(source_rows) for source, source_rows in rows.items()}
    summary.ground_truth.sort(key=lambda a: a.sort_key)
    _write_ground_truth(summary.ground_truth_path, summary.ground_truth)
    return summary


@dataclass(frozen=True)
class _Lane:
    """One lane's share of the day: (index, start) of each of its checkouts."""

    lane: int
    lanes: int
    day: date
    seed: int
    profile: Profile
    # Of the whole day: the stock and `late` are the day's, not the lane's.
    checkouts: int
    starts: tuple[tuple[int, datetime], ...]
    last_start: datetime | None
    data_dir: Path | None


@dataclass
class _LaneResult:
    rows: dict[str, list[dict[str, Any]]]
    events: list[dict[str, Any]]
    ground_truth: list[Anomaly]
    outcomes: Counter[int]
    faults: Counter[str]


def _lane_dir(data_dir: Path, lane: int, lanes: int) -> Path:
    return data_dir if lanes == 1 else data_dir / f"lane-{lane}"


def _run_lane(spec: _Lane, progress: Callable[[int], None]) -> _LaneResult:
    """Simulate one lane; `progress(done)` after each of its checkouts."""
    if spec.data_dir is not None:
        return _simulate_lane(spec, spec.data_dir, progress)
    with tempfile.TemporaryDirectory(prefix="recon-sim-") as tmp:
        return _simulate_lane(spec, Path(tmp), progress)


def _simulate_lane(spec: _Lane, data_dir: Path, progress: Callable[[int], None]) -> _LaneResult:
    profile, seed, starts = spec.profile, spec.seed, spec.starts
    result = _LaneResult({}, [], [], Counter(), Counter())
    plan = FaultPlan(seed=seed, steps=profile.faults)
    clock = SimClock(starts[0][1] if starts else datetime.combine(spec.day, time(), UTC))
    stock = {sku: 10 * spec.checkouts + 100 for sku in SKUS}
    # One lane draws the IDs it always has; each of several draws its own.
    ids_seed = seed if spec.lanes == 1 else f"{seed}:lane-{spec.lane}-of-{spec.lanes}"
    with quiet_injected_crashes():
        # The databases are exported and thrown away: no fsync per commit.
        database = DatabaseSettings(data_dir=data_dir, sqlite_synchronous="NORMAL")
        stack = build_stack(database, clock, plan, stock, ids_seed=ids_seed)
        try:
            for done, (index, start) in enumerate(starts):
                if clock.now > start + MAX_DRIFT:
                    raise DayOverfull(
                        f"{spec.checkouts} checkouts do not fit in one simulated day under "
                        f"profile {profile.name}: checkout {index} would start "
                        f"{clock.now - start} late; simulate fewer"
                    )
                clock.now = max(clock.now, start)
                rng = random.Random(f"checkout:{seed}:{index}")
                late = spec.last_start is not None and start + LATE_MARGIN > spec.last_start
                browser, anomalies, status = _one_checkout(stack, profile, seed, index, rng, late)
                result.events += browser.events
                result.ground_truth += anomalies
                result.outcomes[status] += 1
                progress(done + 1)
            # Whatever a crash left part-way is finished before the day is exported.
            recover(stack.orch)
            _settle(stack)
            result.rows = _export(stack)
            result.ground_truth += _provider(spec, result)
        finally:
            stack.close()
    result.faults = Counter(f.kind for f in stack.fault_log.faults)
    return result


class _ProgressOfLanes:
    """`progress(done, total)` of the whole day from each lane's count: every PROGRESS_EVERY
    checkouts, and once all are done."""

    def __init__(self, progress: Progress | None, total: int, lanes: int) -> None:
        self.progress = progress
        self.total = total
        self.done = [0] * lanes

    def __call__(self, lane: int, done: int) -> None:
        before = sum(self.done)
        self.done[lane] = done
        now = sum(self.done)
        if self.progress is None or now == before:
            return
        if now == self.total or now // PROGRESS_EVERY > before // PROGRESS_EVERY:
            self.progress(now, self.total)


def _run_lanes(specs: Sequence[_Lane], progress: _ProgressOfLanes) -> list[_LaneResult]:
    """Each lane's result, in lane order."""
    workers = min(len(specs), _cores())
    if workers < 2 or specs[0].checkouts < PARALLEL_FROM:
        return [
            _run_lane(spec, lambda done, lane=spec.lane: progress(lane, done)) for spec in specs
        ]
    return _run_in_processes(specs, workers, progress)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_in_processes(
    specs: Sequence[_Lane], workers: int, progress: _ProgressOfLanes
) -> list[_LaneResult]:
    """The lanes in `workers` processes (spawned, so nothing of this one's state is shared),
    each reporting over a pipe; a failed lane stops them all and is raised here."""
    context = multiprocessing.get_context("spawn")
    results: dict[int, _LaneResult] = {}
    processes: dict[Connection, multiprocessing.process.BaseProcess] = {}
    try:
        for worker in range(workers):
            receiving, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=_lane_worker,
                args=(specs[worker::workers], sending),
                name=f"recon-simulator-{worker}",
                daemon=True,
            )
            process.start()
            sending.close()
            processes[receiving] = process
        while processes:
            for connection in wait(list(processes)):
                assert isinstance(connection, Connection)
                try:
                    kind, lane, payload = connection.recv()
                except EOFError:
                    process = processes.pop(connection)
                    process.join()
                    if process.exitcode != 0:
                        raise RuntimeError(
                            f"simulator process {process.name} exited ({process.exitcode})"
                        ) from None
                    continue
                if kind == "progress":
                    progress(lane, payload)
                elif kind == "result":
                    results[lane] = payload
                else:
                    error, trace = payload
                    if isinstance(error, DayOverfull):
                        raise error
                    raise RuntimeError(f"simulator lane {lane} failed:\n{trace}") from error
    finally:
        for process in processes.values():
            if process.is_alive():
                process.terminate()
            process.join()
    return [results[spec.lane] for spec in specs]


def _lane_worker(specs: Sequence[_Lane], connection: Connection) -> None:
    """A worker process: simulate `specs` one after the other, sending progress and results."""
    lane = specs[0].lane
    try:
        for spec in specs:
            lane = spec.lane
            result = _run_lane(
                spec, lambda done, lane=lane: connection.send(("progress", lane, done))
            )
            connection.send(("result", lane, result))
    except BaseException as error:
        trace = traceback.format_exc()
        try:
            connection.send(("error", lane, (error, trace)))
        except Exception:  # an error that does not pickle: its traceback says enough
            connection.send(("error", lane, (RuntimeError(str(error)), trace)))
    finally:
        connection.close()


def _start_times(day: date, count: int, rng: random.Random) -> list[datetime]:
    # Up to 22:00, so a checkout's settlement and the reservation TTL fall on the same day.
    midnight = datetime.combine(day, time(), UTC)
    seconds = sorted(rng.uniform(300, 22 * 3600) for _ in range(count))
    return [midnight + timedelta(seconds=round(s)) for s in seconds]


def _one_checkout(
    stack: Stack, profile: Profile, seed: int, index: int, rng: random.Random, late: bool
) -> tuple[Browser, list[Anomaly], int]:
    """One shopper's checkout; `late` says too little of the day is left after it for a
    reservation to outlive its TTL in the data, so no reservation is orphaned then."""
    # Every draw happens whatever the outcome, so one checkout's luck never shifts another's.
    campaign = rng.random() < profile.campaign
    source = rng.choice(CAMPAIGNS)
    behaviour = Behaviour.draw(rng, profile.browsers)
    declined = rng.random() < profile.declined
    cancelled = rng.random() < profile.cancelled
    mode = _mode(rng.random(), profile.unsafe)
    if mode == "skip_release" and late:
        mode = "safe"
    lines = [
        {"sku": sku, "quantity": rng.randint(1, 3), "unit_price_minor": SKUS[sku]}
        for sku in rng.sample(sorted(SKUS), rng.randint(1, 3))
    ]
    attribution: dict[str, str | None] = dict.fromkeys(ATTRIBUTION)
    if campaign:
        attribution = dict(zip(ATTRIBUTION, source, strict=True))
    browser = Browser(index, behaviour, attribution)
    body = {
        "lines": lines,
        "customer": {"id": f"cus_{rng.randint(1, 50 + index):05d}"},
        "currency": "EUR",
        "payment_token": "tok_decline_card_declined" if declined else "tok_visa",
        "client_context": attribution,
    }
    opened = stack.clock()
    found: list[tuple[str, str, str]] = []
    if mode in ("skip_void", "skip_release"):
        checkout_id, found = unsafe.skip_compensation(stack, body, _SKIPPED[mode])
        status, answer = 502, {"checkout_id": checkout_id}
    else:
        status, answer = _safe_call(stack, "/v1/checkouts", f"sim-{seed}-{index:06d}", body)
        checkout_id = answer.get("id") or answer.get("checkout_id")
    completed = status == 201
    open_order = completed
    if completed:
        if mode == "cancel_race":
            open_order = _cancel(stack, checkout_id, f"sim-cancel-{seed}-{index:06d}")
            if not open_order:
                found += unsafe.stale_fulfillment(stack, checkout_id, answer["order_id"])
        _settle(stack)
        if mode == "fresh_key_retry":
            found += unsafe.retry_with_fresh_key(stack, checkout_id, body)
        if mode == "duplicate_order":
            found += unsafe.order_with_fresh_key(stack, checkout_id, body, answer)
        if (cancelled and mode == "safe") or mode == "double_refund":
            stack.clock.advance(timedelta(minutes=2))
            open_order = _cancel(stack, checkout_id, f"sim-cancel-{seed}-{index:06d}")
            if mode == "double_refund" and not open_order:
                stack.clock.advance(timedelta(minutes=1))
                found += unsafe.double_refund(stack, checkout_id, answer)
    cart = sum(line["quantity"] * line["unit_price_minor"] for line in lines)
    _browse(browser, opened, checkout_id, status, answer, cart)
    anomalies = [Anomaly(*a) for a in found]
    anomalies += _analytics_anomalies(checkout_id, behaviour, completed, open_order and campaign)
    stack.clock.advance(timedelta(seconds=1))
    return browser, anomalies, status


_SKIPPED = {"skip_void": "payment.void", "skip_release": "inventory.release"}
ATTRIBUTION = ("utm_source", "utm_medium", "utm_campaign", "referrer")


def _mode(draw: float, shares: dict[str, float]) -> str:
    for mode in sorted(shares):
        if draw < shares[mode]:
            return mode
        draw -= shares[mode]
    return "safe"


def _browse(
    browser: Browser,
    opened: datetime,
    checkout_id: str | None,
    status: int,
    answer: dict[str, Any],
    cart_minor: int,
) -> None:
    """The client events of the checkout, timed around the server's answer."""
    browser.emit("checkout_viewed", opened - timedelta(seconds=45), None)
    browser.emit("checkout_started", opened - timedelta(seconds=20), checkout_id)
    completed = status == 201
    revenue = (answer["total_minor"], answer["currency"]) if completed else None
    if browser.behaviour.early_completion:
        # Fired on "pay", before the server answered, with the total the page showed (the
        # contract requires revenue on every completion).
        browser.emit("checkout_completed", opened, checkout_id, revenue or (cart_minor, "EUR"))
    elif completed:
        browser.emit("checkout_completed", opened + timedelta(seconds=2), checkout_id, revenue)
    elif status == 402:
        browser.emit("payment_failed", opened + timedelta(seconds=2), checkout_id)


def _cancel(stack: Stack, checkout_id: str, key: str) -> bool:
    """The shopper cancels through the orchestrator; True if the order still stands after."""
    status, answer = _safe_call(stack, f"/v1/checkouts/{checkout_id}/cancel", key, {})
    return not (status == 200 and answer.get("status") == "cancelled")


def _safe_call(
    stack: Stack, path: str, key: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """The safe client: on a 5xx (a crash mid-saga) or a 409 in flight, retry with the SAME key,
    which resumes the saga from its last recovery point."""
    response = stack.post(path, key, body)
    for _ in range(SAFE_ATTEMPTS - 1):
        if response.status_code < 500 and response.status_code != 409:
            break
        stack.clock.advance(timedelta(seconds=2))
        response = stack.post(path, key, body)
    return response.status_code, response.json()


def _settle(stack: Stack) -> None:
    """Run the outbox worker until nothing is pending (capture, fulfillment request)."""
    for _ in range(OUTBOX_PASSES):
        stack.clock.advance(timedelta(seconds=3))
        if not process_outbox(stack.orch):
            return


def _analytics_anomalies(
    checkout_id: str | None, behaviour: Behaviour, completed: bool, campaign: bool
) -> list[Anomaly]:
    if checkout_id is None:
        return []
    found = []
    if behaviour.ad_blocked:
        if completed and campaign:
            found.append(Anomaly(checkout_id, "unattributed_revenue", "ad blocker"))
        return found
    if completed and campaign and behaviour.lose_utm:
        found.append(Anomaly(checkout_id, "unattributed_revenue", "UTM lost on the journey"))
    if behaviour.early_completion and not completed:
        found.append(
            Anomaly(checkout_id, "phantom_completion", "completion fired before the server")
        )
    if behaviour.duplicate_events:
        found.append(
            Anomaly(checkout_id, "duplicate_analytics_event", "page retry re-fired events")
        )
    return found


def _provider(spec: _Lane, result: _LaneResult) -> list[Anomaly]:
    """Add the provider's settlement report and payouts for the lane's exported payments to its
    rows (its own payout IDs: tagged with the day and lane); the anomalies its faults made."""
    report, injected = provider_report(
        result.rows["payments"],
        spec.day,
        tag=f"{spec.day:%Y%m%d}-{spec.lane}",
        seed=str(spec.seed),
        faults=spec.profile.provider,
        checkouts=len(spec.starts),
        ground_truth=[(a.checkout_id, a.type) for a in result.ground_truth],
    )
    # Payouts are read after every injection: each sums its lines but the one made short.
    result.rows.update(report.rows)
    return [Anomaly(*anomaly) for anomaly in injected]


def _export(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    return {
        source: exporter(stack.engine(export.SERVICE_OF_SOURCE[source]))
        for source, exporter in export.EXPORTERS.items()
    }


def _write_ground_truth(path: Path, anomalies: list[Anomaly]) -> None:
    frame = pl.DataFrame(
        {
            "checkout_id": [a.checkout_id for a in anomalies],
            "type": [a.type for a in anomalies],
            "cause": [a.cause for a in anomalies],
            "subject_id": [a.subject_id for a in anomalies],
        },
        schema={
            "checkout_id": pl.String,
            "type": pl.String,
            "cause": pl.String,
            "subject_id": pl.String,
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
