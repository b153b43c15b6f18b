"""Reading a provider's export into an Arrow table of text: one column per provider column (nested
JSON flattened to dotted paths: `context.campaign.source`), plus `_line`, `_raw` and, for a line
that cannot be parsed, `_error` and `_error_detail`.

Text is decoded as the landing readers do (UTF-8, a byte-order mark ignored, .gz and .zst
decompressed, the same size cap), so an export fails or quarantines for the same reasons."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from recon.readers import (
    MAX_TEXT_FILE_BYTES,
    UnreadableFileError,
    csv_records,
    decode_text,
    json_object,
    jsonl_lines,
)

META = ("_line", "_raw", "_error", "_error_detail")


class ProviderRows:
    """Accumulates rows whose columns are only known as they are read (JSON lines differ)."""

    def __init__(self) -> None:
        self.meta: dict[str, list] = {name: [] for name in META}
        self.values: dict[str, list] = {}
        self.count = 0

    def add(self, line: int, raw: str, record: dict[str, str | None]) -> None:
        self._append(line, raw, None, None)
        for name, value in record.items():
            column = self.values.setdefault(name, [None] * (self.count - 1))
            column.append(value)
        for column in self.values.values():
            if len(column) < self.count:
                column.append(None)

    def reject(self, line: int, raw: str, reason: str, detail: str) -> None:
        self._append(line, raw, reason, detail)
        for column in self.values.values():
            column.append(None)

    def _append(self, line: int, raw: str, error: str | None, detail: str | None) -> None:
        self.count += 1
        for name, value in zip(META, (line, raw, error, detail), strict=True):
            self.meta[name].append(value)

    def to_arrow(self) -> pa.Table:
        columns = {
            name: pa.array(v, pa.int64() if name == "_line" else pa.string())
            for name, v in self.meta.items()
        }
        columns.update({name: pa.array(v, pa.string()) for name, v in self.values.items()})
        return pa.table(columns)


def read_provider_file(path: Path, fmt: str, max_bytes: int = MAX_TEXT_FILE_BYTES) -> pa.Table:
    if fmt == "csv":
        return _read_csv(path, max_bytes)
    if fmt == "jsonl":
        return _read_jsonl(path, max_bytes)
    return _read_parquet(path)


def _scalar(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def flatten(record: dict, prefix: str = "") -> dict[str, str | None]:
    """Nested objects become dotted names; lists stay whole, as JSON text."""
    flat: dict[str, str | None] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = _scalar(value)
    return flat


def _read_jsonl(path: Path, max_bytes: int) -> pa.Table:
    rows = ProviderRows()
    for number, line in jsonl_lines(decode_text(path, max_bytes)):
        raw = line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        record, error = json_object(line)
        if error is not None:
            rows.reject(number, raw, "malformed_json", error)
            continue
        rows.add(number, raw, flatten(record))
    return rows.to_arrow()


def _read_csv(path: Path, max_bytes: int) -> pa.Table:
    rows = ProviderRows()
    header, records = csv_records(decode_text(path, max_bytes))
    header = header or []
    for number, fields, error in records:
        if error is not None:
            rows.reject(number, "", "malformed_csv_row", error)
            continue
        raw = ",".join(fields).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if len(fields) != len(header):
            detail = f"expected {len(header)} fields, found {len(fields)}"
            rows.reject(number, raw, "malformed_csv_row", detail)
            continue
        rows.add(
            number, raw, {h: (f if f != "" else None) for h, f in zip(header, fields, strict=True)}
        )
    table = rows.to_arrow()
    # A header-only file still names its columns: a mapping's missing columns are then real.
    for name in header:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table


def _read_parquet(path: Path) -> pa.Table:
    try:
        records = pq.read_table(path).to_pylist()
    except (OSError, pa.ArrowException) as exc:
        raise UnreadableFileError(f"{path}: cannot read as Parquet: {exc}") from exc
    rows = ProviderRows()
    for number, record in enumerate(records, start=1):
        rows.add(number, json.dumps(record, default=str, ensure_ascii=False), flatten(record))
    return rows.to_arrow()
