"""Run by the cluster test in a process of its own (a process has one Spark context, and the
suite's is local): ingest the sources that a chain of models reads (staging to intermediate,
with joins and window functions) and build those models on the Spark master given, then print
what was loaded and built as JSON. Not every model: the checkout spine reads every source, and
on a cluster of one core each source and model costs seconds of scheduling, not of rows; the
Spark engine's own test compares every model on local Spark."""

import json
import sys
from datetime import date
from pathlib import Path

from dbt_like_models import MODELS_DIR
from recon.contract import SOURCES
from recon.run_params import RunParams
from recon.spark import ingest
from recon.spark.catalog import publish
from recon.spark.models import SparkRelations, build_models
from recon.spark.session import spark_session
from recon.spark.tables import SparkTables
from recon.sql_models import Model, discover, stored_dependencies
from recon.warehouse import claim, connect

WANTED = ("intermediate.int_payment_ledger", "staging.stg_order_versions")


def with_upstream(tables: tuple[str, ...], models: dict[str, Model]) -> set[str]:
    """The stored models `tables` read, transitively, and themselves."""
    by_table = {m.table: m for m in models.values()}
    found = set()
    pending = list(tables)
    while pending:
        table = pending.pop()
        if table in found or table not in by_table:
            continue
        found.add(table)
        pending += stored_dependencies(by_table[table], models)
    return found


def read_by(tables: set[str], models: dict[str, Model]) -> set[str]:
    """Every table that the models of `tables` read."""
    by_table = {m.table: m for m in models.values()}
    return {dep for table in tables for dep in by_table[table].depends_on}


def main(master: str, landing: Path, day: date, warehouse: Path) -> None:
    spark = spark_session(master, "1g")
    tables = SparkTables(spark, str(warehouse.with_name(warehouse.name + ".spark")))
    loaded = {}
    with connect(warehouse) as con:
        claim(con, "spark")
        models = discover(MODELS_DIR)
        wanted = with_upstream(WANTED, models)
        for name, source in SOURCES.items():
            if source.table in read_by(wanted, models):
                loaded[name] = ingest.ingest_source(
                    tables, con, source, landing, day, 3
                ).rows_loaded
        relations = SparkRelations(tables, models, day, RunParams())
        built = build_models(relations, selected=wanted)
        for table in built:
            publish(con, tables, table)
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
    print(json.dumps({"loaded": loaded, "built": built, "executors": executors}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), date.fromisoformat(sys.argv[3]), Path(sys.argv[4]))
