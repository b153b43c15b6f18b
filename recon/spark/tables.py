"""The Spark engine's stored tables: Parquet under one root directory, one folder per table,
partitioned by `_partition_date` (`<root>/<schema>/<name>/_partition_date=YYYY-MM-DD/`).

Each table is registered in the session's catalog as `<schema>__<name>` over its folder, so that a
partition is replaced with `INSERT OVERWRITE` (dynamic partition overwrite: the other dates stay).
Any process can register the folders again; the folders are the truth, not a metastore."""

import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

PARTITION = "_partition_date"


def catalog_name(qualified: str) -> str:
    """`marts.discrepancies` → `marts__discrepancies` (one namespace: no metastore databases)."""
    schema, name = qualified.split(".")
    return f"{schema}__{name}"


def partition_view(qualified: str) -> str:
    """The temp view holding one partition's rows of a table, as the models read it."""
    return f"p__{catalog_name(qualified)}"


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _shape(schema: "StructType") -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema.fields if f.name != PARTITION]


@dataclass
class SparkTables:
    spark: "SparkSession"
    root: str
    _registered: dict[str, "StructType"] = field(default_factory=dict)

    def path(self, qualified: str) -> str:
        schema, name = qualified.split(".")
        return f"{self.root.rstrip('/')}/{schema}/{name}"

    def overwrite_partition(self, qualified: str, rows: "DataFrame", day: date) -> int:
        """Replace `day`'s rows of the table with `rows` (which lack the partition column);
        returns how many were written. A changed set of columns replaces the whole table: its
        other partitions were built by another version of the model and must be rebuilt."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        self._register(qualified, rows.schema)
        view = f"w__{catalog_name(qualified)}"
        # Counted as the rows reach the writer (a metric of the write's own job, from the tasks
        # that succeeded), not by reading the partition back: one Spark job less per table.
        written_rows = Observation(f"written_{uuid.uuid4().hex}")
        rows.observe(written_rows, F.count(F.lit(1)).alias("rows")).createOrReplaceTempView(view)
        columns = ", ".join(_q(f.name) for f in rows.schema.fields)
        # The partition named in full: a dynamic one (`partition (_partition_date)`, the date a
        # column) replaces only partitions that receive rows, so a rerun whose result became
        # empty would keep the old rows. The session's dynamic mode still guarantees that no
        # other date is touched.
        self.spark.sql(
            f"insert overwrite table {catalog_name(qualified)} "
            f"partition ({PARTITION} = date'{day.isoformat()}') select {columns} from {view}"
        )
        self.spark.catalog.dropTempView(view)
        written = int(written_rows.get["rows"])
        if written == 0:
            # An empty partition is an empty folder; a file with the columns and no rows lets
            # a reader of the folders (DuckDB's views) see the table's shape and zero rows.
            partition = f"{self.path(qualified)}/{PARTITION}={day.isoformat()}"
            rows.limit(0).coalesce(1).write.mode("append").parquet(partition)
        return written

    def read_partition(self, qualified: str, day: date) -> "DataFrame":
        """The table's rows of `day`, without the partition column."""
        self.register_existing(qualified)
        table = self.spark.table(catalog_name(qualified))
        return table.where(table[PARTITION] == day).drop(PARTITION)

    def register_existing(self, qualified: str) -> None:
        if qualified in self._registered:
            return
        schema = self._on_disk_schema(qualified)
        if schema is None:
            raise FileNotFoundError(f"{qualified}: no table at {self.path(qualified)} yet")
        self._create(qualified, schema)

    def _register(self, qualified: str, schema: "StructType") -> None:
        wanted = _shape(schema)
        known = self._registered.get(qualified) or self._on_disk_schema(qualified)
        if known is not None and _shape(known) == wanted:
            if qualified not in self._registered:
                self._create(qualified, known)
            return
        self.spark.sql(f"drop table if exists {catalog_name(qualified)}")
        self._registered.pop(qualified, None)
        if known is None:  # a new table: no folder yet, nothing to clear or recover
            self._create(qualified, schema, recover=False)
            return
        self._clear(qualified, schema)
        self._create(qualified, schema)

    def _create(self, qualified: str, schema: "StructType", recover: bool = True) -> None:
        columns = ", ".join(
            f"{_q(f.name)} {f.dataType.simpleString()}"
            for f in schema.fields
            if f.name != PARTITION
        )
        name = catalog_name(qualified)
        self.spark.sql(f"drop table if exists {name}")
        self.spark.sql(
            f"create table {name} ({columns}, {PARTITION} date) using parquet "
            f"partitioned by ({PARTITION}) location '{self.path(qualified)}'"
        )
        if recover:  # the partitions other processes wrote: an in-memory catalog starts empty
            self.spark.sql(f"alter table {name} recover partitions")
        self._registered[qualified] = schema

    def _on_disk_schema(self, qualified: str) -> "StructType | None":
        if qualified in self._registered:
            return self._registered[qualified]
        try:
            return self.spark.read.parquet(self.path(qualified)).schema
        except Exception as exc:  # AnalysisException: path missing or no Parquet files under it
            if "PATH_NOT_FOUND" in str(exc) or "UNABLE_TO_INFER_SCHEMA" in str(exc):
                return None
            raise

    def _clear(self, qualified: str, schema: "StructType") -> None:
        """Remove every partition of the table: an empty frame written over it in static mode
        leaves the folder empty (on any file system Spark writes to)."""
        from pyspark.sql import functions as F

        fields = [f for f in schema.fields if f.name != PARTITION]
        # Built by the JVM alone: a frame from a Python list would need Python on the executors.
        columns = [F.lit(None).cast(f.dataType).alias(f.name) for f in fields]
        self.spark.conf.set("spark.sql.sources.partitionOverwriteMode", "static")
        try:
            empty = self.spark.range(0).select(*columns, F.lit(None).cast("date").alias(PARTITION))
            empty.write.mode("overwrite").partitionBy(PARTITION).parquet(self.path(qualified))
        finally:
            self.spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")


def local_path(root: str) -> Path | None:
    """The root as a local directory, when it is one (DuckDB reads the tables from there)."""
    if "://" in root and not root.startswith("file://"):
        return None
    return Path(root.removeprefix("file://"))
