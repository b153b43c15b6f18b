"""A channel failing for a run: retried with backoff, kept pending, sent on the next run exactly
once; the other channels are not held up."""

import pytest

from recon.alerts import AlertConfig, run_alerts
from tests.recon.alerts.conftest import DAY, NEXT_RUN, NOW, free_port


def outbox(con, channel: str) -> list[tuple]:
    return con.execute(
        "select kind, attempts, delivered_at is not null, last_error from alerts.outbox "
        "where channel = ?",
        [channel],
    ).fetchall()


def test_a_failing_channel_is_retried_and_delivered_on_the_next_run_exactly_once(
    shop, http, smtp, full_config
):
    config = AlertConfig.model_validate(full_config)
    http.status["/slack"] = 500
    delays: list[float] = []

    run = run_alerts(shop.con, DAY, config, now=NOW, sleep=delays.append)

    # Three attempts with exponential backoff (0.5 s, then 1 s capped), then the channel is
    # left alone for this run: its second notice is not even tried.
    assert delays == [0.5, 1.0]
    assert [(d.channel, d.attempts) for d in run.failed] == [("slack", 3)]
    rows = sorted(outbox(shop.con, "slack"), key=lambda row: row[1])
    assert [row[1:3] for row in rows] == [(0, False), (3, False)]
    assert "HTTP 500" in rows[1][3]
    assert run.pending == 2
    # Everyone else got theirs.
    assert len(http.at("/pd")) == 1 and len(http.at("/hook")) == 1 and len(smtp.messages) == 1

    # Still failing notices are not retried before their next attempt time.
    http.status.clear()
    early = run_alerts(shop.con, DAY, config, now=NOW, sleep=delays.append)
    assert [d.channel for d in early.deliveries] == ["slack"]  # only the untried one was due

    later = run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=delays.append)
    assert [d.channel for d in later.deliveries] == ["slack"]
    assert later.pending == 0
    assert len(http.at("/slack")) == 2
    assert len(http.at("/pd")) == 1 and len(http.at("/hook")) == 1 and len(smtp.messages) == 1

    final = run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=delays.append)
    assert final.deliveries == [] and len(http.at("/slack")) == 2


def test_a_channel_that_is_down_keeps_its_notices_until_it_is_back(shop, http, full_config):
    down = f"http://127.0.0.1:{free_port()}/pd"  # nothing listens there
    full_config["channels"][-1]["options"]["url"] = down
    config = AlertConfig.model_validate(full_config)

    run = run_alerts(shop.con, DAY, config, now=NOW, sleep=lambda _s: None)

    assert [d.channel for d in run.failed] == ["pager"]
    assert "ConnectError" in run.failed[0].error
    assert len(http.at("/slack")) == 2 and len(http.at("/hook")) == 1
    assert "FAILED" in run.describe() and "1 pending" in run.describe()

    full_config["channels"][-1]["options"]["url"] = f"{http.url}/pd"
    back = AlertConfig.model_validate(full_config)
    later = run_alerts(shop.con, DAY, back, now=NEXT_RUN, sleep=lambda _s: None)

    assert [(d.channel, d.delivered) for d in later.deliveries] == [("pager", True)]
    assert [r.json["event_action"] for r in http.at("/pd")] == ["trigger"]
    assert len(http.at("/slack")) == 2 and len(http.at("/hook")) == 1


def test_a_missing_secret_is_a_delivery_failure_not_a_crash(shop, http, full_config, monkeypatch):
    monkeypatch.delenv("RECON_TEST_PD_KEY")
    config = AlertConfig.model_validate(full_config)

    run = run_alerts(shop.con, DAY, config, now=NOW, sleep=lambda _s: None)

    assert [d.error for d in run.failed] == ["environment variable RECON_TEST_PD_KEY is not set"]
    assert http.at("/pd") == [] and run.pending == 1


def test_a_notice_the_channel_refuses_is_rejected_once_and_the_channel_goes_on(
    shop, http, full_config
):
    """A 400 refuses the notice itself (Slack's invalid_payload): sending it again cannot help,
    and it must not hold up the notices queued behind it on the same channel."""
    config = AlertConfig.model_validate(full_config)
    http.script["/slack"] = [(400, {})]
    delays: list[float] = []

    run = run_alerts(shop.con, DAY, config, now=NOW, sleep=delays.append)

    assert delays == []  # not retried within the run either
    [rejected] = run.rejected
    assert (rejected.channel, rejected.attempts) == ("slack", 1)
    assert "HTTP 400" in rejected.error
    assert len(http.refused_at("/slack")) == 1 and len(http.at("/slack")) == 1
    assert run.pending == 0
    assert "REJECTED" in run.describe() and "(1 rejected)" in run.describe()
    [(attempts, error)] = shop.con.execute(
        "select attempts, last_error from alerts.outbox where rejected_at is not null"
    ).fetchall()
    assert attempts == 1 and "HTTP 400" in error

    later = run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=delays.append)
    assert later.deliveries == [] and len(http.refused_at("/slack")) == 1


@pytest.mark.parametrize("status", [404, 429, 503])
def test_a_channel_that_is_gone_limited_or_down_keeps_the_notice_pending(
    shop, http, full_config, status
):
    """A wrong URL is fixed in the config, a rate limit or an outage passes: the notice is
    still owed, and the channel's other notices wait behind it."""
    config = AlertConfig.model_validate(full_config)
    http.status["/slack"] = status

    run = run_alerts(shop.con, DAY, config, now=NOW, sleep=lambda _s: None)

    assert run.rejected == [] and [d.channel for d in run.failed] == ["slack"]
    assert run.pending == 2


def test_an_outbox_from_before_rejections_keeps_its_pending_notices(shop, http, full_config):
    config = AlertConfig.model_validate(full_config)
    http.status["/slack"] = 500
    run_alerts(shop.con, DAY, config, now=NOW, sleep=lambda _s: None)
    # As an earlier version made it.
    shop.con.execute("alter table alerts.outbox drop column rejected_at")
    http.status.clear()

    dry = run_alerts(shop.con, DAY, config, now=NEXT_RUN, dry_run=True)
    assert [n.channel for n in dry.to_send] == ["slack", "slack"]

    run = run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=lambda _s: None)
    assert [(d.channel, d.delivered) for d in run.deliveries] == [("slack", True)] * 2
    assert run.pending == 0
