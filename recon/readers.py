"""Reading text landing files (CSV, JSON-lines) into Arrow tables of raw text values.

Parsing happens here, line by line, so that a bad line becomes a quarantined row with its line
number instead of failing the whole file; typing and contract checks happen afterwards in SQL,
identically for every format (see `validation.py`).
"""

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from recon.contract import Source

# Columns every reader produces besides the contract's own.
META = ("_line", "_raw", "_error", "_error_detail", "_extra")

# Text files are parsed in memory, at about five times their size; a bigger export fails its
# source with a clear error instead of exhausting memory. Parquet is read by DuckDB as a stream.
MAX_TEXT_FILE_BYTES = 1 << 30

# The csv module refuses fields above 128 KiB with an error that loses the row's text; widths are
# the contract's to judge (`value_too_long`), with the row kept whole in the quarantine.
csv.field_size_limit(2**31 - 1)


class MissingColumnsError(ValueError):
    """A landing file lacks required contract columns; the whole source fails to load."""

    def __init__(self, path: Path, missing: list[str]) -> None:
        self.path = path
        self.missing = missing
        names = ", ".join(missing)
        super().__init__(f"{path}: missing required column(s) {names}")


class UnreadableFileError(ValueError):
    """A landing file cannot be read at all (truncated Parquet, not a file of its format)."""


@dataclass
class TextRows:
    """Accumulates one file's rows as columns of text, ready to become an Arrow table."""

    source: Source

    def __post_init__(self) -> None:
        self.columns: dict[str, list] = {name: [] for name in (*META, *self.source.column_names)}

    def add(self, line: int, raw: str, values: dict[str, str | None], extra: str | None) -> None:
        self._append(line, raw, None, None, extra, values)

    def reject(self, line: int, raw: str, reason: str, detail: str) -> None:
        self._append(line, raw, reason, detail, None, {})

    def _append(self, line, raw, error, detail, extra, values) -> None:
        self.columns["_line"].append(line)
        self.columns["_raw"].append(raw)
        self.columns["_error"].append(error)
        self.columns["_error_detail"].append(detail)
        self.columns["_extra"].append(extra)
        for name in self.source.column_names:
            self.columns[name].append(values.get(name))

    def to_arrow(self) -> pa.Table:
        types = {"_line": pa.int64()}
        return pa.table(
            {
                name: pa.array(vals, type=types.get(name, pa.string()))
                for name, vals in self.columns.items()
            }
        )


_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _decode(path: Path, max_bytes: int) -> str:
    size = path.stat().st_size
    if size > max_bytes:
        raise UnreadableFileError(
            f"{path}: {size / 2**20:,.0f} MiB of text, above the {max_bytes / 2**20:,.0f} MiB a "
            "CSV or JSON-lines file may have (they are parsed in memory); split the export or "
            "send it as Parquet"
        )
    # surrogateescape keeps undecodable bytes visible per line instead of failing the whole file.
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    return text.removeprefix("\ufeff")


def _has_bad_bytes(text: str) -> bool:
    return _UNDECODABLE.search(text) is not None


def _printable(text: str) -> str:
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def _require(path: Path, source: Source, present: set[str]) -> None:
    missing = [c.name for c in source.columns if c.required and c.name not in present]
    if missing:
        raise MissingColumnsError(path, missing)


def read_jsonl(
    path: Path, source: Source, max_bytes: int = MAX_TEXT_FILE_BYTES
) -> tuple[pa.Table, int]:
    """Each non-blank line is one row; returns the rows and how many were read."""
    rows = TextRows(source)
    keys_seen: set[str] = set()
    known = set(source.column_names)
    for number, line in enumerate(_decode(path, max_bytes).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        raw = _printable(line)
        if _has_bad_bytes(line):
            rows.reject(number, raw, "invalid_encoding", "line is not valid UTF-8")
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            rows.reject(number, raw, "malformed_json", f"not valid JSON: {exc.msg}")
            continue
        if not isinstance(record, dict):
            rows.reject(number, raw, "malformed_json", "line is JSON but not an object")
            continue
        keys_seen.update(record)
        nested = [k for k in source.column_names if isinstance(record.get(k), dict | list)]
        if nested:
            rows.reject(number, raw, "nested_value", f"column {nested[0]} holds an object or list")
            continue
        values = {k: _scalar_text(record.get(k)) for k in known}
        extra = {k: v for k, v in record.items() if k not in known}
        rows.add(number, raw, values, json.dumps(extra, sort_keys=True) if extra else None)
    if rows.columns["_line"] and keys_seen:
        _require(path, source, keys_seen)
    return rows.to_arrow(), len(rows.columns["_line"])


def _scalar_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_csv(
    path: Path, source: Source, max_bytes: int = MAX_TEXT_FILE_BYTES
) -> tuple[pa.Table, int]:
    """A header line, then one row per record (quoted fields may span lines)."""
    rows = TextRows(source)
    text = _decode(path, max_bytes)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return rows.to_arrow(), 0
    header = [h.strip() for h in header]
    _require(path, source, set(header))
    known = set(source.column_names)
    first_line = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.reject(first_line, "", "malformed_csv_row", f"CSV parse error: {exc}")
            first_line = reader.line_num + 1
            continue
        number, first_line = first_line, reader.line_num + 1
        if not fields or fields == [""]:
            continue
        raw = _printable(",".join(fields))
        if any(_has_bad_bytes(f) for f in fields):
            rows.reject(number, raw, "invalid_encoding", "row is not valid UTF-8")
            continue
        if len(fields) != len(header):
            detail = f"expected {len(header)} fields, found {len(fields)}"
            rows.reject(number, raw, "malformed_csv_row", detail)
            continue
        record = dict(zip(header, fields, strict=True))
        values = {k: (v if v != "" else None) for k, v in record.items() if k in known}
        extra = {k: v for k, v in record.items() if k not in known}
        rows.add(number, raw, values, json.dumps(extra, sort_keys=True) if extra else None)
    return rows.to_arrow(), len(rows.columns["_line"])
