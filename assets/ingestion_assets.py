"""One ingestion asset per landing source: `<landing>/<source>/<date>/` → `raw.<source>`."""

import time
from datetime import date

import dagster as dg

from assets.resources import Engine, ReconConfig, Warehouse
from checks.invariants import rows_conserved, rows_conserved_spec
from checks.landing import (
    contract_result,
    fresh_result,
    has_late_columns,
    keys_result,
    landing_check_specs,
    late_result,
)
from recon.contract import SOURCES, Source, source_in_use
from recon.contract_suites import validate_contract
from recon.ingest import IngestReport, ingest_source
from recon.landing import unrecognised_warning
from recon.spark import ingest as spark_ingest
from recon.spark.checks import landing_facts
from recon.warehouse import claim


def _file_table(report: IngestReport) -> str:
    lines = [
        "| file | landing date | format | read | loaded | quarantined |",
        "|---|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {f.file} | {f.landing_date} | {f.file_format} | {f.rows_read} | {f.rows_loaded} "
        f"| {f.rows_quarantined} |"
        for f in report.files
    ]
    return "\n".join(lines)


def _no_files(source: Source, day: date, report: IngestReport) -> str:
    message = f"no landing files for {source.name} around {day}"
    if report.unrecognised:
        message += " (only files of no accepted kind: see the warning above)"
    return message


def ingest_metadata(report: IngestReport) -> dict:
    return {
        "files": len(report.files),
        "rows_read": report.rows_read,
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
        "quarantine_reasons": dict(sorted(report.reasons.items())),
        "unrecognised_files": [f.shown for f in report.unrecognised],
        "file_counts": dg.MetadataValue.md(_file_table(report)),
        "dagster/row_count": report.rows_loaded,
    }


def _ingestion_asset(
    source: Source, partitions_def: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", source.name])

    @dg.asset(
        key=key,
        check_specs=[rows_conserved_spec(key), *landing_check_specs(key, source)],
        group_name="ingestion",
        partitions_def=partitions_def,
        pool="duckdb",
        kinds={"duckdb"},
        description=(
            f"Landing files of `{source.name}` for the partition's window, validated against the "
            f"contract into `{source.table}`; bad rows go to `raw.quarantine` with their reason."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: Warehouse, recon: ReconConfig, engine: Engine
    ) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        with warehouse.session() as con:
            claim(con, engine.kind)
            where = (source, recon.landing, day, recon.lookback_days)
            how = {"progress": context.log.info, "services": recon.services}
            adapter = recon.adapters.get(source.name)
            if engine.is_spark:
                if adapter is not None:
                    # Settings refuse this too; a config built by hand might not.
                    raise ValueError(
                        f"{source.name}: adapter {adapter} configured, but the spark engine "
                        "reads no provider exports: run with the duckdb engine"
                    )
                report = spark_ingest.ingest_source(engine.spark_tables(), con, *where, **how)
            else:
                report = ingest_source(
                    con, *where, **how, read_in_place=recon.read_in_place, adapter=adapter
                )
            checks_started = time.perf_counter()
            if engine.is_spark:
                facts = landing_facts(engine.spark_tables(), source, day, recon.lookback_days)
                stored, contract = facts.stored_per_file, facts.contract
                keys = (facts.rows, facts.keys_breaking_rule)
            else:
                stored = None  # rows_conserved counts raw.<source>
                contract = validate_contract(con, source, day, recon.lookback_days, report.summary)
                keys = (report.summary.rows, report.summary.keys_breaking_rule)
            checks = [
                rows_conserved(con, key, source.name, day, stored),
                contract_result(key, contract),
                fresh_result(con, key, source, day, report.unrecognised, recon.landing),
            ]
            if has_late_columns(source):
                checks.append(late_result(key, contract))
            if "idempotency_key" in source.column_names:
                checks.append(keys_result(key, *keys, recon.idempotency_warn_rate))
            check_seconds = time.perf_counter() - checks_started
        if report.unrecognised:
            context.log.warning(unrecognised_warning(source.name, report.unrecognised))
        if not report.files and source_in_use(source, recon.landing):
            context.log.warning(_no_files(source, day, report))
        metadata = {**ingest_metadata(report), "check_seconds": check_seconds}
        return dg.MaterializeResult(metadata=metadata, check_results=checks)

    return _asset


def ingestion_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [_ingestion_asset(source, partitions_def) for source in SOURCES.values()]
