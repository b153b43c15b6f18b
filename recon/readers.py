"""Reading text landing files (CSV, JSON-lines, plain or compressed) into Arrow tables of raw text
values.

Parsing happens here, line by line, so that a bad line becomes a quarantined row with its line
number instead of failing the whole file; typing and contract checks happen afterwards in SQL,
identically for every format (see `validation.py`).
"""

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from recon.contract import Source
from recon.landing import landing_kind

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


class NotUtf8Error(UnreadableFileError):
    """A text landing file in another encoding than UTF-8, as a whole: its header would otherwise
    fail as missing columns, or every line be quarantined for a reason that hides the cause."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(f"{path}: {problem}; export it as UTF-8")


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


# Checked longest first: a UTF-32 little-endian mark begins with the UTF-16 one.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_READ_CHUNK = 1 << 24


def decode_text(path: Path, max_bytes: int) -> str:
    """A text file's content (a landing file, or a provider's export for the adapters):
    decompressed by its extension, at most `max_bytes`, UTF-8 required, a byte order mark
    dropped."""
    data = _read_bytes(path, max_bytes)
    _require_utf8(path, data)
    # surrogateescape keeps undecodable bytes visible per line instead of failing the whole file.
    text = data.decode("utf-8", errors="surrogateescape")
    return text.removeprefix("\ufeff")


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, decompressed when its name says so; at most `max_bytes` of them."""
    kind = landing_kind(path)
    compression = kind[1] if kind else None
    if compression is None:
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_big(path, f"{size / 2**20:,.0f} MiB of text", max_bytes)
        return path.read_bytes()
    chunks, total = [], 0
    try:
        with pa.input_stream(str(path), compression=compression) as stream:
            # Read in chunks up to the cap: the decompressed size is known only by reading.
            while total <= max_bytes and (chunk := stream.read(_READ_CHUNK)):
                chunks.append(chunk)
                total += len(chunk)
    except (OSError, pa.ArrowException) as exc:
        raise UnreadableFileError(f"{path}: cannot decompress as {compression}: {exc}") from exc
    if total > max_bytes:
        raise _too_big(path, "decompressed, more text", max_bytes)
    return b"".join(chunks)


def _too_big(path: Path, amount: str, max_bytes: int) -> UnreadableFileError:
    return UnreadableFileError(
        f"{path}: {amount}, above the {max_bytes / 2**20:,.0f} MiB a CSV or JSON-lines file may "
        "have (they are parsed in memory); split the export or send it as Parquet"
    )


def _require_utf8(path: Path, data: bytes) -> None:
    """Fail a file that is in UTF-16 or UTF-32 as a whole; stray bytes of another encoding in a
    UTF-8 file are left to the lines that hold them (quarantined as `invalid_encoding`)."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            raise NotUtf8Error(path, f"file is {encoding} (byte order mark found)")
    sample = data[:4096]
    for half in (sample[0::2], sample[1::2]):
        # Text in UTF-16 without a mark: the high byte of every ASCII character is zero.
        if len(half) >= 2 and half.count(0) > len(half) // 2:
            raise NotUtf8Error(path, "file looks like UTF-16 (every other byte is zero)")


def _has_bad_bytes(text: str) -> bool:
    return _UNDECODABLE.search(text) is not None


def _printable(text: str) -> str:
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def _require(path: Path, source: Source, present: set[str]) -> None:
    missing = [c.name for c in source.columns if c.required and c.name not in present]
    if missing:
        raise MissingColumnsError(path, missing)


def _require_header(path: Path, source: Source, header: list[str]) -> None:
    """A header of undecodable names would fail as missing columns: say what is really wrong."""
    missing = [c.name for c in source.columns if c.required and c.name not in header]
    if missing and any(_has_bad_bytes(name) for name in header):
        raise NotUtf8Error(
            path, "header line is not valid UTF-8 (Latin-1 or Windows-1252, perhaps)"
        )
    _require(path, source, set(header))


def read_jsonl(
    path: Path, source: Source, max_bytes: int = MAX_TEXT_FILE_BYTES
) -> tuple[pa.Table, int]:
    """Each non-blank line is one row; returns the rows and how many were read."""
    rows = TextRows(source)
    keys_seen: set[str] = set()
    known = set(source.column_names)
    for number, line in jsonl_lines(decode_text(path, max_bytes)):
        raw = _printable(line)
        if _has_bad_bytes(line):
            rows.reject(number, raw, "invalid_encoding", "line is not valid UTF-8")
            continue
        record, error = json_object(line)
        if error is not None:
            rows.reject(number, raw, "malformed_json", error)
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


def jsonl_lines(text: str) -> Iterator[tuple[int, str]]:
    """The non-blank lines of JSON-lines text with their 1-based numbers, a trailing CR dropped."""
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line


def json_object(line: str) -> tuple[dict | None, str | None]:
    """The line's JSON object, or None and why it is not one (a `malformed_json` detail)."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        return None, f"not valid JSON: {exc.msg}"
    if not isinstance(record, dict):
        return None, "line is JSON but not an object"
    return record, None


def csv_records(
    text: str,
) -> tuple[list[str] | None, Iterator[tuple[int, list[str], str | None]]]:
    """CSV text's header (stripped names; None for an empty text) and its records after it, each
    with the line it starts on (quoted fields may span lines): `(line, fields, None)`, or
    `(line, [], error)` for a record the csv module cannot parse. Blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return None, iter(())

    def records() -> Iterator[tuple[int, list[str], str | None]]:
        first_line = reader.line_num + 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield first_line, [], f"CSV parse error: {exc}"
                first_line = reader.line_num + 1
                continue
            number, first_line = first_line, reader.line_num + 1
            if fields and fields != [""]:
                yield number, fields, None

    return header, records()


def read_csv(
    path: Path, source: Source, max_bytes: int = MAX_TEXT_FILE_BYTES
) -> tuple[pa.Table, int]:
    """A header line, then one row per record (quoted fields may span lines)."""
    rows = TextRows(source)
    header, records = csv_records(decode_text(path, max_bytes))
    if header is None:
        return rows.to_arrow(), 0
    _require_header(path, source, header)
    known = set(source.column_names)
    for number, fields, error in records:
        if error is not None:
            rows.reject(number, "", "malformed_csv_row", error)
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
