"""Loading one source's landing files for one partition: `meta.ingested_files`, `raw.<source>` and
`raw.quarantine`.

A Parquet landing file whose every row meets the contract as stored is read in place: one aggregate
pass proves it (`profile.check_parquet_file`), the ledger records it with its size and modification
time, and the models read it where it lands (`raw_rows.raw_rows_sql`). Every other file is validated
row by row: its valid rows are stored in `raw.<source>`, the others quarantined with their reason.

A source with an adapter (`ReconSettings.adapters`) holds a provider's exports instead: every file
of its window is read through the adapter (`recon.adapters.landing_reader`), never in place, and
validated and quarantined the same way.

Everything for a (source, partition) happens in one transaction: the partition's old rows are
deleted and the new ones inserted, so a rerun replaces rather than duplicates, and a failure (a
file missing a required column, an unreadable file) leaves the warehouse exactly as it was.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from checkout_service.db import DatabaseSettings
from recon.adapters.landing_reader import read_through_adapter
from recon.adapters.mapping import Mapping
from recon.adapters.registry import load_adapter
from recon.contract import Source
from recon.landing import (
    LandingFile,
    UnrecognisedFile,
    files_for,
    unrecognised_files,
    unrecognised_warning,
    window,
)
from recon.profile import Summary, check_parquet_file, stored_rows_summary
from recon.raw_rows import Fingerprint, describe_parquet, extras_json, literal
from recon.readers import UnreadableFileError, read_csv, read_jsonl
from recon.service_source import SERVICE_SOURCES, service_snapshot
from recon.validation import native_kind, reason_columns, typed
from recon.validation import quote_ident as _q
from recon.warehouse import ensure_schema, transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileCounts:
    file: str
    landing_date: date
    file_format: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    read_in_place: bool = False


@dataclass
class IngestReport:
    source: str
    partition: date
    files: list[FileCounts] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    # What the contract suite checks of the loaded rows (see `profile.Summary`); the Spark engine
    # leaves it empty and checks the stored rows on Spark (`spark.checks`).
    summary: Summary = field(default_factory=Summary)
    # Files in the window's folders of no kind the pipeline reads (`landing.unrecognised_files`).
    unrecognised: list[UnrecognisedFile] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)


Progress = Callable[[str], None]
# A text reader: a landing file's rows as text with the META columns, and how many were read.
Reader = Callable[[Path, Source], tuple[pa.Table, int]]


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    landing: Path,
    business_date: date,
    lookback_days: int,
    *,
    loaded_at: datetime | None = None,
    progress: Progress | None = None,
    services: DatabaseSettings | None = None,
    read_in_place: bool = True,
    adapter: str | None = None,
) -> IngestReport:
    """Replace `business_date`'s rows of `source` with what its landing window holds now: its
    landing files, or with `services`, the service database that holds the source.

    `read_in_place` False stores every row, for landing files that will not stay where they are.
    `adapter` (a built-in adapter's name or a mapping file's path): the landing files are that
    provider's exports, each read through the adapter."""
    mapping = _source_adapter(source, adapter, services)
    with window_files(source, landing, business_date, lookback_days, services) as files:
        report = _ingest_files(
            con, source, files, business_date, loaded_at, progress, read_in_place, mapping
        )
    report.unrecognised = unrecognised_in_window(
        source, landing, business_date, lookback_days, services
    )
    return report


def _source_adapter(
    source: Source, adapter: str | None, services: DatabaseSettings | None
) -> Mapping | None:
    """The adapter's mapping, checked to feed `source` (settings check this too, but callers
    of the library may pass anything)."""
    if adapter is None:
        return None
    if services is not None and source.name in SERVICE_SOURCES:
        raise ValueError(
            f"{source.name}: adapter {adapter} configured, but services mode reads "
            f"{source.name} from the service database, not landing files"
        )
    mapping = load_adapter(adapter)
    if mapping.target != source.name:
        raise ValueError(
            f"{source.name}: adapter {adapter} feeds {mapping.target}, not {source.name}"
        )
    return mapping


@contextmanager
def window_files(
    source: Source,
    landing: Path,
    business_date: date,
    lookback_days: int,
    services: DatabaseSettings | None,
) -> Iterator[list[LandingFile]]:
    """The files of `source` that `business_date`'s window reads: its landing files or, with
    `services`, snapshots of the service database that holds the source (removed on exit)."""
    dates = window(business_date, lookback_days)
    if services is not None and source.name in SERVICE_SOURCES:
        with service_snapshot(services, source.name, dates) as files:
            yield files
        return
    yield files_for(landing, source.name, dates)


def unrecognised_in_window(
    source: Source,
    landing: Path,
    business_date: date,
    lookback_days: int,
    services: DatabaseSettings | None,
) -> list[UnrecognisedFile]:
    """The files of the window's landing folders that no reader reads, logged as a warning; none
    when `services` holds the source (its landing folders are not read then)."""
    if services is not None and source.name in SERVICE_SOURCES:
        return []
    found = unrecognised_files(landing, source.name, window(business_date, lookback_days))
    if found:
        log.warning(unrecognised_warning(source.name, found))
    return found


def _ingest_files(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    files: list[LandingFile],
    business_date: date,
    loaded_at: datetime | None,
    progress: Progress | None,
    read_in_place: bool,
    mapping: Mapping | None = None,
) -> IngestReport:
    ensure_schema(con)
    loaded_at = loaded_at or datetime.now(UTC).replace(tzinfo=None)
    report = IngestReport(source.name, business_date)
    with transaction(con):
        _delete_partition(con, source, business_date)
        for landing_file in files:
            counts, summary, why_stored = _load_file(
                con, source, landing_file, business_date, loaded_at, read_in_place, mapping
            )
            report.files.append(counts)
            report.summary.merge(summary)
            if progress:
                where = "read in place" if counts.read_in_place else "stored"
                if mapping is not None:
                    where = f"through adapter {mapping.name}, {where}"
                progress(
                    f"{source.name}: {landing_file.name} ({landing_file.landing_date}) "
                    f"{counts.rows_loaded} loaded ({where}"
                    + (f": {why_stored}" if why_stored else "")
                    + f"), {counts.rows_quarantined} quarantined"
                )
        if not all(f.read_in_place for f in report.files):
            report.summary.merge(stored_rows_summary(con, source, business_date))
        report.reasons = reason_counts(con, source, business_date)
    return report


def _delete_partition(con: duckdb.DuckDBPyConnection, source: Source, day: date) -> None:
    con.execute(f"delete from {source.table} where _partition_date = ?", [day])
    for table in ("raw.quarantine", "meta.ingested_files"):
        con.execute(
            f"delete from {table} where _partition_date = ? and source = ?", [day, source.name]
        )


def _load_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    landing_file: LandingFile,
    partition: date,
    loaded_at: datetime,
    read_in_place: bool,
    mapping: Mapping | None = None,
) -> tuple[FileCounts, Summary, str | None]:
    """Load one file; returns its counts, the summary of its rows when read in place, and why a
    Parquet file was stored rather than read in place. With `mapping`, the file is a provider's
    export: read through the adapter, whatever its format (never in place: its rows are not the
    contract's as stored)."""
    rel_name = "_landing_rows"
    natives: dict[str, str | None] = {}
    why_stored = None
    registered_view = landing_file.format == "parquet" and mapping is None
    if registered_view:
        described, rows_read = describe_parquet(con, source, landing_file.path)
        if landing_file.origin is not None:
            why_stored = "a snapshot, gone after the load"
        elif not read_in_place:
            why_stored = "reading in place is turned off"
        else:
            check = check_parquet_file(con, source, str(landing_file.path), described)
            if check.in_place:
                counts = _counts(landing_file, rows_read, rows_read, 0, read_in_place=True)
                _record(con, source, landing_file, partition, loaded_at, counts)
                return counts, check.summary, None
            why_stored = check.why_not
        natives = _register_parquet(con, source, landing_file.path, described, rel_name)
    else:
        table, rows_read = _reader(landing_file, mapping)(landing_file.path, source)
        con.register(rel_name, table)
    try:
        loaded, quarantined = _insert(
            con, source, landing_file, rel_name, partition, loaded_at, natives, rows_read
        )
    finally:
        if registered_view:
            con.execute(f"drop view if exists {rel_name}")
        else:
            con.unregister(rel_name)
    if loaded + quarantined != rows_read:
        raise RuntimeError(
            f"{landing_file.label}: read {rows_read} rows but loaded {loaded} and quarantined "
            f"{quarantined}; refusing to lose rows"
        )
    counts = _counts(landing_file, rows_read, loaded, quarantined, read_in_place=False)
    _record(con, source, landing_file, partition, loaded_at, counts)
    return counts, Summary(), why_stored


def _reader(landing_file: LandingFile, mapping: Mapping | None) -> Reader:
    if mapping is not None:
        return lambda path, source: read_through_adapter(mapping, path, source)
    return read_csv if landing_file.format == "csv" else read_jsonl


def _counts(
    landing_file: LandingFile, read: int, loaded: int, quarantined: int, read_in_place: bool
) -> FileCounts:
    return FileCounts(
        landing_file.label,
        landing_file.landing_date,
        landing_file.format,
        read,
        loaded,
        quarantined,
        read_in_place,
    )


def _record(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    landing_file: LandingFile,
    partition: date,
    loaded_at: datetime,
    counts: FileCounts,
) -> None:
    """The file's line in the ledger; a file read in place with what identifies it on disk."""
    fingerprint = Fingerprint.of(landing_file.path) if counts.read_in_place else None
    con.execute(
        """
        insert into meta.ingested_files (
            _partition_date, _landing_date, source, _source_file, file_format, rows_read,
            rows_loaded, rows_quarantined, _loaded_at, read_in_place, file_bytes, file_mtime_ns
        ) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            partition,
            landing_file.landing_date,
            source.name,
            counts.file,
            counts.file_format,
            counts.rows_read,
            counts.rows_loaded,
            counts.rows_quarantined,
            loaded_at,
            counts.read_in_place,
            fingerprint.size if fingerprint else None,
            fingerprint.mtime_ns if fingerprint else None,
        ],
    )


def _register_parquet(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    path: Path,
    described: dict[str, str],
    rel_name: str,
) -> dict[str, str | None]:
    """A view over the Parquet file shaped like the text readers' tables, for row-by-row
    validation; returns which contract columns the file stores natively (integers, timestamps)."""
    present = list(described)
    natives = {name: native_kind(type_) for name, type_ in described.items()}
    columns = ", ".join(
        _q(c.name) if c.name in present else f"cast(null as varchar) as {_q(c.name)}"
        for c in source.columns
    )
    all_present = ", ".join(f"{_q(n)} := {_q(n)}" for n in present)
    con.execute(
        f"""
        create or replace temp view {rel_name} as
        select
            file_row_number + 1 as _line,
            to_json(struct_pack({all_present})) as _raw,
            cast(null as varchar) as _error,
            cast(null as varchar) as _error_detail,
            {extras_json(source, present)} as _extra,
            {columns}
        from read_parquet({literal(str(path))}, file_row_number = true)
        """
    )
    return natives


def _insert(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    landing_file: LandingFile,
    rel_name: str,
    partition: date,
    loaded_at: datetime,
    natives: dict[str, str | None],
    rows_read: int,
) -> tuple[int, int]:
    """Insert the valid rows, then quarantine the others. The quarantine pass re-evaluates every
    rule on every row (a quarter of a clean file's load), so it runs only when rows are missing
    from the first insert; row conservation is still checked against what the file holds."""
    checked = f"""
        select *, {reason_columns(source, "_error", "_error_detail", natives)}
        from {rel_name}
    """
    params = [partition, landing_file.landing_date, landing_file.label, loaded_at]
    typed_columns = ", ".join(
        f"{typed(c, natives.get(c.name))} as {_q(c.name)}" for c in source.columns
    )
    try:
        loaded = con.execute(
            f"""
            insert into {source.table} by name
            select
                ?::date as _partition_date, ?::date as _landing_date, ?::varchar as _source_file,
                _line, ?::timestamp as _loaded_at, {typed_columns}, _extra
            from ({checked}) where _reason is null
            """,
            params,
        ).fetchone()[0]
        if loaded == rows_read:
            return int(loaded), 0
        quarantined = con.execute(
            f"""
            insert into raw.quarantine by name
            select
                ?::date as _partition_date, ?::date as _landing_date,
                ?::varchar as source, ?::varchar as _source_file, _line,
                _reason as reason, _detail as detail, _raw as raw_text, ?::timestamp as _loaded_at
            from ({checked}) where _reason is not null
            """,
            [partition, landing_file.landing_date, source.name, landing_file.label, loaded_at],
        ).fetchone()[0]
    except duckdb.Error as exc:
        raise UnreadableFileError(f"{landing_file.label}: cannot load: {exc}") from exc
    return int(loaded), int(quarantined)


def reason_counts(con: duckdb.DuckDBPyConnection, source: Source, day: date) -> Counter:
    rows = con.execute(
        "select reason, count(*) from raw.quarantine "
        "where _partition_date = ? and source = ? group by reason",
        [day, source.name],
    ).fetchall()
    return Counter(dict(rows))
