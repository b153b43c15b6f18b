"""Property: the set-based planner (SQL over the partition) decides exactly what a plain
per-discrepancy Python reading of the rules decides: the same notices, IDs, listed items, order
and totals; the same state rows and `alerts.notice_items` run after run.

More examples for a soak: RECON_PROPERTY_EXAMPLES=500 pytest tests/pipelines/alerts -k oracle
"""

import os
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.alerts import AlertConfig
from recon.alerts.notices import Item, Notice, notice_id
from recon.alerts.planning import Change, apply_plan, plan_partition, route
from recon.alerts.schema import ensure_alerts_schema

DAY = date(2026, 3, 1)
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("RECON_PROPERTY_EXAMPLES", "40"))
CHANNELS = ("a", "b", "c")
TYPES = ("duplicate_charge", "amount_mismatch", "orphaned_reservation")
SEVERITIES = ("critical", "high", "medium", "low")


def oracle_route(changes: list[Change], kind: str, day: date, config: AlertConfig) -> list[Notice]:
    """Routing one discrepancy at a time, as the planner did before it was set-based."""
    each: dict[str, list[Change]] = defaultdict(list)
    digest: dict[str, list[Change]] = defaultdict(list)
    top: dict[str, int] = defaultdict(int)
    for change in changes:
        item = change.item
        rules = [r for r in config.rules if r.matches(item.type, item.severity, item.amount_minor)]
        for channel in dict.fromkeys(c for rule in rules for c in rule.channels):
            channel_rules = [rule for rule in rules if channel in rule.channels]
            if any(rule.mode == "each" for rule in channel_rules):
                each[channel].append(change)
            else:
                digest[channel].append(change)
                top[channel] = max(top[channel], *(rule.digest_top for rule in channel_rules))
    notices = [
        Notice(
            notice_id(channel, kind, day, c.item.discrepancy_id, c.generation),
            channel,
            kind,
            day,
            "each",
            items=(c.item,),
            total=1,
            total_minor=oracle_totals([c]),
            discrepancy_ids=(c.item.discrepancy_id,),
        )
        for channel, channel_changes in each.items()
        for c in channel_changes
    ]
    for channel, channel_changes in digest.items():
        largest = sorted(
            channel_changes, key=lambda c: (-(c.item.amount_minor or -1), c.item.discrepancy_id)
        )
        keys = sorted(f"{c.item.discrepancy_id}:{c.generation}" for c in channel_changes)
        notices.append(
            Notice(
                notice_id(channel, kind, day, *keys),
                channel,
                kind,
                day,
                "digest",
                items=tuple(c.item for c in largest[: top[channel]]),
                total=len(channel_changes),
                total_minor=oracle_totals(channel_changes),
                discrepancy_ids=tuple(c.item.discrepancy_id for c in largest),
            )
        )
    return notices


def oracle_totals(changes: list[Change]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for change in changes:
        if change.item.amount_minor is not None and change.item.currency:
            totals[change.item.currency] += change.item.amount_minor
    return dict(totals)


def shape(notice: Notice) -> tuple:
    # Totals with their order: the notices always listed currencies as first met.
    return (
        notice.notice_id,
        notice.channel,
        notice.kind,
        notice.mode,
        notice.items,
        notice.total,
        list(notice.total_minor.items()),
        notice.discrepancy_ids if notice.mode == "each" else (),
    )


# IDs that sort differently as keys ("a:1" vs "a-b:1"), a separator inside an ID, and text
# beyond ASCII, whose byte order must match Python's order of code points.
ids = st.text(alphabet="ab:-|0é\U0001f4b6", min_size=1, max_size=4)
amounts = st.one_of(st.none(), st.just(0), st.sampled_from([-2, 1, 3]), st.integers(0, 60_000))


@st.composite
def items(draw, discrepancy_id: str) -> Item:
    return Item(
        discrepancy_id,
        draw(st.sampled_from(TYPES)),
        draw(st.sampled_from(SEVERITIES)),
        draw(st.one_of(st.none(), st.just(f"chk_{discrepancy_id}"))),
        draw(amounts),
        draw(st.sampled_from([None, "", "EUR", "USD", "JPY"])),
    )


@st.composite
def changes(draw) -> list[Change]:
    keys = draw(st.lists(ids, unique=True, max_size=12))
    return [Change(draw(items(key)), draw(st.integers(1, 3))) for key in keys]


rules = st.fixed_dictionaries(
    {
        "channels": st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3),
        "types": st.lists(st.sampled_from(TYPES), max_size=2, unique=True),
        "severities": st.lists(st.sampled_from(SEVERITIES), max_size=2, unique=True),
        "min_amount_minor": st.sampled_from([0, 1, 3, 1_000, 50_000]),
        "mode": st.sampled_from(["digest", "each"]),
        "digest_top": st.integers(1, 4),
    }
)
configs = st.lists(rules, min_size=1, max_size=4).map(
    lambda drawn: AlertConfig.model_validate(
        {"channels": [{"name": n, "type": "console"} for n in CHANNELS], "rules": drawn}
    )
)

SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(changes=changes(), config=configs, kind=st.sampled_from(["new", "resolve"]))
def test_routing_matches_the_oracle(changes, config, kind):
    got = route(changes, kind, DAY, config)
    expected = oracle_route(sorted(changes, key=lambda c: c.item.discrepancy_id), kind, DAY, config)
    assert [shape(n) for n in got] == [shape(n) for n in expected]


def test_zero_and_no_amount_tie_by_id_in_every_cut_of_a_digest():
    # None and 0 rank alike (after every positive amount, before negative ones), ties by ID.
    amounts = [None, 0, -5, 7, 0, None, 7, -1]
    changes = [
        Change(Item(key, TYPES[0], "low", None, amount, "EUR"), 1)
        for key, amount in zip("hgfedcba", amounts, strict=True)
    ]
    for top in range(1, len(changes) + 1):
        config = AlertConfig.model_validate(
            {
                "channels": [{"name": "a", "type": "console"}],
                "rules": [{"channels": ["a"], "digest_top": top}],
            }
        )
        [got] = route(changes, "new", DAY, config)
        [expected] = oracle_route(
            sorted(changes, key=lambda c: c.item.discrepancy_id), "new", DAY, config
        )
        assert shape(got) == shape(expected)


# The lifecycle: a pool of discrepancies, and the partition's content over successive runs (a
# discrepancy may clear, come back with a new amount, and so on).
@st.composite
def histories(draw) -> list[list[Item]]:
    pool = draw(st.lists(ids, unique=True, min_size=1, max_size=15))
    runs = []
    for _ in range(draw(st.integers(1, 4))):
        present = draw(st.lists(st.sampled_from(pool), unique=True))
        runs.append([draw(items(key)) for key in present])
    return runs


def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        """
        create schema marts;
        create table marts.discrepancies (_partition_date date, discrepancy_id varchar,
            type varchar, severity varchar, checkout_id varchar, amount_minor bigint,
            currency varchar);
        create schema meta;
        create table meta.run_params (_partition_date date);
        """
    )
    con.execute("insert into meta.run_params values (?)", [DAY])
    return con


class OracleWarehouse:
    """The state, outbox and notice items as the per-row planner kept them."""

    def __init__(self) -> None:
        self.state: dict[str, list] = {}
        self.outbox: dict[str, tuple] = {}
        self.notice_items: set[tuple[str, str]] = set()

    def run(self, current: list[Item], config: AlertConfig, now: datetime) -> None:
        by_id = {item.discrepancy_id: item for item in current}
        new, resolved = [], []
        for discrepancy_id, item in sorted(by_id.items()):
            row = self.state.get(discrepancy_id)
            if row is None:
                new.append(Change(item, 1))
                self.state[discrepancy_id] = [
                    *(getattr(item, f) for f in ("type", "severity", "checkout_id")),
                    item.amount_minor,
                    item.currency,
                    "open",
                    1,
                    now,
                    None,
                ]
            elif row[5] == "resolved":
                new.append(Change(item, row[6] + 1))
                row[0], row[1], row[3], row[4] = (
                    item.type,
                    item.severity,
                    item.amount_minor,
                    (item.currency),
                )
                row[5], row[6], row[8] = "open", row[6] + 1, None
        for discrepancy_id, row in sorted(self.state.items()):
            if row[5] == "open" and discrepancy_id not in by_id:
                item = Item(discrepancy_id, row[0], row[1], row[2], row[3], row[4])
                resolved.append(Change(item, row[6]))
                row[5], row[8] = "resolved", now
        notices = oracle_route(new, "new", DAY, config) + oracle_route(
            resolved, "resolve", DAY, config
        )
        for notice in notices:
            if notice.notice_id in self.outbox:
                continue
            payload = Notice(**{**vars(notice), "discrepancy_ids": ()})
            if notice.mode == "each":
                payload = notice
            self.outbox[notice.notice_id] = (notice.channel, notice.kind, payload.to_json())
            self.notice_items |= {(notice.notice_id, d) for d in notice.discrepancy_ids}


@settings(
    max_examples=max(EXAMPLES // 2, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(history=histories(), config=configs)
def test_state_outbox_and_items_match_the_oracle_run_after_run(history, config):
    con = warehouse()
    ensure_alerts_schema(con)
    oracle = OracleWarehouse()
    for number, current in enumerate(history):
        now = NOW + timedelta(hours=number)
        con.execute("delete from marts.discrepancies")
        if current:
            con.executemany(
                "insert into marts.discrepancies values (?, ?, ?, ?, ?, ?, ?)",
                [[DAY, *vars(item).values()] for item in current],
            )
        plan = plan_partition(con, DAY, config)
        apply_plan(con, plan, now)
        oracle.run(current, config, now)

        state = con.execute(
            "select discrepancy_id, type, severity, checkout_id, amount_minor, currency, status, "
            "generation, first_seen_at, resolved_at from alerts.discrepancy_state "
            "where business_date = ?",
            [DAY],
        ).fetchall()
        assert sorted(state) == sorted((key, *row) for key, row in oracle.state.items())
        outbox = con.execute("select notice_id, channel, kind, payload from alerts.outbox")
        assert sorted(outbox.fetchall()) == sorted((k, *v) for k, v in oracle.outbox.items())
        notice_items = con.execute("select notice_id, discrepancy_id from alerts.notice_items")
        assert set(notice_items.fetchall()) == oracle.notice_items
