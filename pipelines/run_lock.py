"""One `recon run` at a time per warehouse file.

DuckDB allows one writer per file, and the daily job opens the file once per step: two runs of
the same partition started together would interleave their steps. An advisory lock on a file
beside the warehouse makes the second run wait for the first (saying so), or give up clearly
after a timeout."""

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class WarehouseBusy(RuntimeError):
    """Another run held the warehouse for longer than we were willing to wait."""


@contextmanager
def warehouse_lock(
    warehouse: Path, timeout_seconds: float = 600, notice: TextIO | None = None
) -> Iterator[None]:
    path = Path(f"{warehouse}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        if not _try_lock(handle):
            holder = path.read_text().strip() or "another process"
            if notice is not None:
                print(f"waiting for {holder} to finish with {warehouse}", file=notice, flush=True)
            _wait(handle, timeout_seconds, warehouse, holder)
        handle.seek(0)
        handle.truncate()
        handle.write(f"recon run (pid {os.getpid()})")
        handle.flush()
        try:
            yield
        finally:
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
