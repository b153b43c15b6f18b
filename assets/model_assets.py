"""The stored SQL models as Dagster assets, plus `meta/run_params` which they read.

Dependencies come from the SQL (see `sql_models.discover`); nothing here declares them again. An
ephemeral model is no asset: it runs inside each asset that reads it, whose dependencies and code
version pass through it to what it reads."""

import contextlib
import functools
import hashlib
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import dagster as dg
import duckdb

from assets.resources import Engine, ReconConfig, Warehouse
from checks.invariants import MODEL_CHECKS
from dbt_like_models import MODELS_DIR
from recon.run_params import write_run_params
from recon.spark.catalog import publish
from recon.spark.models import SparkRelations
from recon.spark.models import materialize as spark_materialize
from recon.sql_models import (
    Model,
    Relations,
    discover,
    inlined_sql,
    materialize,
    order,
    stored_dependencies,
)
from recon.warehouse import claim


def run_params_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=["meta", "run_params"],
        group_name="ingestion",
        partitions_def=partitions_def,
        pool="duckdb",
        kinds={"duckdb"},
        description=(
            "Settings this partition is reconciled with (lookback, TTL, SLAs, tolerances, fee "
            "schedule) and the run that reconciled it: meta.run_params, meta.tolerances and "
            "meta.fee_schedule."
        ),
    )
    def run_params(
        context: dg.AssetExecutionContext, warehouse: Warehouse, recon: ReconConfig
    ) -> dg.MaterializeResult:
        params = replace(recon.run_params, run_id=context.run.run_id)
        with warehouse.session() as con:
            write_run_params(con, date.fromisoformat(context.partition_key), params)
        return dg.MaterializeResult(metadata=params.as_metadata())

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


def _spec(model: Model, models: dict[str, Model]) -> dg.AssetSpec:
    code = "\n".join([model.sql, *inlined_sql(model, models)])
    return dg.AssetSpec(
        key=_key(model),
        deps=[dg.AssetKey(dep.split(".")) for dep in stored_dependencies(model, models)],
        group_name=model.layer,
        kinds={"duckdb", "sql"},
        code_version=hashlib.sha256(code.encode()).hexdigest()[:16],
        description=model.description or f"SQL model {model.path.name}",
        metadata={"sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```")},
    )


def _key(model: Model) -> dg.AssetKey:
    return dg.AssetKey([model.layer, model.name])


class BlockingCheckFailed(Exception):
    """A blocking check of a model failed: the models that read it are not built."""


class ModelBuildFailed(Exception):
    """A model's build failed; the message names the model, which the engine's error does not."""


def _failed_model(
    context: dg.AssetExecutionContext, model: Model, error: Exception
) -> ModelBuildFailed:
    """The error a failed model's step ends with. Not chained: a run's summary shows the
    innermost error of a failed step, and DuckDB's (out of memory, say) does not say which of
    forty models it was building. The engine's traceback goes to the run's log."""
    context.log.error(
        f"{model.table} failed:\n"
        + "".join(traceback.format_exception(type(error), error, error.__traceback__))
    )
    return ModelBuildFailed(
        f"{model.table} ({model.path.name}) failed: {type(error).__name__}: {error}"
    )


def _build(
    context: dg.AssetExecutionContext,
    session: Callable[[], contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]],
    model: Model,
    models: dict,
    day: date,
    spark: SparkRelations | None = None,
) -> tuple[dg.MaterializeResult, list[str]]:
    """The model's partition with its selected checks' results, and the names of its blocking
    checks that failed. With `spark`, Spark builds it and DuckDB reads it through a view."""
    key = _key(model)
    started = time.perf_counter()
    # `session`: the models step's choice of one session for every model or one per model
    # (SHARED_INSTANCE_MAX_ROWS).
    with session() as con:
        if spark is None:
            relations = Relations(con, models, day)
            rows = materialize(con, model, day, relations)
        else:
            relations = spark
            rows = spark_materialize(spark, model)
            publish(con, spark.tables, model.table)
        metadata = _model_metadata(con, model, day, rows)
        metadata["seconds"] = time.perf_counter() - started
        specified = [(spec(key), evaluate) for spec, evaluate in MODEL_CHECKS.get(model.table, [])]
        checks = [c for c in specified if c[0].key in context.selected_asset_check_keys]
        checks_started = time.perf_counter()
        results = [evaluate(relations, key, day) for _, evaluate in checks]
        if checks:
            metadata["check_seconds"] = time.perf_counter() - checks_started
    failed = [
        f"{key.to_user_string()}:{spec.name}"
        for (spec, _), result in zip(checks, results, strict=True)
        if spec.blocking and not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    ]
    return dg.MaterializeResult(asset_key=key, metadata=metadata, check_results=results), failed


# Up to this many landed rows in a partition, the models share one open database; above it, each
# model's session opens and closes it, so that DuckDB gives its memory back between models. Shared,
# 10M checkouts (100M rows) peaked at 2.71 GiB with memory_limit 2500MB and took 192 s; nothing
# larger was measured.
SHARED_INSTANCE_MAX_ROWS = 110_000_000


def _landed_rows(warehouse: Warehouse, day: date) -> int:
    with warehouse.session() as con:
        try:
            [(rows,)] = con.execute(
                "select coalesce(sum(rows_read), 0) from meta.ingested_files "
                "where _partition_date = ?",
                [day],
            ).fetchall()
        except duckdb.CatalogException:  # nothing ingested yet: the models will say what is missing
            return 0
    return int(rows)


def models_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """Every stored model as one subsettable multi-asset: one step runs them in dependency order.

    As an asset each, the 28 stored models cost Dagster about 0.1 s of step overhead apiece,
    more than the models themselves on a small partition. Selecting some models (in the UI, or a
    job's asset selection) builds just those, in the same order."""
    models = discover(MODELS_DIR)
    stored = [model for model in order(models) if model.stored]

    @dg.multi_asset(
        name="models",
        specs=[_spec(model, models) for model in stored],
        check_specs=[spec(_key(m)) for m in stored for spec, _ in MODEL_CHECKS.get(m.table, [])],
        can_subset=True,
        partitions_def=partitions_def,
        pool="duckdb",
    )
    def _models(
        context: dg.AssetExecutionContext,
        warehouse: Warehouse,
        recon: ReconConfig,
        engine: Engine,
    ):
        day = date.fromisoformat(context.partition_key)
        with warehouse.session() as con:
            claim(con, engine.kind)
        spark = None
        if engine.is_spark:
            params = replace(recon.run_params, run_id=context.run.run_id)
            spark = SparkRelations(engine.spark_tables(), models, day, params)
        with contextlib.ExitStack() as stack:
            if _landed_rows(warehouse, day) > SHARED_INSTANCE_MAX_ROWS:
                stack.enter_context(warehouse.reopening_each_session())
                session = warehouse.session
            else:
                # One session for every model: a session per model cost ~3 ms each to set up
                # (time zone, macros), and an open database per model ~20 ms and a checkpoint.
                shared = stack.enter_context(warehouse.session())
                session = functools.partial(contextlib.nullcontext, shared)
            for model in stored:
                if _key(model) not in context.selected_asset_keys:
                    continue
                context.log.info(f"building {model.table}" + (" on Spark" if spark else ""))
                try:
                    result, failed = _build(context, session, model, models, day, spark)
                except Exception as error:
                    raise _failed_model(context, model, error) from None
                yield result
                if failed:
                    # Like a blocking check between assets: nothing downstream is built from it.
                    raise BlockingCheckFailed(
                        f"blocking check failed: {', '.join(failed)}; the models after "
                        f"{model.table} were not built"
                    )

    return _models


def model_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [run_params_asset(partitions_def), models_asset(partitions_def)]
