"""Run by the cluster test in a process of its own (a process has one Spark context, and the
suite's is local): ingest every source of a landing day and build the checkout spine on the
Spark master given, then print what was loaded as JSON."""

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

WANTED = ("intermediate.int_checkout_spine", "intermediate.int_discrepancy_duplicate_charge")


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


def main(master: str, landing: Path, day: date, warehouse: Path) -> None:
    spark = spark_session(master, "1g")
    tables = SparkTables(spark, str(warehouse.with_name(warehouse.name + ".spark")))
    loaded = {}
    with connect(warehouse) as con:
        claim(con, "spark")
        for name, source in SOURCES.items():
            loaded[name] = ingest.ingest_source(tables, con, source, landing, day, 3).rows_loaded
        models = discover(MODELS_DIR)
        relations = SparkRelations(tables, models, day, RunParams())
        built = build_models(relations, selected=with_upstream(WANTED, models))
        for table in built:
            publish(con, tables, table)
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
    print(json.dumps({"loaded": loaded, "built": built, "executors": executors}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), date.fromisoformat(sys.argv[3]), Path(sys.argv[4]))
