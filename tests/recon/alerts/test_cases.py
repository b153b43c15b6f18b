"""Alerts read the cases: a discrepancy whose case is acknowledged or resolved is not notified, and
a case left open past its severity's SLA escalates once to the channels of its rules."""

from datetime import timedelta

from recon.alerts import AlertConfig, run_alerts
from recon.cases.actions import acknowledge, reopen, resolve
from recon.cases.sync import sync
from recon.run_params import RunParams, write_run_params
from tests.recon.alerts.conftest import DAY, NOW


def no_sleep(_seconds: float) -> None:
    pass


def test_decided_cases_are_not_notified_and_a_reopened_one_is(shop, http, full_config):
    config = AlertConfig.model_validate(full_config)
    ids = shop.ids()
    sync(shop.con, DAY, NOW)
    acknowledge(shop.con, ids["chk_pwo"], by="alice", now=NOW)  # before on-call heard of it
    resolve(shop.con, ids["chk_owp"], resolution="false_positive", by="bob", now=NOW)

    run = run_alerts(shop.con, DAY, config, now=NOW, sleep=no_sleep)

    assert [item.checkout_id for item in run.new] == ["chk_ph"]
    assert http.at("/pd") == []  # the critical one is acknowledged: nobody is paged

    reopen(shop.con, ids["chk_owp"], by="bob", note="not a test order after all", now=NOW)
    again = run_alerts(shop.con, DAY, config, now=NOW + timedelta(hours=1), sleep=no_sleep)

    assert [item.checkout_id for item in again.new] == ["chk_owp"]


def test_a_resolved_case_found_again_under_another_date_is_not_notified_again(
    shop, http, full_config
):
    config = AlertConfig.model_validate(full_config)
    critical = shop.ids()["chk_pwo"]
    sync(shop.con, DAY, NOW)
    run_alerts(shop.con, DAY, config, now=NOW, sleep=no_sleep)
    resolve(shop.con, critical, resolution="refunded", by="alice", now=NOW)
    http.requests.clear()
    # The next date's run finds the same discrepancy (same ID) again, say through late data.
    later = DAY + timedelta(days=1)
    shop.con.execute(
        "insert into marts.discrepancies select * replace (cast($later as date) as "
        "_partition_date) from marts.discrepancies where discrepancy_id = $id",
        {"later": later, "id": critical},
    )
    write_run_params(shop.con, later, RunParams())
    sync(shop.con, later, NOW + timedelta(days=1))

    run = run_alerts(shop.con, later, config, now=NOW + timedelta(days=1), sleep=no_sleep)

    assert run.new == [] and http.requests == []


def escalating(full_config: dict) -> AlertConfig:
    return AlertConfig.model_validate({**full_config, "case_sla_days": {"critical": 1, "high": 3}})


def test_an_open_case_past_its_sla_escalates_once_to_its_rules_channels(
    shop, http, full_config, tmp_path
):
    config = escalating(full_config)
    critical = shop.ids()["chk_pwo"]
    sync(shop.con, DAY, NOW)
    run_alerts(shop.con, DAY, config, now=NOW, sleep=no_sleep)
    http.requests.clear()

    within = run_alerts(shop.con, DAY, config, now=NOW + timedelta(hours=23), sleep=no_sleep)
    assert within.escalated == [] and within.deliveries == []

    dry = run_alerts(shop.con, DAY, config, dry_run=True, now=NOW + timedelta(days=1))
    assert [item.discrepancy_id for item in dry.escalated] == [critical]
    assert "1 escalated" in dry.describe()

    past = run_alerts(shop.con, DAY, config, now=NOW + timedelta(days=1), sleep=no_sleep)

    # Only the critical case is a day old; the high one has three days.
    assert [item.discrepancy_id for item in past.escalated] == [critical]
    [page] = http.at("/pd")
    assert page.json["event_action"] == "trigger" and page.json["dedup_key"] == critical
    assert page.json["payload"]["summary"].startswith("recon 2026-02-10: overdue critical")
    # The rules that route critical discrepancies: paging and Slack one by one, and the file.
    assert [r.json["text"] for r in http.at("/slack")] == [
        "[recon 2026-02-10] overdue critical payment_without_order: EUR 900.00"
    ]
    assert len((tmp_path / "n.jsonl").read_text().splitlines()) == 3 + 1

    http.requests.clear()
    later = run_alerts(shop.con, DAY, config, now=NOW + timedelta(days=2), sleep=no_sleep)
    assert later.escalated == [] and http.requests == []


def test_an_acknowledged_case_never_escalates_and_a_reopened_one_escalates_again(
    shop, http, full_config
):
    config = escalating(full_config)
    ids = shop.ids()
    sync(shop.con, DAY, NOW)
    acknowledge(shop.con, ids["chk_owp"], by="alice", now=NOW)
    first = run_alerts(shop.con, DAY, config, now=NOW + timedelta(days=5), sleep=no_sleep)
    assert [item.checkout_id for item in first.escalated] == ["chk_pwo"]

    resolve(shop.con, ids["chk_pwo"], resolution="refunded", by="bob", now=NOW + timedelta(days=5))
    reopened_at = NOW + timedelta(days=6)
    reopen(shop.con, ids["chk_pwo"], by="bob", note="the refund bounced", now=reopened_at)

    # Its SLA runs again from the reopening.
    soon = run_alerts(shop.con, DAY, config, now=reopened_at + timedelta(hours=2))
    assert soon.escalated == []
    late = run_alerts(shop.con, DAY, config, now=reopened_at + timedelta(days=1), sleep=no_sleep)
    assert [item.checkout_id for item in late.escalated] == ["chk_pwo"]
    escalations = shop.con.execute(
        "select case_id, count(*) from alerts.escalations group by case_id"
    ).fetchall()
    assert escalations == [(ids["chk_pwo"], 2)]
