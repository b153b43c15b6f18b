"""The stored SQL models as Dagster assets, plus `meta/run_params` which they read.

Dependencies come from the SQL (see `sql_models.discover`); nothing here declares them again. An
ephemeral model is no asset: it runs inside each asset that reads it, whose dependencies and code
version pass through it to what it reads."""

import hashlib
import time
from datetime import date

import dagster as dg
import duckdb

from assets.run_params import write_run_params
from assets.sql_models import (
    Model,
    Relations,
    discover,
    inlined_sql,
    materialize,
    stored_dependencies,
)
from checks.invariants import MODEL_CHECKS
from dbt_like_models import MODELS_DIR
from pipelines.resources import ReconConfig, Warehouse


def run_params_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=["meta", "run_params"],
        group_name="ingestion",
        partitions_def=partitions_def,
        pool="duckdb",
        kinds={"duckdb"},
        description="Settings this partition is reconciled with (lookback, TTL, SLA, tolerance).",
    )
    def run_params(
        context: dg.AssetExecutionContext, warehouse: Warehouse, recon: ReconConfig
    ) -> dg.MaterializeResult:
        params = recon.run_params
        with warehouse.session() as con:
            write_run_params(con, date.fromisoformat(context.partition_key), params)
        return dg.MaterializeResult(metadata=dict(vars(params)))

    return run_params


def _model_metadata(con: duckdb.DuckDBPyConnection, model: Model, day: date, rows: int) -> dict:
    metadata: dict = {"dagster/row_count": rows}
    columns = {r[0] for r in con.execute(f"describe {model.table}").fetchall()}
    if "source_rows" in columns:
        raw_rows = con.execute(
            f"select coalesce(sum(source_rows), 0) from {model.table} where _partition_date = ?",
            [day],
        ).fetchone()[0]
        metadata["raw_rows"] = int(raw_rows)
        metadata["rows_folded"] = int(raw_rows) - rows
    if model.table == "marts.discrepancies":
        metadata["by_type"] = dg.MetadataValue.md(discrepancy_summary_markdown(con, day))
    return metadata


def discrepancy_summary_markdown(con: duckdb.DuckDBPyConnection, day: date) -> str:
    rows = con.execute(
        """
        select type, severity, count(*), coalesce(sum(amount_minor), 0)
        from marts.discrepancies where _partition_date = ?
        group by type, severity order by count(*) desc, type
        """,
        [day],
    ).fetchall()
    lines = [
        "| type | severity | count | amount (minor units, all currencies) |",
        "|---|---|---:|---:|",
    ]
    lines += [f"| {t} | {s} | {n} | {a} |" for t, s, n, a in rows]
    return "\n".join(lines) if rows else "No discrepancies."


def _model_asset(
    model: Model, models: dict[str, Model], partitions_def: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    key = dg.AssetKey([model.layer, model.name])
    checks = MODEL_CHECKS.get(model.table, [])
    code = "\n".join([model.sql, *inlined_sql(model, models)])

    @dg.asset(
        key=key,
        check_specs=[spec(key) for spec, _ in checks] or None,
        deps=[dg.AssetKey(dep.split(".")) for dep in stored_dependencies(model, models)],
        group_name=model.layer,
        partitions_def=partitions_def,
        pool="duckdb",
        kinds={"duckdb", "sql"},
        code_version=hashlib.sha256(code.encode()).hexdigest()[:16],
        description=model.description or f"SQL model {model.path.name}",
        metadata={"sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```")},
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        with warehouse.session() as con:
            rows = materialize(con, model, day, Relations(con, models, day))
            metadata = _model_metadata(con, model, day, rows)
            checks_started = time.perf_counter()
            results = [evaluate(con, key, day) for _, evaluate in checks]
            if checks:
                metadata["check_seconds"] = time.perf_counter() - checks_started
        return dg.MaterializeResult(metadata=metadata, check_results=results)

    return _asset


def model_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    models = discover(MODELS_DIR)
    return [run_params_asset(partitions_def)] + [
        _model_asset(model, models, partitions_def) for model in models.values() if model.stored
    ]
