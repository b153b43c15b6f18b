"""The SQL models on Spark: the same `dbt_like_models/*.sql`, transpiled (`dialect.spark_sql`)
and run with `spark.sql` in dependency order.

As on DuckDB, a model is written as if the warehouse held one partition: each table it reads is
a temp view of that partition's rows (`tables.partition_view`), an ephemeral model a temp view of
its own query (Spark inlines it where it is read, as DuckDB inlines the subquery)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from recon.run_params import PARAM_TABLES, RunParams, param_table_sql
from recon.spark.dialect import spark_sql
from recon.spark.tables import SparkTables, partition_view
from recon.sql_models import SOURCE_TABLES, Model, order, table_references


@dataclass
class SparkRelations:
    """What each table a model reads stands for in one partition, as Spark temp views."""

    tables: SparkTables
    models: dict[str, Model]
    day: date
    params: RunParams

    def __post_init__(self) -> None:
        self.by_table = {m.table: m for m in self.models.values()}
        self._ready: set[str] = set()

    @property
    def spark(self):
        return self.tables.spark

    def view(self, qualified: str) -> str:
        """The temp view of `qualified` in this partition, created on first use."""
        name = partition_view(qualified)
        if qualified in self._ready:
            return name
        model = self.by_table.get(qualified)
        if qualified in PARAM_TABLES:
            sql = spark_sql(param_table_sql(qualified, self.day, self.params), {}, qualified)
            self.spark.sql(f"create or replace temp view {name} as {sql}")
        elif model is not None and not model.stored:
            self.spark.sql(f"create or replace temp view {name} as {self.model_sql(model)}")
        else:
            self.tables.read_partition(qualified, self.day).createOrReplaceTempView(name)
        self._ready.add(qualified)
        return name

    def model_sql(self, model: Model) -> str:
        """The model's query in Spark SQL, every table it reads a view of this partition."""
        views = {dep: self.view(dep) for dep in model.depends_on}
        return spark_sql(model.sql, views, origin=str(model.path))

    def query(self, sql: str, origin: str = "<query>") -> str:
        """An ad-hoc query (DuckDB SQL) naming models (bare or `layer.name`) and sources, as Spark
        SQL reading this partition: what the checks run, as `sql_models.Relations.query` on
        DuckDB."""
        known = sorted(set(self.by_table) | SOURCE_TABLES)
        views = {}
        for ref in table_references(sql, origin):
            qualified = ref if "." in ref else next((k for k in known if k.endswith(f".{ref}")), "")
            if qualified in known:
                views[qualified] = self.view(qualified)
        return spark_sql(sql, views, origin)

    def rows(self, sql: str, params: dict | None = None, origin: str = "<query>") -> list[tuple]:
        """The rows of `query(sql)`; `params` fill its `$name` placeholders."""
        found = self.spark.sql(self.query(sql, origin), args=params or None).collect()
        return [tuple(row) for row in found]

    def refresh(self, qualified: str) -> None:
        """`qualified` was rewritten: its view must read the new rows."""
        self._ready.discard(qualified)


def materialize(relations: SparkRelations, model: Model) -> int:
    """Replace the partition's rows of a stored model's table; returns the rows written."""
    rows = relations.spark.sql(relations.model_sql(model))
    written = relations.tables.overwrite_partition(model.table, rows, relations.day)
    relations.refresh(model.table)
    return written


def build_models(
    relations: SparkRelations,
    selected: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Build the stored models (those of `selected`, by table name, or all) in dependency
    order; returns rows written per table."""
    wanted = set(selected) if selected is not None else None
    written = {}
    for model in order(relations.models):
        if not model.stored or (wanted is not None and model.table not in wanted):
            continue
        if progress:
            progress(f"building {model.table} on Spark")
        written[model.table] = materialize(relations, model)
    return written
