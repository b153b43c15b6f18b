"""The warehouse as the web app uses it: a connection per request, closed when the request ends,
so that the daily run (another process) can take the file between two clicks.

DuckDB lets one process write the file, or any number read it: a page opens it read-only, an
action read-write. Within this process, DuckDB refuses a read-only and a read-write connection
to the same file at once, so requests take a readers-writer lock first."""

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from recon.warehouse import configure_session

_HOLDER = re.compile(r"held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


class WarehouseBusy(Exception):
    """Another process (the daily run, a `recon` command) holds the file."""


class ReadWriteLock:
    """Many readers or one writer; a waiting writer goes before readers that come after it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._changed:
            self._writers_waiting += 1
            self._changed.wait_for(lambda: not self._writing and not self._readers)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()


class Warehouse:
    def __init__(self, path: Path, lock_wait_seconds: float = 5.0):
        self.path = path
        self.lock_wait_seconds = lock_wait_seconds
        self._lock = ReadWriteLock()

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock.reading(), self._open(read_only=True) as con:
            yield con

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock.writing(), self._open(read_only=False) as con:
            yield con

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        # A run holds the file for seconds at a time: wait a little, as `recon cases` does, then
        # say who holds it rather than keep the person waiting.
        deadline = time.monotonic() + self.lock_wait_seconds
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() >= deadline:
                    raise WarehouseBusy(_busy(self.path, error)) from error
                time.sleep(0.05)
        try:
            configure_session(con)
        except BaseException:
            con.close()
            raise
        return con


def _busy(path: Path, error: duckdb.IOException) -> str:
    if "lock" not in str(error).lower():
        return f"cannot open the warehouse {path.name}: {error}"
    holder = _HOLDER.search(str(error))
    who = f"process {holder['pid']} ({holder['program']})" if holder else "another process"
    return f"the warehouse is in use by {who}, probably the daily run: try again in a minute"
