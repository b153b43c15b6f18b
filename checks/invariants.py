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


# Checks evaluated inside a model's own asset, keyed by the model's table.
MODEL_CHECKS = {
    "marts.discrepancies": (discrepancy_ids_unique_spec, discrepancy_ids_unique),
    "marts.revenue_bridge": (bridge_closes_spec, bridge_closes),
}
