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
