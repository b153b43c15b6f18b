"""Chaos: the checkout service's real processes SIGKILLed at random under a load of safe clients,
restarted, and drained by the worker. Afterwards the services' databases keep every promise
(terminal checkouts, one charge, one order per charge, no reservation held) and the
reconciliation pipeline, run on their export, finds no money discrepancy.

Bounded for CI; `RECON_CHAOS_CHECKOUTS` and `RECON_CHAOS_KILLS` raise the counts for a soak
(or run `recon chaos` with large counts).
"""

import os
import secrets

import pytest
from sqlalchemy import create_engine

from checkout_service.db import drop_schema, normalise_url
from checkout_service.serve import COMPONENTS, SERVERS, StackSettings, free_port_block
from testdata.chaos import ChaosPlan, run_chaos
from testdata.chaos_audit import money_discrepancies

pytestmark = pytest.mark.slow

# At least this many; the load goes on while kills remain. The first twelve of both seeds
# include declined cards, so some checkouts fail.
CHECKOUTS = int(os.environ.get("RECON_CHAOS_CHECKOUTS", "12"))
# Eight kills: every component (seven servers and the worker) once.
KILLS = int(os.environ.get("RECON_CHAOS_KILLS", "8"))


def chaos_settings(tmp_path, **database) -> StackSettings:
    return StackSettings(
        data_dir=tmp_path / "services",
        port=free_port_block(len(SERVERS)),
        saga_lease_seconds=5.0,
        lock_timeout_seconds=5.0,
        give_up_after_seconds=20.0,
        worker_poll_seconds=0.5,
        reaper_seconds=5.0,
        **database,
    )


def assert_survived(settings: StackSettings, tmp_path, seed: int, kills: int = KILLS) -> None:
    plan = ChaosPlan(checkouts=CHECKOUTS, clients=4, kills=kills, seed=seed, gap=(0.2, 0.5))
    result = run_chaos(settings, plan, print)
    print(result.describe())
    assert result.violations == []
    assert len(result.kills) == kills
    assert set(result.kills) == set(COMPONENTS) or len(COMPONENTS) > kills
    assert result.sent >= CHECKOUTS
    assert result.statuses.total() == result.sent
    # The load was real: most checkouts went through, the declined ones failed.
    assert result.statuses["completed"] + result.statuses["cancelled"] > result.sent // 2
    assert result.statuses["failed"] > 0
    assert money_discrepancies(settings.database(), tmp_path / "landing") == []


def test_sigkilled_processes_on_sqlite_lose_and_double_nothing(tmp_path):
    assert_survived(chaos_settings(tmp_path), tmp_path, seed=1)


def test_sigkilled_processes_on_postgresql_lose_and_double_nothing(tmp_path, pg_url):
    prefix = f"chaos_{secrets.token_hex(4)}_"
    settings = chaos_settings(tmp_path, database_url=pg_url, schema_prefix=prefix)
    try:
        # Fewer kills: the SQLite run already covers every component, and time is bounded.
        assert_survived(settings, tmp_path, seed=2, kills=max(1, KILLS // 3))
    finally:
        engine = create_engine(normalise_url(pg_url))
        try:
            for name in SERVERS:
                drop_schema(engine, f"{prefix}{name}")
        finally:
            engine.dispose()
