"""Rows written as landing files: the layout and formats the pipeline reads
(`<landing>/<source>/<YYYY-MM-DD>/<name>-<nn>.<ext>`), for services mode (the service databases'
rows) and for the test-data generators."""

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from recon.contract import SOURCES as CONTRACT
from recon.contract import Kind

SOURCES = tuple(CONTRACT)
COLUMNS: dict[str, tuple[str, ...]] = {name: s.column_names for name, s in CONTRACT.items()}
INTEGER_COLUMNS = frozenset(
    c.name for s in CONTRACT.values() for c in s.columns if c.kind is Kind.INTEGER
)
TIMESTAMP_COLUMNS = frozenset(
    c.name for s in CONTRACT.values() for c in s.columns if c.kind is Kind.TIMESTAMP
)
LANDING_TIME: dict[str, str] = {name: s.landing_time for name, s in CONTRACT.items()}


# parquet: native (timezone-naive UTC) timestamps; parquet_text: ISO-8601 text with +00:00;
# jsonl and csv: ISO-8601 text ending in Z. Both styles occur in real exports.
FORMATS = ("parquet", "parquet_text", "jsonl", "csv")
DEFAULT_FORMATS: dict[str, str] = {
    "orders": "parquet",
    "payments": "jsonl",
    "inventory_moves": "csv",
    "fulfillments": "parquet_text",
    "analytics_events": "jsonl",
    # Providers send settlement reports as CSV files; payouts come from their API as JSON.
    "settlements": "csv",
    "payouts": "jsonl",
}
# Orders arrive as a multi-file export, so ingestion has to union files of one day.
DEFAULT_PARTS: dict[str, int] = {"orders": 2}
_EXTENSIONS = {"parquet": "parquet", "parquet_text": "parquet", "jsonl": "jsonl", "csv": "csv"}


@dataclass(frozen=True)
class RawLine:
    """A line written verbatim into a text file (jsonl/csv): how a malformed record is made.
    `at` decides its landing folder and position, as a row's timestamp would."""

    text: str
    at: datetime


@dataclass(frozen=True)
class WrittenFile:
    source: str
    landing_date: date
    path: Path
    rows: int


Row = dict | RawLine


def write_rows(
    landing: Path,
    rows_by_source: dict[str, list[Row]],
    formats: dict[str, str] | None = None,
    *,
    parts: dict[str, int] | None = None,
    name: str = "export",
) -> list[WrittenFile]:
    """Write rows to `<landing>/<source>/<YYYY-MM-DD>/<name>-<nn>.<ext>`.

    Each row lands in the folder of the UTC date of the time it was written (`LANDING_TIME`:
    created_at, updated_at for status-change rows, received_at for client events), files hold
    rows in time order, and a source in `parts` is split into that many files per day. Columns
    are the contract's that the rows have, then any extra keys; a row may hold a deliberately
    wrong value (a string in a timestamp column, say), which the column then carries as text.
    """
    formats = {**DEFAULT_FORMATS, **(formats or {})}
    parts = DEFAULT_PARTS if parts is None else parts
    written = []
    for source in sorted(rows_by_source, key=_source_order):
        fmt = formats[source]
        if fmt not in FORMATS:
            raise ValueError(f"unknown landing format {fmt!r} for {source}; known: {FORMATS}")
        for day, day_rows in _by_landing_date(source, rows_by_source[source]).items():
            for number, chunk in enumerate(_split(day_rows, parts.get(source, 1))):
                path = (
                    landing / source / day.isoformat() / f"{name}-{number:02d}.{_EXTENSIONS[fmt]}"
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                _WRITERS[fmt](path, source, chunk)
                written.append(WrittenFile(source, day, path, len(chunk)))
    return written


def _source_order(source: str) -> int:
    if source not in COLUMNS:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    return SOURCES.index(source)


def _landing_time(source: str, row: Row) -> datetime:
    moment = row.at if isinstance(row, RawLine) else row[LANDING_TIME[source]]
    if not isinstance(moment, datetime):
        raise ValueError(f"{source}: {LANDING_TIME[source]} must be a datetime to place the row")
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _by_landing_date(source: str, rows: list[Row]) -> dict[date, list[Row]]:
    ordered = sorted(rows, key=lambda row: _landing_time(source, row))
    days: dict[date, list[Row]] = {}
    for row in ordered:
        days.setdefault(_landing_time(source, row).date(), []).append(row)
    return dict(sorted(days.items()))


def _split(rows: list[Row], parts: int) -> list[list[Row]]:
    size = -(-len(rows) // max(parts, 1))
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def _columns(source: str, rows: Iterable[dict]) -> list[str]:
    present: dict[str, None] = {}
    for row in rows:
        present.update(dict.fromkeys(row))
    contract = [c for c in COLUMNS[source] if c in present]
    return contract + [c for c in present if c not in COLUMNS[source]]


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def iso_z(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, milliseconds only when there are any (as JSON exporters write)."""
    spec = "milliseconds" if moment.microsecond else "seconds"
    return _naive_utc(moment).isoformat(timespec=spec) + "Z"


def iso_offset(moment: datetime) -> str:
    return _naive_utc(moment).replace(tzinfo=UTC).isoformat()


def text_value(value: object, stamp: Callable[[datetime], str]) -> object:
    return stamp(value) if isinstance(value, datetime) else value


def _write_jsonl(path: Path, source: str, rows: list[Row]) -> None:
    lines = []
    for row in rows:
        if isinstance(row, RawLine):
            lines.append(row.text)
            continue
        record = {column: text_value(row[column], iso_z) for column in _columns(source, [row])}
        lines.append(json.dumps(record, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_csv(path: Path, source: str, rows: list[Row]) -> None:
    header = _columns(source, [row for row in rows if isinstance(row, dict)])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        if isinstance(row, RawLine):
            buffer.write(row.text + "\n")
            continue
        values = [text_value(row.get(column), iso_z) for column in header]
        writer.writerow(["" if value is None else value for value in values])
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _write_parquet(path: Path, source: str, rows: list[Row], timestamps_as_text: bool) -> None:
    if any(isinstance(row, RawLine) for row in rows):
        raise ValueError(f"{path}: a raw line cannot be written to Parquet")
    columns = _columns(source, rows)
    arrays = {
        column: _arrow_column(column, [row.get(column) for row in rows], timestamps_as_text)
        for column in columns
    }
    pq.write_table(pa.table(arrays), path)


def _arrow_column(column: str, values: list, timestamps_as_text: bool) -> pa.Array:
    present = [value for value in values if value is not None]
    # An all-null column still gets the contract's type, as a real export's schema would.
    if column in TIMESTAMP_COLUMNS and all(isinstance(v, datetime) for v in present):
        if timestamps_as_text:
            return pa.array([None if v is None else iso_offset(v) for v in values], pa.string())
        return pa.array([None if v is None else _naive_utc(v) for v in values], pa.timestamp("us"))
    if column in INTEGER_COLUMNS and all(_is_int(v) for v in present):
        return pa.array(values, pa.int64())
    if all(isinstance(v, str) for v in present):
        return pa.array(values, pa.string())
    stamp = iso_offset if timestamps_as_text else iso_z
    return pa.array([None if v is None else str(text_value(v, stamp)) for v in values])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_WRITERS: dict[str, Callable[[Path, str, list[Row]], None]] = {
    "parquet": lambda path, source, rows: _write_parquet(path, source, rows, False),
    "parquet_text": lambda path, source, rows: _write_parquet(path, source, rows, True),
    "jsonl": _write_jsonl,
    "csv": _write_csv,
}
