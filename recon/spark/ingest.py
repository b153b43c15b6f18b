"""Loading one source's landing files for one partition on Spark: the same contract, quarantine
reasons and audit as `recon.ingest`, with the rows stored as the Spark table `raw.<source>`.

Parquet files are read by Spark (on the executors, wherever the cluster reaches the landing
folder), with `_metadata.row_index` as the line. CSV and JSON-lines files are parsed by the same
readers as on DuckDB, on the driver, so that a malformed line is quarantined with the same reason
and line number; they are capped at `readers.MAX_TEXT_FILE_BYTES` as there. Validation is the
same SQL (`validation.reason_columns`), transpiled.

Order of writes: the quarantined rows are collected and every file's counts checked first; then
the partition of `raw.<source>` is replaced in one `INSERT OVERWRITE`; then the DuckDB ledger and
quarantine in one transaction. A file that cannot be read fails the source before anything is
written."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from checkout_service.db import DatabaseSettings
from recon.contract import Source
from recon.ingest import (
    FileCounts,
    IngestReport,
    Progress,
    reason_counts,
    unrecognised_in_window,
    window_files,
)
from recon.landing import LandingFile
from recon.readers import META, MissingColumnsError, UnreadableFileError, read_csv, read_jsonl
from recon.spark.catalog import CATALOG_DDL, publish, require_readable
from recon.spark.dialect import spark_sql
from recon.spark.tables import SparkTables
from recon.validation import native_kind, reason_columns, typed
from recon.validation import quote_ident as _q
from recon.warehouse import ensure_schema, transaction

# Spark's Parquet types as DuckDB names them, for `validation.native_kind`: a column a file
# stores as an integer or a timestamp is used as it is, not parsed back from text.
_SPARK_TO_DUCKDB = {
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "timestamp_ntz": "TIMESTAMP",
}


def ingest_source(
    tables: SparkTables,
    con: duckdb.DuckDBPyConnection,
    source: Source,
    landing: Path,
    business_date: date,
    lookback_days: int,
    *,
    loaded_at: datetime | None = None,
    progress: Progress | None = None,
    services: DatabaseSettings | None = None,
) -> IngestReport:
    """Replace `business_date`'s rows of `source` with what its landing window holds now."""
    with window_files(source, landing, business_date, lookback_days, services) as files:
        report = _ingest_files(tables, con, source, files, business_date, loaded_at, progress)
    report.unrecognised = unrecognised_in_window(
        source, landing, business_date, lookback_days, services
    )
    return report


@dataclass(frozen=True)
class _Checked:
    """One landing file as a temp view of its rows with `_reason` and `_detail`."""

    file: LandingFile
    view: str
    rows_read: int
    natives: dict[str, str | None]


def _ingest_files(
    tables: SparkTables,
    con: duckdb.DuckDBPyConnection,
    source: Source,
    files: list[LandingFile],
    day: date,
    loaded_at: datetime | None,
    progress: Progress | None,
) -> IngestReport:
    require_readable(tables)
    spark = tables.spark
    loaded_at = loaded_at or datetime.now(UTC).replace(tzinfo=None)
    report = IngestReport(source.name, day)
    checked = [_check(spark, source, f, i) for i, f in enumerate(files)]
    quarantined = _quarantined(spark, source, checked, day, loaded_at)
    valid = [_valid(spark, source, c, loaded_at) for c in checked]
    rows = _union(valid) if valid else _no_rows(spark, source, loaded_at)
    loaded = _loaded_per_file(rows)
    held_back = Counter(row.source_file for row in quarantined)
    for c in checked:
        label = c.file.label
        held = held_back[label]
        if loaded.get(label, 0) + held != c.rows_read:
            raise RuntimeError(
                f"{label}: read {c.rows_read} rows but loaded {loaded.get(label, 0)} and "
                f"quarantined {held}; refusing to lose rows"
            )
        counts = FileCounts(
            label, c.file.landing_date, c.file.format, c.rows_read, loaded.get(label, 0), held
        )
        report.files.append(counts)
        if progress:
            progress(
                f"{source.name}: {c.file.name} ({c.file.landing_date}) "
                f"{counts.rows_loaded} loaded (Spark), {counts.rows_quarantined} quarantined"
            )
    tables.overwrite_partition(source.table, rows, day)
    _record(con, tables, source, day, loaded_at, report.files, quarantined)
    report.reasons = reason_counts(con, source, day)
    return report


def _check(spark, source: Source, landing_file: LandingFile, index: int) -> _Checked:
    rows_view = f"landing_rows_{source.name}_{index}"
    if landing_file.format == "parquet":
        natives, read = _parquet_rows(spark, source, landing_file, rows_view)
    else:
        reader = read_csv if landing_file.format == "csv" else read_jsonl
        table, read = reader(landing_file.path, source)
        spark.createDataFrame(table).createOrReplaceTempView(rows_view)
        natives = {}
    view = f"checked_{source.name}_{index}"
    reasons = reason_columns(source, "_error", "_error_detail", natives)
    query = _for_file(f"select *, {reasons} from {_FILE_ROWS}", source, rows_view)
    spark.sql(f"create or replace temp view {view} as {query}")
    return _Checked(landing_file, view, read, natives)


# The table a per-file query reads, as written before transpiling: the query is transpiled once
# per source and kind of file (`spark_sql` caches it) and then pointed at each file's view.
# Transpiling it anew for every file took a third of a small day's ingestion.
_FILE_ROWS = "file_rows__"


def _for_file(query: str, source: Source, view: str) -> str:
    return spark_sql(query, origin=f"{source.name} landing files").replace(_FILE_ROWS, view)


def _parquet_rows(spark, source: Source, landing_file: LandingFile, view: str):
    """A Parquet file read by Spark where it lands; a service snapshot (a temporary file on this
    machine, which executors elsewhere cannot see) read here and handed over as Arrow."""
    path = landing_file.path
    try:
        if landing_file.origin is None:
            frame = spark.read.parquet(str(path)).select("*", "_metadata.row_index")
            line = "row_index + 1"
            # Counted by Spark, here: a file whose footer reads but whose pages do not fails
            # now, named, rather than later in the insert.
            read = frame.count()
        else:
            table = pq.read_table(path)
            numbers = pa.array(range(1, table.num_rows + 1), type=pa.int64())
            frame = spark.createDataFrame(table.append_column("_file_line", numbers))
            line = "_file_line"
            read = table.num_rows
    except Exception as exc:  # AnalysisException, SparkException, ArrowInvalid: not Parquet
        raise UnreadableFileError(f"{path}: cannot read as Parquet: {exc}") from exc
    present = [f.name for f in frame.schema.fields if f.name not in ("row_index", "_file_line")]
    missing = [c.name for c in source.columns if c.required and c.name not in present]
    if missing:
        raise MissingColumnsError(path, missing)
    natives = {
        f.name: native_kind(_SPARK_TO_DUCKDB.get(f.dataType.simpleString(), ""))
        for f in frame.schema.fields
    }
    frame.createOrReplaceTempView(f"{view}_file")
    present_natives = {name: natives[name] for name in present}
    _shape_parquet(spark, source, f"{view}_file", present_natives, view, line)
    return natives, read


def _json(natives: dict[str, str | None]) -> str:
    """A JSON object of the named columns as DuckDB's `to_json` writes it: the engines print
    timestamps differently inside JSON and the same as text, so timestamps go in as text."""
    if not natives:
        return "cast(null as varchar)"
    values = []
    for name, native in natives.items():
        value = _q(name)
        if native == "timestamp":
            value = f"cast({value} as varchar)"
        elif native == "timestamptz":
            value = f"cast({value} as varchar) || '+00'"
        values.append(f"{_q(name)} := {value}")
    return f"to_json(struct_pack({', '.join(values)}))"


def _shape_parquet(
    spark, source: Source, file_view: str, natives: dict[str, str | None], view: str, line: str
):
    """The file's rows shaped like the text readers' tables (see `ingest._register_parquet`)."""
    columns = ", ".join(
        _q(c.name) if c.name in natives else f"cast(null as varchar) as {_q(c.name)}"
        for c in source.columns
    )
    extras = {n: kind for n, kind in natives.items() if n not in source.column_names}
    query = f"""
        select
            {line} as _line,
            {_json(natives)} as _raw,
            cast(null as varchar) as _error,
            cast(null as varchar) as _error_detail,
            {_json(extras)} as _extra,
            {columns}
        from {_FILE_ROWS}
    """
    spark.sql(f"create or replace temp view {view} as {_for_file(query, source, file_view)}")


def _valid(spark, source: Source, checked: _Checked, loaded_at: datetime):
    from pyspark.sql import functions as F

    typed_columns = ", ".join(
        f"{typed(c, checked.natives.get(c.name))} as {_q(c.name)}" for c in source.columns
    )
    # The file's own values are set on the frame, not written into the query, which stays the
    # same for every file of the source (see `_for_file`).
    query = f"""
        select
            cast(null as date) as _landing_date,
            cast(null as varchar) as _source_file,
            cast(_line as bigint) as _line,
            timestamp '{loaded_at.isoformat(sep=" ")}' as _loaded_at,
            {typed_columns},
            _extra
        from {_FILE_ROWS} where _reason is null
    """
    return (
        spark.sql(_for_file(query, source, checked.view))
        .withColumn("_landing_date", F.lit(checked.file.landing_date))
        .withColumn("_source_file", F.lit(checked.file.label))
    )


def _no_rows(spark, source: Source, loaded_at: datetime):
    """An empty frame with the table's columns: a source without files empties its partition."""
    view = f"no_rows_{source.name}"
    columns = ", ".join(
        f"cast(null as {'bigint' if name == '_line' else 'varchar'}) as {_q(name)}"
        for name in (*META, *source.column_names)
    )
    spark.sql(
        f"create or replace temp view {view} as "
        f"select {columns}, cast(null as string) as _reason where false"
    )
    nothing = LandingFile(source.name, date(1970, 1, 1), Path("none"))
    return _valid(spark, source, _Checked(nothing, view, 0, {}), loaded_at)


def _union(frames):
    rows = frames[0]
    for frame in frames[1:]:
        rows = rows.unionByName(frame)
    return rows


def _loaded_per_file(rows) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in rows.groupBy("_source_file").count().collect()}


class QuarantinedRow(NamedTuple):
    """A row of `raw.quarantine`, in its column order."""

    partition: date
    landing_date: date
    source: str
    source_file: str
    line: int
    reason: str
    detail: str
    raw_text: str | None
    loaded_at: datetime


def _quarantined(
    spark, source: Source, checked: list[_Checked], day: date, loaded_at: datetime
) -> list[QuarantinedRow]:
    """Every file's rows that break the contract (few, by nature: they are collected here), in
    one Spark job for all the files: a job per file cost more than the files on a small day."""
    if not checked:
        return []
    breaking = " union all ".join(
        f"select {i} as _file_index, _line, _reason, _detail, _raw from {c.view} "
        "where _reason is not null"
        for i, c in enumerate(checked)
    )
    found = []
    for index, line, *rest in spark.sql(breaking).collect():
        file = checked[index].file
        found.append(
            QuarantinedRow(
                day, file.landing_date, source.name, file.label, int(line), *rest, loaded_at
            )
        )
    return found


def _record(
    con: duckdb.DuckDBPyConnection,
    tables: SparkTables,
    source: Source,
    day: date,
    loaded_at: datetime,
    files: list[FileCounts],
    quarantined: list[QuarantinedRow],
) -> None:
    """The ledger and the quarantine in DuckDB, in one transaction, then the view of the table."""
    ensure_schema(con, CATALOG_DDL)
    with transaction(con):
        for table in ("raw.quarantine", "meta.ingested_files"):
            con.execute(
                f"delete from {table} where _partition_date = ? and source = ?", [day, source.name]
            )
        if quarantined:
            con.executemany(
                "insert into raw.quarantine (_partition_date, _landing_date, source, "
                "_source_file, _line, reason, detail, raw_text, _loaded_at) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                quarantined,
            )
        for f in files:
            con.execute(
                "insert into meta.ingested_files (_partition_date, _landing_date, source, "
                "_source_file, file_format, rows_read, rows_loaded, rows_quarantined, _loaded_at, "
                "read_in_place) values (?, ?, ?, ?, ?, ?, ?, ?, ?, false)",
                [
                    day,
                    f.landing_date,
                    source.name,
                    f.file,
                    f.file_format,
                    f.rows_read,
                    f.rows_loaded,
                    f.rows_quarantined,
                    loaded_at,
                ],
            )
        publish(con, tables, source.table)
