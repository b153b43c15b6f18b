"""Checks on each source's freshly loaded partition: its contract (Great Expectations), that the
day's export arrived at all, and how many idempotency keys break the `{checkout_id}:{step}` rule."""

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from recon.contract import Kind, Source, source_in_use
from recon.contract_suites import ContractResult, Failure
from recon.landing import ACCEPTED, UnrecognisedFile
from recon.profile import WINDOW_CHECKED

CONTRACT = "contract"
FRESH = "export_arrived"
KEYS = "idempotency_keys"
LATE = "late_beyond_window"


def landing_check_specs(asset_key: dg.AssetKey, source: Source) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            CONTRACT,
            asset=asset_key,
            blocking=True,
            description=(
                "Great Expectations suite of the data contract (docs/contract.md): columns, keys "
                "not null, enums, amounts, currencies, each row's own instant inside the read "
                "window and no server instant after it."
            ),
        ),
    ]
    if has_late_columns(source):
        specs.append(
            dg.AssetCheckSpec(
                LATE,
                asset=asset_key,
                description=(
                    "Rows about records older than the read window (an order cancelled today "
                    "that was created two weeks ago): their checkouts belong to dates this window "
                    "does not cover. A warning naming them; rerun those dates with a larger "
                    "--lookback."
                ),
            )
        )
    specs += [
        dg.AssetCheckSpec(
            FRESH,
            asset=asset_key,
            blocking=True,
            description="The business date's own folder held rows: a missing export is not zero.",
        ),
    ]
    if "idempotency_key" in source.column_names:
        specs.append(
            dg.AssetCheckSpec(
                KEYS,
                asset=asset_key,
                description=(
                    "Share of rows whose idempotency key breaks {checkout_id}:{step}; a warning "
                    "above the threshold (unsafe retries are what the pipeline detects)."
                ),
            )
        )
    return specs


def _described(failures: list[Failure]) -> list[str]:
    return [
        f"{f.expectation} on {f.column}: {f.observed}"
        + (f"; e.g. {'; '.join(f.sample)}" if f.sample else "")
        for f in failures
    ]


def contract_result(asset_key: dg.AssetKey, result: ContractResult) -> dg.AssetCheckResult:
    """The check's result for a contract validated on either engine (`recon.contract_suites`)."""
    failures = _described(result.blocking)
    return dg.AssetCheckResult(
        check_name=CONTRACT,
        asset_key=asset_key,
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(failures[:3]) if failures else None,
        metadata={"rows": result.rows, "expectations": result.expectations, "failures": failures},
    )


def fresh_result(
    con: duckdb.DuckDBPyConnection,
    asset_key: dg.AssetKey,
    source: Source,
    day: date,
    unrecognised: Sequence[UnrecognisedFile] = (),
    landing: Path | None = None,
) -> dg.AssetCheckResult:
    """`unrecognised`: the files ingestion did not read (`IngestReport.unrecognised`); those of
    the day's own folder are named when no rows landed, as they are the likely export. An
    optional source with no folder under `landing` is not in use and passes; so does any day of
    a source that is not daily (payouts)."""
    if landing is not None and not source_in_use(source, landing):
        return dg.AssetCheckResult(
            check_name=FRESH,
            asset_key=asset_key,
            passed=True,
            description=f"not in use: the landing directory has no {source.name}/ folder",
            metadata={"in_use": False},
        )
    [(files, rows)] = con.execute(
        """
        select count(*), coalesce(sum(rows_read), 0) from meta.ingested_files
        where _partition_date = ? and source = ? and _landing_date = ?
        """,
        [day, source.name, day],
    ).fetchall()
    unread = [f.shown for f in unrecognised if f.landing_date == day]
    return dg.AssetCheckResult(
        check_name=FRESH,
        asset_key=asset_key,
        passed=rows > 0 or not source.daily,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if rows or not source.daily else _no_rows(source, day, files, unread),
        metadata={
            "files_for_the_day": int(files),
            "rows_for_the_day": int(rows),
            "unrecognised_files_for_the_day": unread,
        },
    )


def _no_rows(source: Source, day: date, files: int, unread: list[str]) -> str:
    message = f"no {source.name} rows landed in {source.name}/{day}/"
    if not unread:
        return message
    holds = "holds only" if files == 0 else "also holds"
    return (
        f"{message}: the folder {holds} files of no accepted kind, not read: {', '.join(unread)} "
        f"(accepted: {ACCEPTED})"
    )


def keys_result(
    asset_key: dg.AssetKey, rows: int, broken: int, warn_rate: float
) -> dg.AssetCheckResult:
    """`broken` of `rows` break the key rule: counted by ingestion on its way (DuckDB), by Spark,
    or afterwards (`contracts.idempotency_key_rate`)."""
    rate = broken / rows if rows else 0.0
    return dg.AssetCheckResult(
        check_name=KEYS,
        asset_key=asset_key,
        passed=rate <= warn_rate,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rows": rows,
            "keys_breaking_rule": broken,
            "rate": rate,
            "warn_above": warn_rate,
        },
    )


def has_late_columns(source: Source) -> bool:
    """Whether the source has server instants besides its landing time (an order's created_at):
    only those can be late news of an earlier date."""
    return any(
        c.kind is Kind.TIMESTAMP and c.name in WINDOW_CHECKED and c.name != source.landing_time
        for c in source.columns
    )


def late_result(asset_key: dg.AssetKey, result: ContractResult) -> dg.AssetCheckResult:
    """The contract's late rows (`Failure.late`) as a warning: the day is reconciled, and the
    operator learns which records the window could not place."""
    late = _described(result.late)
    return dg.AssetCheckResult(
        check_name=LATE,
        asset_key=asset_key,
        passed=not late,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{'; '.join(late[:3])}: rerun the dates of these records with a larger --lookback"
            if late
            else None
        ),
        metadata={"late": late},
    )
