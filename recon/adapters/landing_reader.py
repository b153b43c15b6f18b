"""A provider's export in a landing folder, read through its adapter in the shape the contract
readers give (`recon.readers`): one row per mapped row, the contract's columns as text, and the
META columns. Ingestion then validates, stores and quarantines these rows like any landing file's,
so the audit (rows read = loaded + quarantined) holds per provider file.

- `_line` and `_raw` are the provider file's line and text (for a `group_by` adapter, the group's
  first line and all its lines' text);
- a row the adapter rejects (a line that does not parse, a value that does not convert, a contract
  check the mapped row fails) keeps `_error` = `adapter_unmapped`, with `_error_detail` =
  `<adapter>: <reason>: <detail>`, so the quarantine says which adapter and why;
- records the mapping's `filter` leaves out are not rows: not the contract's business, as in
  `recon adapters check`.

Mapped values are written as the text the contract's validation parses back to the same value:
integers in decimal, timestamps as ISO-8601 UTC with `Z` and microseconds."""

import logging
from pathlib import Path

import pyarrow as pa

from recon.adapters.apply import mapping_session, provider_table
from recon.adapters.mapping import Mapping
from recon.adapters.mapping_sql import literal, natives_of
from recon.contract import Column, Kind, Source
from recon.readers import META
from recon.validation import quote_ident, typed

log = logging.getLogger(__name__)

# The quarantine reason of every provider row its adapter does not turn into a contract row.
ADAPTER_UNMAPPED = "adapter_unmapped"


def read_through_adapter(mapping: Mapping, path: Path, source: Source) -> tuple[pa.Table, int]:
    """The reader `recon.ingest` calls for a source with an adapter: (rows, rows read)."""
    if mapping.target != source.name:
        raise ValueError(f"adapter {mapping.name} feeds {mapping.target}, not {source.name}")
    table, missing = provider_table(mapping, path)
    if missing:
        log.warning(
            "%s: adapter %s: columns not in the file (read as empty): %s",
            path,
            mapping.name,
            ", ".join(missing),
        )
    with mapping_session(mapping, table) as con:
        rows = con.sql(_rows_sql(mapping, source), params=[path.name]).to_arrow_table()
    return _text_shape(rows, source), rows.num_rows


def _as_text(col: Column, native: str | None) -> str:
    """A mapped row's value as the text `validation.typed` reads back to the same value."""
    value = typed(col, native)
    if col.kind is Kind.TIMESTAMP:
        return f"strftime({value}, '%Y-%m-%dT%H:%M:%S.%fZ')"
    if col.kind is Kind.INTEGER:
        return f"cast({value} as varchar)"
    return value


def _rows_sql(mapping: Mapping, source: Source) -> str:
    """Mapped rows (the `checked` table) and lines that did not parse, in file order."""
    natives = natives_of(mapping)
    values = ", ".join(
        f"case when _reason is null then {_as_text(col, natives.get(col.name))} end "
        f"as {quote_ident(col.name)}"
        for col in source.columns
    )
    nulls = ", ".join(f"null::varchar as {quote_ident(col.name)}" for col in source.columns)
    name = literal(mapping.name)
    unmapped = literal(ADAPTER_UNMAPPED)
    extra = f"json_object('adapter', {name}, 'adapter_origin', ? || ':' || _line)::varchar"
    return f"""
        select _line, _raw,
            case when _reason is not null then {unmapped} end as _error,
            case when _reason is not null then {name} || ': ' || _reason || ': ' || _detail
            end as _error_detail,
            case when _reason is null then {extra} end as _extra,
            {values}
        from checked
        union all
        select _line, _raw, {unmapped}, {name} || ': ' || _error || ': ' || _error_detail,
            null::varchar, {nulls}
        from provider where _error is not null
        order by _line
    """


def _text_shape(rows: pa.Table, source: Source) -> pa.Table:
    """The table exactly as `readers.TextRows.to_arrow` builds it: `_line` an integer, every
    other column text, in META-then-contract order."""
    names = [*META, *source.column_names]
    return pa.table(
        {
            name: rows.column(name).cast(pa.int64() if name == "_line" else pa.string())
            for name in names
        }
    )
