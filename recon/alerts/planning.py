"""Compare a partition's discrepancies with the alert state, route what changed to channels, and
enqueue the resulting notices in the outbox.

Set-based: the diff with the state, the routing rules and the state updates are SQL over the
whole partition, so a day of a million discrepancies costs a few joins, not a million Python
objects. Python builds only the notices: one per discrepancy for `each` rules (few by design:
paging), and per channel and kind one digest holding its `digest_top` largest items, its count
and totals. Which discrepancies a digest covers is recorded in `alerts.notice_items`, not in its
payload."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from recon.alerts.cases import decided_cases_sql, escalations_sql, record_escalations, sla_table
from recon.alerts.config import AlertConfig
from recon.alerts.notices import (
    ITEM_FIELDS,
    ITEM_SCHEMA,
    CheckFailure,
    Discrepancies,
    Item,
    Notice,
    largest_first,
    notice_id,
)
from recon.alerts.schema import alerts_schema_exists
from recon.warehouse import is_reconciled, registered, transaction

# A change: its kind ("new", "resolve", or "escalate" for a case open past its SLA), the item,
# the generation it is announced under (for an escalation: the event that opened the case, see
# recon/alerts/cases.py), for a new one whether it reopens a state row (it was open before and
# had cleared), and its row number in the table (what the routes refer to).
CHANGES_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        *ITEM_SCHEMA,
        ("generation", pa.int32()),
        ("reopened", pa.bool_()),
        ("row", pa.int64()),
    ]
)

# One row per (rule, channel) in config order, so `pos` orders the channels of a discrepancy as
# the config lists them. `shared`: the channel has other rules too (they combine per channel).
RULES_SCHEMA = pa.schema(
    [
        ("pos", pa.int32()),
        ("channel_no", pa.int32()),
        ("shared", pa.bool_()),
        ("types", pa.list_(pa.string())),
        ("severities", pa.list_(pa.string())),
        ("min_amount_minor", pa.int64()),
        ("each", pa.bool_()),
        ("digest_top", pa.int32()),
    ]
)

# Which change goes to which channel, and how: `each` (a per-discrepancy notice) or in the
# channel's digest of its kind, listing the `top` largest.
ROUTES_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("channel_no", pa.int32()),
        ("pos", pa.int32()),
        ("each", pa.bool_()),
        ("top", pa.int32()),
    ]
)


@dataclass(frozen=True)
class Change:
    item: Item
    generation: int


@dataclass
class Plan:
    business_date: date
    changes: pa.Table = field(default_factory=CHANGES_SCHEMA.empty_table)
    routes: pa.Table = field(default_factory=ROUTES_SCHEMA.empty_table)
    channels: list[str] = field(default_factory=list)  # by channel_no
    notices: list[Notice] = field(default_factory=list)

    @cached_property
    def new(self) -> Discrepancies:
        return Discrepancies(self._of_kind("new"))

    @cached_property
    def resolved(self) -> Discrepancies:
        return Discrepancies(self._of_kind("resolve"))

    @cached_property
    def escalated(self) -> Discrepancies:
        return Discrepancies(self._of_kind("escalate"))

    def _of_kind(self, kind: str) -> pa.Table:
        mask = pc.equal(self.changes.column("kind"), kind)
        if pc.all(mask).as_py() is not False:  # all of them (or none at all): no copy
            return self.changes
        return self.changes.filter(mask)


class PartitionNotReconciled(LookupError):
    pass


def _require_reconciled(con: duckdb.DuckDBPyConnection, day: date) -> None:
    # Planning an empty, never-built partition would "resolve" every open discrepancy of it.
    if not is_reconciled(con, day):
        raise PartitionNotReconciled(f"partition {day} has not been reconciled in this warehouse")


_NO_STATE = (
    "select null::varchar as discrepancy_id, null::varchar as type, null::varchar as severity, "
    "null::varchar as checkout_id, null::bigint as amount_minor, null::varchar as currency, "
    "null::varchar as status, null::integer as generation where false"
)


def _changes(con: duckdb.DuckDBPyConnection, day: date) -> pa.Table:
    """The diff of the partition with its alert state: first seen (generation 1), back after
    clearing (generation + 1, `reopened`), and open ones no longer there (resolve). A new one
    whose case is acknowledged or resolved is left out (and so stays unnotified until its case
    is open again)."""
    # A dry run before the first real run finds no schema: nothing has been notified yet.
    state = (
        "select discrepancy_id, type, severity, checkout_id, amount_minor, currency, status, "
        "generation from alerts.discrepancy_state where business_date = $day"
        if alerts_schema_exists(con)
        else _NO_STATE
    )
    changes = con.sql(
        f"""
        with current_ as (
            select discrepancy_id, type, severity, checkout_id, amount_minor, currency
            from marts.discrepancies where _partition_date = $day
        ),
        state as ({state}),
        decided as ({decided_cases_sql(con, "select discrepancy_id from current_")})
        select 'new' as kind, c.discrepancy_id, c.type, c.severity, c.checkout_id,
               c.amount_minor, c.currency,
               coalesce(s.generation + 1, 1)::integer as generation,
               s.discrepancy_id is not null as reopened
        from current_ c left join state s on s.discrepancy_id = c.discrepancy_id
        where (s.discrepancy_id is null or s.status = 'resolved')
          and not exists (select 1 from decided d where d.case_id = c.discrepancy_id)
        union all
        select 'resolve', s.discrepancy_id, s.type, s.severity, s.checkout_id, s.amount_minor,
               s.currency, s.generation::integer, false
        from state s
        where s.status = 'open'
          and not exists (select 1 from current_ c where c.discrepancy_id = s.discrepancy_id)
        """,
        params={"day": day},
    ).to_arrow_table()
    return changes.cast(CHANGES_SCHEMA.remove(CHANGES_SCHEMA.get_field_index("row")))


def _escalations(con: duckdb.DuckDBPyConnection, config: AlertConfig, now: datetime) -> pa.Table:
    query = escalations_sql(con, config)
    columns = CHANGES_SCHEMA.remove(CHANGES_SCHEMA.get_field_index("row"))
    if query is None:
        return columns.empty_table()
    with registered(con, _alert_sla=sla_table(config)):
        return con.sql(query, params={"now": now}).to_arrow_table().cast(columns)


def _positions(count: int) -> pa.Array:
    """0, 1, ..., count - 1: each change's row number in its table."""
    ones = pc.fill_null(pa.nulls(count, pa.int64()), 1)
    return pc.subtract(pc.cumulative_sum(ones), 1)


def plan_partition(
    con: duckdb.DuckDBPyConnection, day: date, config: AlertConfig, now: datetime | None = None
) -> Plan:
    """Read-only: what changed in partition `day` since the last run, the cases (of any
    partition) open past their SLA at `now`, and the notices for them."""
    _require_reconciled(con, day)
    changes = pa.concat_tables(
        [_changes(con, day), _escalations(con, config, now or datetime.now(UTC))]
    )
    changes = changes.append_column("row", _positions(changes.num_rows))
    return _plan(con, changes.combine_chunks(), day, config)


def _rules(config: AlertConfig) -> tuple[pa.Table, list[str]]:
    pairs = [(rule, channel) for rule in config.rules for channel in dict.fromkeys(rule.channels)]
    channels = list(dict.fromkeys(channel for _rule, channel in pairs))
    rules_of = {name: sum(1 for _rule, channel in pairs if channel == name) for name in channels}
    rows = [
        {
            "pos": pos,
            "channel_no": channels.index(channel),
            "shared": rules_of[channel] > 1,
            "types": list(rule.types),
            "severities": list(rule.severities),
            "min_amount_minor": rule.min_amount_minor,
            "each": rule.mode == "each",
            "digest_top": rule.digest_top,
        }
        for pos, (rule, channel) in enumerate(pairs)
    ]
    return pa.Table.from_pylist(rows, schema=RULES_SCHEMA), channels


_MATCHES = """
    (len(r.types) = 0 or list_contains(r.types, c.type))
    and (len(r.severities) = 0 or list_contains(r.severities, c.severity))
    -- No amount (a reservation, an analytics event) only passes a rule without a minimum.
    and (r.min_amount_minor = 0 or coalesce(c.amount_minor, 0) >= r.min_amount_minor)
"""

# Per change and channel: the first matching rule's position, whether a per-discrepancy rule
# matched (it wins over a digest, so a critical discrepancy is never buried in one), and the
# largest `digest_top` of the matching rules. A channel with one rule needs no grouping.
_ROUTES = f"""
select c.row, r.channel_no, r.pos, r.each, r.digest_top as top
from _alert_changes c join _alert_rules r on {_MATCHES}
where not r.shared
union all
select c.row, r.channel_no, min(r.pos), bool_or(r.each), max(r.digest_top)
from _alert_changes c join _alert_rules r on {_MATCHES}
where r.shared
group by c.row, r.channel_no
"""


def _plan(
    con: duckdb.DuckDBPyConnection, changes: pa.Table, day: date, config: AlertConfig
) -> Plan:
    rules, channels = _rules(config)
    with registered(con, _alert_changes=changes, _alert_rules=rules):
        routes = con.sql(_ROUTES).to_arrow_table().cast(ROUTES_SCHEMA)
    plan = Plan(day, changes, routes, channels)
    if routes.num_rows == 0:
        return plan
    max_top = max(rule.digest_top for rule in config.rules)
    with registered(con, _alert_changes=changes, _alert_routes=routes):
        notices = _each_notices(con, plan) + _digests(con, plan, max_top)
    # New before resolve, per-discrepancy notices before digests, and the channels in the order
    # they are first routed to: by the first discrepancy (in ID order) each gets, then by the
    # config order for that discrepancy.
    notices.sort(key=lambda pair: pair[0])
    plan.notices = [notice for _key, notice in notices]
    return plan


_ITEM_COLUMNS = ", ".join(f"c.{name}" for name in ITEM_FIELDS)


def _each_notices(con: duckdb.DuckDBPyConnection, plan: Plan) -> list[tuple[tuple, Notice]]:
    rows = con.execute(
        f"""
        select c.kind, r.channel_no, r.pos, c.generation, {_ITEM_COLUMNS}
        from _alert_routes r join _alert_changes c on c.row = r.row
        where r.each
        """
    ).fetchall()
    first: dict[tuple[str, int], tuple[str, int]] = {}
    for kind, channel_no, pos, _generation, discrepancy_id, *_rest in rows:
        first[kind, channel_no] = min(
            first.get((kind, channel_no), (discrepancy_id, pos)), (discrepancy_id, pos)
        )
    notices = []
    day = plan.business_date
    for kind, channel_no, _pos, generation, *columns in rows:
        item = Item(*columns)
        channel = plan.channels[channel_no]
        notice = Notice(
            notice_id=notice_id(channel, kind, day, item.discrepancy_id, generation),
            channel=channel,
            kind=kind,
            business_date=day,
            mode="each",
            items=(item,),
            total=1,
            total_minor=_totals([item]),
            discrepancy_ids=(item.discrepancy_id,),
        )
        notices.append(((kind, 0, *first[kind, channel_no], item.discrepancy_id), notice))
    return notices


def _totals(items: Iterable[Item]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for item in items:
        if item.amount_minor is not None and item.currency:
            totals[item.currency] = totals.get(item.currency, 0) + item.amount_minor
    return totals


def _digests(
    con: duckdb.DuckDBPyConnection, plan: Plan, max_top: int
) -> list[tuple[tuple, Notice]]:
    # Per channel and kind: the count, the first discrepancy (for the notice order) and the
    # `max_top` largest as candidates for the listed items.
    summaries = con.execute(
        """
        select c.kind, r.channel_no, count(*) as total, max(r.top) as top,
               min(c.discrepancy_id) as first_id,
               arg_min(r.pos, c.discrepancy_id) as first_pos,
               min_by(c.row, {'amount': -coalesce(nullif(c.amount_minor, 0), -1),
                              'id': c.discrepancy_id}, $top) as largest
        from _alert_routes r join _alert_changes c on c.row = r.row
        where not r.each
        group by c.kind, r.channel_no
        """,
        {"top": max_top},
    ).fetchall()
    if not summaries:
        return []
    totals: dict[tuple[str, int], dict[str, int]] = {}
    for kind, channel_no, currency, minor in con.execute(
        """
        select c.kind, r.channel_no, c.currency, sum(c.amount_minor)
        from _alert_routes r join _alert_changes c on c.row = r.row
        where not r.each and c.amount_minor is not null and c.currency <> ''
        group by c.kind, r.channel_no, c.currency
        -- Currencies as they first appear in discrepancy ID order, as the notices always had.
        order by min(c.discrepancy_id)
        """
    ).fetchall():
        totals.setdefault((kind, channel_no), {})[currency] = int(minor)
    ids = _digest_ids(con, plan, [(kind, channel_no) for kind, channel_no, *_ in summaries])
    day = plan.business_date
    notices = []
    for kind, channel_no, total, top, first_id, first_pos, largest in summaries:
        items = sorted(_items(plan.changes, largest), key=largest_first)[:top]
        notice = Notice(
            notice_id=ids[kind, channel_no],
            channel=plan.channels[channel_no],
            kind=kind,
            business_date=day,
            mode="digest",
            items=tuple(items),
            total=total,
            total_minor=totals.get((kind, channel_no), {}),
        )
        notices.append(((kind, 1, first_id, first_pos, ""), notice))
    return notices


def _items(changes: pa.Table, rows: list[int]) -> list[Item]:
    return list(Discrepancies(changes.take(rows), ordered=True))


def _digest_ids(
    con: duckdb.DuckDBPyConnection, plan: Plan, digests: list[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """A digest's notice ID hashes its sorted `discrepancy_id:generation` keys exactly as
    `notice_id(channel, kind, day, *sorted(keys))` does, so outboxes stay valid. The keys are
    sorted once for all digests and streamed into the hash, never a Python string each."""
    ordered = con.sql(
        "select row, discrepancy_id || ':' || generation || '|' as key from _alert_changes "
        "order by discrepancy_id || ':' || generation"
    ).to_arrow_table()
    rows = ordered.column("row").combine_chunks()
    keys = ordered.column("key").cast(pa.string()).combine_chunks()
    routes = plan.routes.filter(pc.invert(plan.routes.column("each"))).combine_chunks()
    routed = routes.column("row").combine_chunks()
    kinds = plan.changes.column("kind").take(routed).combine_chunks()
    ids = {}
    for kind, channel_no in digests:
        mine = pc.and_(pc.equal(routes.column("channel_no"), channel_no), pc.equal(kinds, kind))
        covered = pc.is_in(rows, value_set=routed.filter(mine))
        digest = hashlib.sha256(
            f"{plan.channels[channel_no]}|{kind}|{plan.business_date}|".encode()
        )
        digest.update(_joined(keys.filter(covered)))
        ids[kind, channel_no] = digest.hexdigest()[:32]
    return ids


def _joined(keys: pa.StringArray) -> memoryview:
    """The keys as one buffer, read in place: each ends in '|', so drop the last one."""
    _validity, offsets, data = keys.buffers()
    first, last = keys.offset, keys.offset + len(keys)
    bounds = memoryview(offsets)[: (last + 1) * 4].cast("i")  # int32 offsets
    return memoryview(data)[bounds[first] : bounds[last] - 1]


def route(changes: Iterable[Change], kind: str, day: date, config: AlertConfig) -> list[Notice]:
    """The notices for a handful of changes of one kind, routed in memory the way the planner
    routes a partition in the warehouse."""
    rows = [
        {**vars(change.item), "kind": kind, "generation": change.generation, "reopened": False}
        for change in changes
    ]
    table = pa.Table.from_pylist(
        [{**row, "row": number} for number, row in enumerate(rows)], schema=CHANGES_SCHEMA
    )
    with duckdb.connect() as con:
        return _plan(con, table, day, config).notices


def check_failure_notices(
    day: date, failures: list[tuple[str, str]], config: AlertConfig
) -> list[Notice]:
    checks = tuple(CheckFailure(name, description) for name, description in sorted(failures))
    if not checks:
        return []
    channels = dict.fromkeys(
        c for rule in config.rules if rule.check_failures for c in rule.channels
    )
    return [
        Notice(
            notice_id=notice_id(channel, "check_failed", day, *(c.name for c in checks)),
            channel=channel,
            kind="check_failed",
            business_date=day,
            mode="digest",
            checks=checks,
        )
        for channel in channels
    ]


_DIGESTS_SCHEMA = pa.schema(
    [("kind", pa.string()), ("channel_no", pa.int32()), ("notice_id", pa.string())]
)


def apply_plan(con: duckdb.DuckDBPyConnection, plan: Plan, now: datetime) -> None:
    """Record the state changes and enqueue the notices in one transaction: a crash leaves either
    both or neither, so a discrepancy is never marked open without its notice queued."""
    day = plan.business_date
    digests = pa.Table.from_pylist(
        [
            {"kind": n.kind, "channel_no": plan.channels.index(n.channel), "notice_id": n.notice_id}
            for n in plan.notices
            if n.mode == "digest"
        ],
        schema=_DIGESTS_SCHEMA,
    )
    with (
        transaction(con),
        registered(
            con, _alert_changes=plan.changes, _alert_routes=plan.routes, _alert_digests=digests
        ),
    ):
        con.execute(
            """
                insert into alerts.discrepancy_state (business_date, discrepancy_id, type,
                    severity, checkout_id, amount_minor, currency, status, generation,
                    first_seen_at)
                select $day, discrepancy_id, type, severity, checkout_id, amount_minor, currency,
                       'open', generation, $now
                from _alert_changes where kind = 'new' and not reopened
                """,
            {"day": day, "now": now},
        )
        # The checkout stays as first seen; the rest is what the discrepancy is now.
        con.execute(
            """
                update alerts.discrepancy_state s
                set status = 'open', generation = c.generation, resolved_at = null,
                    type = c.type, severity = c.severity, amount_minor = c.amount_minor,
                    currency = c.currency
                from _alert_changes c
                where c.kind = 'new' and c.reopened
                  and s.business_date = $day and s.discrepancy_id = c.discrepancy_id
                """,
            {"day": day},
        )
        con.execute(
            """
                update alerts.discrepancy_state set status = 'resolved', resolved_at = $now
                where business_date = $day and discrepancy_id in
                    (select discrepancy_id from _alert_changes where kind = 'resolve')
                """,
            {"day": day, "now": now},
        )
        record_escalations(con, day, now)
        _enqueue(
            con,
            plan.notices,
            now,
            covered="""
                    select d.notice_id, c.discrepancy_id
                    from _alert_routes r
                    join _alert_changes c on c.row = r.row
                    join _alert_digests d on d.kind = c.kind and d.channel_no = r.channel_no
                    where not r.each
                """,
        )


def enqueue(con: duckdb.DuckDBPyConnection, notices: list[Notice], now: datetime) -> int:
    """Insert notices not already in the outbox, each with the discrepancies in its
    `discrepancy_ids` as `alerts.notice_items`; returns how many were new."""
    return _enqueue(con, notices, now)


_OUTBOX_SCHEMA = pa.schema(
    [
        ("notice_id", pa.string()),
        ("channel", pa.string()),
        ("kind", pa.string()),
        ("business_date", pa.date32()),
        ("payload", pa.string()),
    ]
)
_NOTICE_ITEMS_SCHEMA = pa.schema([("notice_id", pa.string()), ("discrepancy_id", pa.string())])


def _enqueue(
    con: duckdb.DuckDBPyConnection,
    notices: list[Notice],
    now: datetime,
    covered: str | None = None,
) -> int:
    """Set-based and idempotent: a notice already in the outbox (a rerun) is left alone, and so
    are its items. `covered` is SQL giving (notice_id, discrepancy_id) rows for the notices
    whose coverage is not in `discrepancy_ids` (digests)."""
    unique: dict[str, Notice] = {}
    for notice in notices:
        unique.setdefault(notice.notice_id, notice)
    if not unique:
        return 0
    known = {
        row[0]
        for row in con.execute(
            "select notice_id from alerts.outbox where notice_id in (select unnest($ids))",
            {"ids": list(unique)},
        ).fetchall()
    }
    fresh = [notice for key, notice in unique.items() if key not in known]
    if not fresh:
        return 0
    outbox = pa.Table.from_pylist(
        [
            {
                "notice_id": n.notice_id,
                "channel": n.channel,
                "kind": n.kind,
                "business_date": n.business_date,
                "payload": n.to_json(),
            }
            for n in fresh
        ],
        schema=_OUTBOX_SCHEMA,
    )
    listed = pa.Table.from_pylist(
        [
            {"notice_id": n.notice_id, "discrepancy_id": discrepancy_id}
            for n in fresh
            for discrepancy_id in dict.fromkeys(n.discrepancy_ids)
        ],
        schema=_NOTICE_ITEMS_SCHEMA,
    )
    with registered(con, _alert_fresh=outbox, _alert_listed=listed):
        con.execute(
            "insert into alerts.outbox (notice_id, channel, kind, business_date, payload, "
            "created_at, next_attempt_at) "
            "select notice_id, channel, kind, business_date, payload, $now, $now "
            "from _alert_fresh",
            {"now": now},
        )
        con.execute(
            "insert into alerts.notice_items (notice_id, discrepancy_id) "
            "select notice_id, discrepancy_id from _alert_listed"
        )
        if covered is not None:
            con.execute(
                "insert into alerts.notice_items (notice_id, discrepancy_id) "
                f"select notice_id, discrepancy_id from ({covered}) "
                "where notice_id in (select notice_id from _alert_fresh)"
            )
    return len(fresh)
