"""One reconciliation run at a time per warehouse file.

DuckDB allows one writer per file, and a run may close and reopen the file between its steps (a
large partition gives DuckDB's memory back that way): two runs of one warehouse started together
would interleave their steps, one's ingestion replacing rows the other's models are reading. An
advisory lock on a file beside the warehouse makes the second run wait for the first (saying so),
or give up clearly after a timeout. `recon run` takes it before Dagster starts; the warehouse
resource takes it for every run a Dagster instance launches (the UI, schedules, sensors,
backfills). Taken again by the thread that holds it, it is already held: `recon run`'s own
resource passes through."""

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class WarehouseBusy(RuntimeError):
    """Another run held the warehouse for longer than we were willing to wait."""


# The lock files this process holds, with the thread that holds each.
_HELD: dict[Path, int] = {}
_HELD_GUARD = threading.Lock()


@contextmanager
def warehouse_lock(
    warehouse: Path,
    timeout_seconds: float = 600,
    notice: Callable[[str], None] | None = None,
    holder: str = "recon run",
) -> Iterator[None]:
    """Hold `<warehouse>.lock` for the block; `notice` hears why we wait, `holder` is how a
    waiting run names us."""
    path = Path(f"{warehouse}.lock").absolute()
    with _HELD_GUARD:
        reentered = _HELD.get(path) == threading.get_ident()
    if reentered:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        if not _try_lock(handle):
            other = path.read_text().strip() or "another process"
            if notice is not None:
                notice(f"waiting for {other} to finish with {warehouse}")
            _wait(handle, timeout_seconds, warehouse, other)
        with _HELD_GUARD:
            _HELD[path] = threading.get_ident()
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder} (pid {os.getpid()})")
        handle.flush()
        try:
            yield
        finally:
            with _HELD_GUARD:
                del _HELD[path]
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait(handle, timeout_seconds: float, warehouse: Path, holder: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not _try_lock(handle):
        if time.monotonic() >= deadline:
            raise WarehouseBusy(
                f"{warehouse} is still in use by {holder} after {timeout_seconds:.0f} s; "
                "try again when that run has finished"
            )
        time.sleep(0.2)  # polling an advisory lock: nothing to wake us when it is released
