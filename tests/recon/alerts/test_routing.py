"""Which discrepancies reach which channel, and in what form."""

import json
from datetime import date

import pytest

from recon.alerts import AlertConfig, enqueue_check_failures, run_alerts
from recon.alerts.notices import Item, Notice
from recon.alerts.planning import Change, route
from tests.recon.alerts.conftest import DAY, NOW

ITEMS = [
    Item("d-crit-big", "duplicate_charge", "critical", "chk_1", 50_000, "EUR"),
    Item("d-crit-small", "payment_without_order", "critical", "chk_2", 300, "EUR"),
    Item("d-high", "amount_mismatch", "high", "chk_3", 7_000, "USD"),
    Item("d-medium", "orphaned_reservation", "medium", "chk_4", None, None),
    Item("d-low", "phantom_completion", "low", "chk_5", 900, "EUR"),
]
CHANGES = [Change(item, 1) for item in ITEMS]


def config(*rules: dict) -> AlertConfig:
    channels = [{"name": name, "type": "console"} for name in ("a", "b")]
    return AlertConfig.model_validate({"channels": channels, "rules": list(rules)})


def routed(cfg: AlertConfig) -> dict[str, list[tuple[str, list[str]]]]:
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for notice in route(CHANGES, "new", DAY, cfg):
        out.setdefault(notice.channel, []).append(
            (notice.mode, [i.discrepancy_id for i in notice.items])
        )
    return out


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"severities": ["critical"]}, ["d-crit-big", "d-crit-small"]),
        ({"types": ["amount_mismatch", "phantom_completion"]}, ["d-high", "d-low"]),
        # Amounts in minor units; a discrepancy without an amount never passes a minimum.
        ({"min_amount_minor": 900}, ["d-crit-big", "d-high", "d-low"]),
        ({"severities": ["critical", "high"], "min_amount_minor": 1_000}, ["d-crit-big", "d-high"]),
        ({}, ["d-crit-big", "d-crit-small", "d-high", "d-low", "d-medium"]),
    ],
)
def test_filters_by_type_severity_and_minimum_amount(rule, expected):
    [(mode, ids)] = routed(config({"channels": ["a"], "mode": "digest", "digest_top": 10, **rule}))[
        "a"
    ]
    assert mode == "digest"
    assert sorted(ids) == expected


def test_a_digest_lists_the_largest_and_summarises_all():
    [notice] = route(CHANGES, "new", DAY, config({"channels": ["a"], "digest_top": 2}))
    assert [i.discrepancy_id for i in notice.items] == ["d-crit-big", "d-high"]
    assert notice.total == 5
    assert notice.total_minor == {"EUR": 51_200, "USD": 7_000}
    # All five are covered: the record of that is `alerts.notice_items` (see the next test), not
    # a list of every ID in the payload.
    assert "discrepancy_ids" not in json.loads(notice.to_json())
    assert "... and 3 more (largest listed)" in notice.lines()


def test_a_digest_records_every_discrepancy_it_covers_in_notice_items(shop):
    run = run_alerts(shop.con, DAY, config({"channels": ["a"], "digest_top": 1}), now=NOW)

    [digest] = run.planned
    assert digest.total == 3 and [i.checkout_id for i in digest.items] == ["chk_pwo"]
    covered = shop.con.execute(
        "select discrepancy_id from alerts.notice_items where notice_id = ?", [digest.notice_id]
    ).fetchall()
    assert sorted(row[0] for row in covered) == sorted(shop.ids().values())
    [payload] = shop.con.execute("select payload from alerts.outbox").fetchall()
    assert Notice.from_json(payload[0]) == digest


def test_per_discrepancy_rule_takes_precedence_over_a_digest_on_the_same_channel():
    cfg = config(
        {"channels": ["a"], "severities": ["critical"], "mode": "each"},
        {"channels": ["a", "b"]},
    )
    result = routed(cfg)
    assert sorted(result["a"]) == [
        ("digest", ["d-high", "d-low", "d-medium"]),
        ("each", ["d-crit-big"]),
        ("each", ["d-crit-small"]),
    ]
    assert [mode for mode, _ in result["b"]] == ["digest"]


def test_notice_ids_are_deterministic_per_channel_kind_and_content():
    cfg = config({"channels": ["a", "b"], "mode": "each"})
    first = {n.notice_id for n in route(CHANGES, "new", DAY, cfg)}
    assert first == {n.notice_id for n in route(CHANGES, "new", DAY, cfg)}
    assert len(first) == 10
    resolves = {n.notice_id for n in route(CHANGES, "resolve", DAY, cfg)}
    other_day = {n.notice_id for n in route(CHANGES, "new", date(2026, 2, 11), cfg)}
    assert first.isdisjoint(resolves) and first.isdisjoint(other_day)


def test_unrouted_discrepancies_are_tracked_but_not_sent(shop):
    cfg = config({"channels": ["a"], "severities": ["critical"], "mode": "each"})
    run = run_alerts(shop.con, DAY, cfg, now=NOW)
    assert len(run.new) == 3
    assert [n.items[0].checkout_id for n in run.planned] == ["chk_pwo"]
    tracked = shop.con.execute("select count(*) from alerts.discrepancy_state").fetchone()
    assert tracked == (3,)


def test_check_failures_go_to_rules_that_ask_for_them_once(shop, capsys):
    cfg = config({"channels": ["a"], "check_failures": True}, {"channels": ["b"]})
    failures = [("row_count", "raw_orders empty"), ("freshness", "no payments since 02:00")]
    queued = enqueue_check_failures(shop.con, DAY, failures, cfg, now=NOW)
    assert [n.channel for n in queued] == ["a"]
    enqueue_check_failures(shop.con, DAY, list(reversed(failures)), cfg, now=NOW)

    run = run_alerts(shop.con, DAY, cfg, now=NOW, check_failures=failures)

    checks = [d for d in run.deliveries if d.kind == "check_failed"]
    assert [(d.channel, d.delivered) for d in checks] == [("a", True)]
    out = capsys.readouterr().out
    assert out.count("2 data-quality check(s) failed") == 1
    assert "freshness: no payments since 02:00" in out
