"""Reconciliation invariants evaluated in SQL on the partition just written."""

from datetime import date

import dagster as dg
import duckdb

ROWS_CONSERVED = "rows_conserved"
DISCREPANCY_IDS_UNIQUE = "discrepancy_ids_unique"


def rows_conserved_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        ROWS_CONSERVED,
        asset=asset_key,
        blocking=True,
        description="For every file: rows read = rows loaded + rows quarantined.",
    )


def rows_conserved(
    con: duckdb.DuckDBPyConnection, asset_key: dg.AssetKey, source: str, day: date
) -> dg.AssetCheckResult:
    """Compares the file ledger with what actually sits in the tables, per file."""
    broken = con.execute(
        f"""
        with loaded as (
            select _source_file, count(*) as n from raw.{source}
            where _partition_date = $day group by _source_file
        ),
        quarantined as (
            select _source_file, count(*) as n from raw.quarantine
            where _partition_date = $day and source = $source group by _source_file
        )
        select
            files._source_file, files.rows_read,
            coalesce(loaded.n, 0), coalesce(quarantined.n, 0)
        from meta.ingested_files as files
        left join loaded using (_source_file)
        left join quarantined using (_source_file)
        where files._partition_date = $day and files.source = $source
          and files.rows_read <> coalesce(loaded.n, 0) + coalesce(quarantined.n, 0)
        """,
        {"day": day, "source": source},
    ).fetchall()
    return dg.AssetCheckResult(
        check_name=ROWS_CONSERVED,
        asset_key=asset_key,
        passed=not broken,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "files_not_conserved": [
                f"{f}: read {r}, loaded {lo}, quarantined {q}" for f, r, lo, q in broken
            ]
        },
    )


def discrepancy_ids_unique_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        DISCREPANCY_IDS_UNIQUE,
        asset=asset_key,
        blocking=True,
        description="Each discrepancy_id appears once: alerts and resolutions key on it.",
    )


def discrepancy_ids_unique(
    con: duckdb.DuckDBPyConnection, asset_key: dg.AssetKey, day: date
) -> dg.AssetCheckResult:
    repeated = con.execute(
        """
        select discrepancy_id, count(*) from marts.discrepancies
        where _partition_date = ? group by discrepancy_id having count(*) > 1 limit 20
        """,
        [day],
    ).fetchall()
    return dg.AssetCheckResult(
        check_name=DISCREPANCY_IDS_UNIQUE,
        asset_key=asset_key,
        passed=not repeated,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"repeated_ids": [f"{i} x{n}" for i, n in repeated]},
    )


BRIDGE_CLOSES = "bridge_closes"


def bridge_closes_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        BRIDGE_CLOSES,
        asset=asset_key,
        blocking=True,
        description=(
            "Per currency, every total of the revenue bridge equals the previous total plus the "
            "steps between, and the client-reported, ordered, gross and net totals equal the same "
            "sums computed straight from staging."
        ),
    )


def bridge_closes(
    con: duckdb.DuckDBPyConnection, asset_key: dg.AssetKey, day: date
) -> dg.AssetCheckResult:
    problems = [f"{c} {line}: {why}" for c, line, why in _bridge_problems(con, day)]
    return dg.AssetCheckResult(
        check_name=BRIDGE_CLOSES,
        asset_key=asset_key,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"problems": problems[:50]},
    )


def _bridge_problems(con: duckdb.DuckDBPyConnection, day: date) -> list[tuple[str, str, str]]:
    lines = con.execute(
        "select currency, line, kind, amount_minor from marts.revenue_bridge "
        "where _partition_date = ? order by currency, line_no",
        [day],
    ).fetchall()
    expected = _independent_totals(con, day)
    problems = []
    running: dict[str, int] = {}
    for currency, line, kind, amount in lines:
        if kind == "step":
            running[currency] = running.get(currency, 0) + amount
            continue
        if currency in running and running[currency] != amount:
            problems.append((currency, line, f"steps reach {running[currency]}, total is {amount}"))
        want = expected.get((currency, line))
        if want is not None and want != amount:
            problems.append((currency, line, f"staging says {want}, bridge says {amount}"))
        running[currency] = amount
    return problems


def _independent_totals(con: duckdb.DuckDBPyConnection, day: date) -> dict[tuple[str, str], int]:
    """The bridge's anchor totals recomputed from staging, without the bridge's own models."""
    rows = con.execute(
        """
        with checkouts as (
            select checkout_id from intermediate.int_checkout_spine
            where _partition_date = $day and business_date = $day
        ),
        client as (
            select e.currency, 'client_reported' as line, sum(e.revenue_minor) as amount
            from staging.stg_analytics_events e join checkouts using (checkout_id)
            where e._partition_date = $day and e.event_name = 'checkout_completed'
            group by e.currency
        ),
        ordered as (
            select o.currency, 'ordered', sum(o.total_minor)
            from staging.stg_orders o join checkouts using (checkout_id)
            where o._partition_date = $day and o.status = 'placed'
            group by o.currency
        ),
        payments as (
            select
                p.currency,
                sum(case when p.kind = 'capture' then p.amount_minor else 0 end) as captured,
                sum(case when p.kind = 'refund' then p.amount_minor else 0 end) as refunded
            from staging.stg_payments p join checkouts using (checkout_id)
            where p._partition_date = $day and p.status = 'succeeded'
            group by p.currency
        )
        select * from client
        union all select * from ordered
        union all select currency, 'gross_revenue', captured from payments
        union all select currency, 'net_revenue', captured - refunded from payments
        """,
        {"day": day},
    ).fetchall()
    return {(currency, line): int(amount) for currency, line, amount in rows}


CHECKOUTS_TRACED = "checkouts_traced"


def checkouts_traced_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECKOUTS_TRACED,
        asset=asset_key,
        blocking=True,
        description=(
            "The spine holds each checkout of the loaded raw rows exactly once: none lost or "
            "doubled between layers, none invented."
        ),
    )


def checkouts_traced(
    con: duckdb.DuckDBPyConnection, asset_key: dg.AssetKey, day: date
) -> dg.AssetCheckResult:
    [(raw, spine, distinct_spine, lost, invented)] = con.execute(
        """
        with raw_ids as (
            select checkout_id from raw.orders where _partition_date = $day
            union select checkout_id from raw.payments where _partition_date = $day
            union select checkout_id from raw.inventory_moves where _partition_date = $day
            union select checkout_id from raw.fulfillments where _partition_date = $day
            union select checkout_id from raw.analytics_events
            where _partition_date = $day and nullif(trim(checkout_id), '') is not null
        ),
        spine as (
            select checkout_id, count(*) as rows_of_checkout
            from intermediate.int_checkout_spine
            where _partition_date = $day
            group by checkout_id
        )
        -- One outer join counts all five (two anti-joins and a distinct count, each over every
        -- checkout, took 19 s at 10M checkouts).
        select
            count(raw_ids.checkout_id),
            coalesce(sum(spine.rows_of_checkout), 0),
            count(spine.checkout_id),
            count(*) filter (where spine.checkout_id is null),
            count(*) filter (where raw_ids.checkout_id is null)
        from raw_ids
        full outer join spine on raw_ids.checkout_id = spine.checkout_id
        """,
        {"day": day},
    ).fetchall()
    return dg.AssetCheckResult(
        check_name=CHECKOUTS_TRACED,
        asset_key=asset_key,
        passed=raw == spine == distinct_spine and lost == invented == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "raw_checkouts": raw,
            "spine_rows": spine,
            "spine_checkouts": distinct_spine,
            "lost": lost,
            "invented": invented,
        },
    )


MONEY_CONSERVED = "money_conserved"


def money_conserved_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        MONEY_CONSERVED,
        asset=asset_key,
        blocking=True,
        description="Per currency, captures − refunds in the ledger equal the same sums in raw.",
    )


def money_conserved(
    con: duckdb.DuckDBPyConnection, asset_key: dg.AssetKey, day: date
) -> dg.AssetCheckResult:
    rows = con.execute(
        """
        with raw_payments as (
            -- one row per payment_id, as re-exports of a payment are the same money
            select distinct payment_id, upper(currency) as currency, lower(kind) as kind,
                amount_minor
            from raw.payments
            where _partition_date = $day and lower(status) = 'succeeded'
        ),
        raw_net as (
            select currency,
                sum(case when kind = 'capture' then amount_minor when kind = 'refund'
                    then -amount_minor else 0 end) as net
            from raw_payments group by currency
        ),
        ledger_net as (
            select currency, sum(captured_minor - refunded_minor) as net
            from intermediate.int_payment_ledger where _partition_date = $day
            group by currency
        )
        select coalesce(r.currency, l.currency), r.net, l.net
        from raw_net r full join ledger_net l on r.currency = l.currency
        where r.net is distinct from l.net
        """,
        {"day": day},
    ).fetchall()
    return dg.AssetCheckResult(
        check_name=MONEY_CONSERVED,
        asset_key=asset_key,
        passed=not rows,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"differences": [f"{c}: raw {r}, ledger {lo}" for c, r, lo in rows]},
    )


# Checks evaluated inside a model's own asset, keyed by the model's table.
MODEL_CHECKS = {
    "marts.discrepancies": [(discrepancy_ids_unique_spec, discrepancy_ids_unique)],
    "marts.revenue_bridge": [(bridge_closes_spec, bridge_closes)],
    "intermediate.int_checkout_spine": [(checkouts_traced_spec, checkouts_traced)],
    "intermediate.int_payment_ledger": [(money_conserved_spec, money_conserved)],
}
