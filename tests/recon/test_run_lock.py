"""The run lock: one reconciliation run per warehouse at a time, the next one waiting or giving up
with the holder's name."""

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from recon.run_lock import WarehouseBusy, warehouse_lock


def _elsewhere(function):
    """Runs `function` on another thread (the lock is re-entrant in its own) and returns what it
    returned, or raises what it raised."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


def _try(path, timeout_seconds=0.0, notice=None):
    with warehouse_lock(path, timeout_seconds, notice=notice):
        return "held"


def test_a_second_run_gives_up_naming_the_run_that_holds_the_warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    heard = []
    with (
        warehouse_lock(path, holder="recon run for 2026-05-06"),
        pytest.raises(WarehouseBusy) as busy,
    ):
        _elsewhere(lambda: _try(path, notice=heard.append))
    holder = f"recon run for 2026-05-06 (pid {os.getpid()})"
    assert f"{path} is still in use by {holder}" in str(busy.value)
    assert heard == [f"waiting for {holder} to finish with {path}"]


def test_the_warehouse_is_free_once_the_run_ends_however_it_ends(tmp_path):
    path = tmp_path / "w.duckdb"
    with pytest.raises(RuntimeError, match="the step failed"), warehouse_lock(path):
        raise RuntimeError("the step failed")
    assert _elsewhere(lambda: _try(path)) == "held"


def test_the_holding_thread_takes_the_lock_again_and_keeps_it_until_its_own_block_ends(tmp_path):
    path = tmp_path / "w.duckdb"
    with warehouse_lock(path):
        with warehouse_lock(path, timeout_seconds=0):
            pass
        # The inner block's end did not release what the outer one holds.
        with pytest.raises(WarehouseBusy):
            _elsewhere(lambda: _try(path))
    assert _elsewhere(lambda: _try(path)) == "held"


def test_a_waiting_run_goes_on_as_soon_as_the_first_one_ends(tmp_path):
    path = tmp_path / "w.duckdb"
    waiting = threading.Event()

    def second_run():
        with warehouse_lock(path, timeout_seconds=120, notice=lambda _: waiting.set()):
            return "ran"

    with ThreadPoolExecutor(max_workers=1) as pool:
        with warehouse_lock(path):
            second = pool.submit(second_run)
            assert waiting.wait(timeout=120), "the second run never said it was waiting"
            assert not second.done()
        assert second.result(timeout=120) == "ran"


def test_a_run_in_another_process_holds_the_warehouse_too(tmp_path):
    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from recon.run_lock import warehouse_lock\n"
            f"with warehouse_lock({str(path)!r}, holder='the other process'):\n"
            "    print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusy, match="in use by the other process"):
            _try(path)
    finally:
        holder.communicate("")
    assert holder.returncode == 0
    assert _try(path) == "held"
