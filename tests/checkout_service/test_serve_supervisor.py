"""`recon serve`'s supervisor gives up on a component that cannot stay up, with its log; every
component purges its expired idempotency keys."""

import io
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from checkout_service.idempotency import StoredResponse, fingerprint
from checkout_service.serve import (
    SERVERS,
    Component,
    ComponentFailed,
    Stack,
    StackSettings,
    _purge_keys,
    create_component_app,
    key_store,
)


def test_a_component_in_a_crash_loop_is_reported_with_its_log_not_restarted_forever(tmp_path):
    settings = StackSettings(data_dir=tmp_path)
    # Not a component: the process prints its usage and exits 2 at once, every time.
    broken = Component("no-such-component", settings)
    stack = Stack(settings, {broken.name: broken})
    broken.start()
    out = io.StringIO()
    try:
        with pytest.raises(ComponentFailed) as failed:
            stack.supervise(threading.Event(), out, check_seconds=0.05, crash_loop=(3, 60.0))
    finally:
        stack.stop()
    message = str(failed.value)
    assert "no-such-component exited (2) 3 times within 60 s" in message
    assert "usage: python -m checkout_service.serve" in message  # the log tail
    assert out.getvalue().count("exited (2); restarting") == 2


@pytest.mark.parametrize("component", SERVERS)
def test_every_component_purges_its_expired_keys_at_start(tmp_path, component):
    """Each server process deletes the keys past their retention when it starts, then every
    RECON_SERVICE_KEY_PURGE_SECONDS: the table does not grow with every request ever answered."""
    app = create_component_app(component, StackSettings(data_dir=tmp_path))
    store = key_store(app)
    try:
        _purge_at_start(store)
    finally:
        if hasattr(app.state, "orchestrator"):
            app.state.orchestrator.close()
        store.engine.dispose()


def _purge_at_start(store) -> None:
    fp = fingerprint("POST", "/v1/x", {})
    for key in ("old", "young"):
        lock = store.begin("scope", key, fp).lock
        with store.engine.begin() as conn:
            store.complete(conn, lock, StoredResponse(201, b"{}"))
    with store.engine.begin() as conn:
        conn.execute(
            update(store.table)
            .where(store.table.c.idempotency_key == "old")
            .values(expires_at=store.clock() - timedelta(seconds=1))
        )
    stopped = threading.Event()
    stopped.set()  # one pass, the one at start

    _purge_keys(store, 3600.0, stopped)

    assert store.get("scope", "old") is None
    assert store.get("scope", "young") is not None
