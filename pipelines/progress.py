"""Readable progress for in-process runs: a line per finished step, not Dagster's debug log."""

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

import dagster as dg

# Figures worth a glance, per step, from the asset's materialization metadata.
_HEADLINE = ("rows_loaded", "rows_quarantined", "rows_folded", "discrepancies", "quarantined")


def _label(step_key: str) -> str:
    return step_key.replace("__", "/")


class StepPrinter(logging.Handler):
    def __init__(self, total_steps: int, stream: TextIO) -> None:
        super().__init__()
        self.total = total_steps
        self.stream = stream
        self.done = 0
        self.started: dict[str, float] = {}
        self.figures: dict[str, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None or not event.step_key:
            return
        step, kind = event.step_key, event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.perf_counter()
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            figures = _figures(materialization.metadata)
            asset = materialization.asset_key.to_user_string()
            if asset == _label(step):
                self.figures[step] = figures
            else:  # one of several assets a step builds (the models): a line of its own
                seconds = materialization.metadata.get("seconds")
                timing = f"{seconds.value:6.2f}s" if seconds is not None else " " * 7
                self._line(f"      {asset:<52} {timing}  {', '.join(figures)}".rstrip())
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                verdict = "FAILED" if evaluation.severity.value == "ERROR" else "warning"
                line = f"  check {evaluation.check_name} {verdict} on {_label(step)}"
                # The check's own words (why no rows landed, which files were not read) are
                # what the person at the terminal needs next.
                if evaluation.description:
                    line += f": {evaluation.description}"
                self._line(line)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            self.done += 1
            seconds = time.perf_counter() - self.started.get(step, time.perf_counter())
            status = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "FAILED", "STEP_SKIPPED": "skipped"}
            details = ", ".join(self.figures.get(step, []))
            width = len(str(self.total))
            self._line(
                f"[{self.done:>{width}}/{self.total}] {_label(step):<40} {status[kind]:<7} "
                f"{seconds:6.2f}s  {details}".rstrip()
            )
            if kind == "STEP_FAILURE":
                self._line(f"  {root_message(event.event_specific_data.error)}")

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def root_message(error) -> str:
    """The user-facing message of a step failure: Dagster wraps the asset's own exception."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip() if error else "(no error message)"


def _figures(metadata: dict) -> list[str]:
    shown = []
    for name in _HEADLINE:
        if name in metadata:
            shown.append(f"{name.replace('_', ' ')} {metadata[name].value}")
    if not shown and "dagster/row_count" in metadata:
        shown.append(f"rows {metadata['dagster/row_count'].value}")
    return shown


def progress_logger(total_steps: int, stream: TextIO = sys.stderr) -> dg.LoggerDefinition:
    @dg.logger(description="One line per finished step, for terminals.")
    def progress(_init_context) -> logging.Logger:
        log = logging.Logger("recon.progress", level=logging.DEBUG)
        log.addHandler(StepPrinter(total_steps, stream))
        return log

    return progress


def checkout_progress(stream: TextIO = sys.stderr) -> Callable[[int, int], None]:
    """A `progress(done, total)` for the simulator: a line now and then, with the rate, so a
    day of thousands of checkouts does not look hung."""
    started = time.perf_counter()

    def report(done: int, total: int) -> None:
        seconds = time.perf_counter() - started
        rate = done / seconds if seconds else 0.0
        print(
            f"  {done:>{len(str(total))}}/{total} checkouts  {seconds:5.0f} s  ({rate:.0f}/s)",
            file=stream,
            flush=True,
        )

    return report
