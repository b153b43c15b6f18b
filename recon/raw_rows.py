"""The rows a partition loaded from one source, wherever they sit.

Ingestion keeps a Parquet landing file whose every row already meets the contract where it is, and
records it in `meta.ingested_files` as read in place; every other row it loaded (from CSV and
JSON-lines files, service snapshots, and Parquet files with a bad or untidy row) is stored in
`raw.<source>`. `raw_rows_sql` gives both as one relation with the columns of `raw.<source>`
(without `_partition_date`): what the staging models read as `raw.<source>`."""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from recon.contract import LINEAGE_COLUMNS, Column, Kind, Source
from recon.readers import MissingColumnsError, UnreadableFileError
from recon.validation import native_kind, typed
from recon.validation import quote_ident as _q

# The columns of the relation, in the order of the raw tables (the partition date is implied).
RELATION_LINEAGE = tuple(c for c in LINEAGE_COLUMNS if c != "_partition_date")


class LandingFileChanged(RuntimeError):
    """A file read in place is no longer the file ingestion checked: the partition must be
    ingested again before its models can be built."""


@dataclass(frozen=True)
class Fingerprint:
    """What tells a landing file apart from the one ingestion checked."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> "Fingerprint":
        stat = path.stat()
        return cls(stat.st_size, stat.st_mtime_ns)


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def describe_parquet(
    con: duckdb.DuckDBPyConnection, source: Source, path: Path
) -> tuple[dict[str, str], int]:
    """The file's columns with their DuckDB types, and its row count (from the footer).

    Raises UnreadableFileError for a file that is not Parquet, MissingColumnsError for a file
    without a required column."""
    try:
        key = (str(path), Fingerprint.of(path))
    except OSError:
        key = None
    found = _FOOTERS.get(key) if key else None
    if found is None:
        found = _read_footer(con, path)
        if key:
            if len(_FOOTERS) >= _FOOTERS_KEPT:
                _FOOTERS.clear()
            _FOOTERS[key] = found
    columns, rows = found
    missing = [c.name for c in source.columns if c.required and c.name not in columns]
    if missing:
        raise MissingColumnsError(path, missing)
    return dict(columns), rows


# Footers already read, by path and fingerprint: every staging model of a partition describes
# each file read in place again (~2 ms each, 128 times on a small partition), and a file with the
# same size and modification time is taken as the same file, as `require_unchanged` takes it.
_FOOTERS: dict[tuple[str, Fingerprint], tuple[dict[str, str], int]] = {}
_FOOTERS_KEPT = 4096


def _read_footer(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[dict[str, str], int]:
    try:
        described = con.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()
        [(rows,)] = con.execute(
            "select coalesce(sum(num_rows), 0) from parquet_file_metadata(?)", [str(path)]
        ).fetchall()
    except duckdb.Error as exc:
        raise UnreadableFileError(f"{path}: cannot read as Parquet: {exc}") from exc
    return {row[0]: row[1] for row in described}, int(rows)


def extras_json(source: Source, present: list[str]) -> str:
    """The file's columns outside the contract, as one JSON text per row (null when none)."""
    extras = [name for name in present if name not in source.column_names]
    if not extras:
        return "cast(null as varchar)"
    return "to_json(struct_pack(" + ", ".join(f"{_q(n)} := {_q(n)}" for n in extras) + "))"


def _in_place_value(col: Column, file_type: str | None) -> str:
    if file_type is None:
        return f"cast(null as {col.sql_type})"
    if col.kind in (Kind.TEXT, Kind.ENUM, Kind.CURRENCY):
        # Checked at ingestion: no value is blank or changed by trim(), as every stored value
        # is (`validation._text`): the staging models rely on it and trim nothing.
        return _q(col.name)
    return typed(col, native_kind(file_type))


@dataclass(frozen=True)
class InPlaceFile:
    """A landing file the ledger says is read in place."""

    path: Path
    landing_date: date
    loaded_at: datetime


def in_place_select(source: Source, files: list[InPlaceFile], described: dict[str, str]) -> str:
    """The rows of clean Parquet files of one column layout, shaped like `raw.<source>`'s (see
    `profile.check_parquet_file` for why they need no validation or trimming).

    One scan of them all: a union of one scan per file made DuckDB 2.0 run out of memory in the
    grouping above it at 10M checkouts (two scans feeding one aggregate at once)."""
    values = ", ".join(
        f"{_in_place_value(c, described.get(c.name))} as {_q(c.name)}" for c in source.columns
    )
    paths = ", ".join(literal(str(f.path)) for f in files)
    landing_dates = " ".join(
        f"when {literal(str(f.path))} then date '{f.landing_date.isoformat()}'" for f in files
    )
    loaded_ats = " ".join(
        f"when {literal(str(f.path))} then timestamp '{f.loaded_at.isoformat(sep=' ')}'"
        for f in files
    )
    return (
        f"select case filename {landing_dates} end as _landing_date, "
        f"filename as _source_file, file_row_number + 1 as _line, "
        f"case filename {loaded_ats} end as _loaded_at, {values}, "
        f"{extras_json(source, list(described))} as _extra "
        f"from read_parquet([{paths}], filename = true, file_row_number = true)"
    )


def stored_select(source: Source, day: date) -> str:
    columns = ", ".join(_q(c) for c in (*RELATION_LINEAGE, *source.column_names, "_extra"))
    return f"select {columns} from {source.table} where _partition_date = date '{day.isoformat()}'"


def raw_rows_sql(con: duckdb.DuckDBPyConnection, source: Source, day: date) -> str:
    """Partition `day`'s loaded rows of `source` as one SQL query: the stored rows, and one scan
    per column layout of the files read in place.

    Raises LandingFileChanged when a file read in place changed since it was ingested (its rows
    would no longer be the ones counted and checked)."""
    ledger = con.execute(
        """
        select _source_file, _landing_date, _loaded_at, file_bytes, file_mtime_ns, read_in_place
        from meta.ingested_files
        where _partition_date = ? and source = ?
        order by _landing_date, _source_file
        """,
        [day, source.name],
    ).fetchall()
    layouts: dict[tuple, list[InPlaceFile]] = {}
    for label, landing_date, loaded_at, size, mtime_ns, in_place in ledger:
        if not in_place:
            continue
        path = Path(label)
        require_unchanged(path, Fingerprint(size, mtime_ns), source, day)
        described, rows = describe_parquet(con, source, path)
        layouts.setdefault(tuple(described.items()), []).append(
            (rows, InPlaceFile(path, landing_date, loaded_at))
        )
    parts = [
        in_place_select(source, _largest_first(files), dict(layout))
        for layout, files in layouts.items()
    ]
    # The stored rows, unless the ledger says every file was read in place (or there are none).
    if not parts or not all(in_place for *_, in_place in ledger):
        parts.insert(0, stored_select(source, day))
    return "\nunion all\n".join(parts)


def _largest_first(files: list[tuple[int, InPlaceFile]]) -> list[InPlaceFile]:
    """The files, the one with most rows first. DuckDB estimates a scan of several Parquet files
    as the first file's rows times the number of files: a window's settlements starting with a
    one-row file were estimated at 6 rows for 9.9M, and every join with them built its hash table
    on them (13-15 s per join at 10M checkouts). Largest first, it overestimates instead."""
    return [file for _, file in sorted(files, key=lambda pair: -pair[0])]


def require_unchanged(path: Path, checked: Fingerprint, source: Source, day: date) -> None:
    try:
        now = Fingerprint.of(path)
    except FileNotFoundError:
        now = None
    if now != checked:
        what = "is gone" if now is None else "changed (size or modification time)"
        raise LandingFileChanged(
            f"{path} {what} since {source.name} was ingested for {day}; its rows are read where "
            f"they land, so ingest the partition again (recon run --date {day})"
        )


def in_place_files(con: duckdb.DuckDBPyConnection, source: Source, day: date) -> list[Path]:
    rows = con.execute(
        "select _source_file from meta.ingested_files "
        "where _partition_date = ? and source = ? and read_in_place order by 1",
        [day, source.name],
    ).fetchall()
    return [Path(label) for (label,) in rows]
