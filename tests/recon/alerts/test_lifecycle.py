"""New → notified once; rerun → nothing; cleared by late data → resolve; dry run → no change."""

from datetime import timedelta

import pytest

from recon.alerts import AlertConfig, PartitionNotReconciled, run_alerts
from tests.recon.alerts.conftest import DAY, NEXT_RUN, NOW


def no_sleep(_seconds: float) -> None:
    pass


def test_new_discrepancies_are_notified_once_and_a_rerun_sends_nothing(
    shop, http, smtp, full_config, tmp_path
):
    config = AlertConfig.model_validate(full_config)
    ids = shop.ids()

    run = run_alerts(shop.con, DAY, config, now=NOW, sleep=no_sleep)

    assert sorted(item.checkout_id for item in run.new) == ["chk_owp", "chk_ph", "chk_pwo"]
    assert run.failed == [] and run.pending == 0
    [page] = http.at("/pd")
    assert page.json["event_action"] == "trigger"
    assert page.json["dedup_key"] == ids["chk_pwo"]
    slack = [r.json["text"] for r in http.at("/slack")]
    assert len(slack) == 2  # the critical one on its own, and a digest of the other two
    assert any("payment_without_order" in text for text in slack)
    assert any("2 new discrepancies" in text for text in slack)
    assert len(http.at("/hook")) == 1
    assert len(smtp.messages) == 1
    assert len((tmp_path / "n.jsonl").read_text().splitlines()) == 3

    shop.reconcile()
    again = run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=no_sleep)

    assert (again.new, again.resolved, again.planned, again.deliveries) == ([], [], [], [])
    assert len(http.requests) == 4 and len(smtp.messages) == 1
    assert len((tmp_path / "n.jsonl").read_text().splitlines()) == 3
    # No primary key holds these unique: the planner does.
    for table, key in (
        ("alerts.discrepancy_state", "business_date, discrepancy_id"),
        ("alerts.notice_items", "notice_id, discrepancy_id"),
    ):
        [(rows, keys)] = shop.con.execute(
            f"select count(*), count(distinct ({key})) from {table}"
        ).fetchall()
        assert rows == keys > 0, table


def test_a_discrepancy_cleared_by_late_data_is_resolved_once(shop, http, full_config):
    config = AlertConfig.model_validate(full_config)
    critical = shop.ids()["chk_pwo"]
    run_alerts(shop.con, DAY, config, now=NOW, sleep=no_sleep)
    http.requests.clear()

    shop.refund_late()
    run = run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=no_sleep)

    assert [item.discrepancy_id for item in run.resolved] == [critical]
    assert run.new == []
    [resolve] = http.at("/pd")
    assert resolve.json == {
        "routing_key": "pd-routing-key",
        "event_action": "resolve",
        "dedup_key": critical,
    }
    slack = [r.json["text"] for r in http.at("/slack")]
    # Per discrepancy on Slack as its trigger was; the digest rule does not repeat it there.
    assert slack == ["[recon 2026-02-10] resolved critical payment_without_order: EUR 900.00"]
    status = shop.con.execute(
        "select status from alerts.discrepancy_state where discrepancy_id = ?", [critical]
    ).fetchone()
    assert status == ("resolved",)

    http.requests.clear()
    assert run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=no_sleep).deliveries == []
    assert http.requests == []


def test_a_discrepancy_that_comes_back_is_announced_again(shop, http, full_config):
    config = AlertConfig.model_validate(full_config)
    run_alerts(shop.con, DAY, config, now=NOW, sleep=no_sleep)
    # Resolve it by removing the checkout from the landing, then bring it back.
    pwo = shop.flows.pop("pwo")
    for path in shop.landing.rglob("*"):
        if path.is_file():
            path.unlink()
    shop.reconcile()
    run_alerts(shop.con, DAY, config, now=NOW, sleep=no_sleep)
    shop.flows["pwo"] = pwo
    shop.reconcile()
    http.requests.clear()

    run = run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=no_sleep)

    assert [item.checkout_id for item in run.new] == ["chk_pwo"]
    assert [r.json["event_action"] for r in http.at("/pd")] == ["trigger"]


def test_state_rows_record_first_seen_resolved_and_reopened(shop, http, full_config):
    config = AlertConfig.model_validate(full_config)
    critical = shop.ids()["chk_pwo"]

    def state() -> tuple:
        return shop.con.execute(
            "select status, generation, first_seen_at, resolved_at from alerts.discrepancy_state "
            "where discrepancy_id = ?",
            [critical],
        ).fetchone()

    run_alerts(shop.con, DAY, config, now=NOW, sleep=no_sleep)
    assert state() == ("open", 1, NOW, None)
    pwo = shop.flows.pop("pwo")
    for path in shop.landing.rglob("*"):
        if path.is_file():
            path.unlink()
    shop.reconcile()
    cleared = NOW + timedelta(hours=1)
    run_alerts(shop.con, DAY, config, now=cleared, sleep=no_sleep)
    assert state() == ("resolved", 1, NOW, cleared)
    shop.flows["pwo"] = pwo
    shop.reconcile()

    back = run_alerts(shop.con, DAY, config, now=NEXT_RUN, sleep=no_sleep)

    assert len(back.new) == 1 and back.new.largest(1)[0].discrepancy_id == critical
    assert state() == ("open", 2, NOW, None)
    tracked = shop.con.execute("select count(*) from alerts.discrepancy_state").fetchone()
    assert tracked == (3,)


def snapshot(con) -> list:
    return [
        con.execute(f"select * from alerts.{table} order by all").fetchall()
        for table in ("discrepancy_state", "outbox", "notice_items")
    ]


def test_a_dry_run_shows_what_would_be_sent_and_changes_nothing(shop, http, smtp, full_config):
    config = AlertConfig.model_validate(full_config)

    first = run_alerts(shop.con, DAY, config, dry_run=True, now=NOW)

    assert len(first.new) == 3 and first.deliveries == []
    assert {n.channel for n in first.to_send} == {"pager", "slack", "mail", "hook", "log", "file"}
    assert "DRY RUN" in first.describe() and "pager [new]" in first.describe()
    assert http.requests == [] and smtp.messages == []
    schemas = shop.con.execute(
        "select count(*) from information_schema.schemata where schema_name = 'alerts'"
    ).fetchone()
    assert schemas == (0,)

    run_alerts(shop.con, DAY, config, now=NOW, sleep=no_sleep)
    http.requests.clear()
    shop.refund_late()
    before = snapshot(shop.con)

    dry = run_alerts(shop.con, DAY, config, dry_run=True, now=NEXT_RUN)

    assert [item.checkout_id for item in dry.resolved] == ["chk_pwo"]
    assert "pager [resolve]" in dry.describe()
    assert snapshot(shop.con) == before
    assert http.requests == []


def test_a_partition_never_reconciled_is_refused_rather_than_resolved(shop):
    run_alerts(shop.con, DAY, now=NOW)
    with pytest.raises(PartitionNotReconciled, match="2026-02-09"):
        run_alerts(shop.con, DAY - timedelta(days=1), now=NOW)
