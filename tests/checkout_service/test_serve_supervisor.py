"""`recon serve`'s supervisor gives up on a component that cannot stay up, with its log."""

import io
import threading

import pytest

from checkout_service.serve import Component, ComponentFailed, Stack, StackSettings


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
