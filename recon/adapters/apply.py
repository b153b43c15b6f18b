"""Running a mapping over one provider file, in memory: the rows that become contract rows and the
rows quarantined with the adapter's name and the reason. Nothing touches the warehouse."""

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from recon.adapters.mapping import Mapping, base_column
from recon.adapters.mapping_sql import conditions_sql, mapping_sql, natives_of
from recon.adapters.provider_files import read_provider_file
from recon.landing import ACCEPTED, landing_kind
from recon.validation import quote_ident, typed

QUARANTINE_COLUMNS = ("adapter", "file", "line", "reason", "detail", "raw_text")
# An extra column on every mapped row: where in the provider's file it came from. Ingestion keeps
# it in the raw row's `_extra`, so evidence can be traced back past the converted file.
ORIGIN_COLUMN = "adapter_origin"


@dataclass(frozen=True)
class MappedFile:
    adapter: str
    source: str
    path: Path
    rows: pa.Table  # the contract's columns, typed, then ORIGIN_COLUMN
    quarantine: pa.Table  # QUARANTINE_COLUMNS
    read: int  # records read from the file (lines of JSON, CSV records, Parquet rows)
    filtered_out: int  # records the mapping's filter leaves out: not the contract's business
    missing_columns: list[str] = field(default_factory=list)  # named by the mapping, not in file

    def describe(self) -> str:
        lines = [
            f"{self.path}: {self.adapter} -> {self.source}: {self.read} record(s) read, "
            f"{self.filtered_out} filtered out, {self.rows.num_rows} row(s) would load, "
            f"{self.quarantine.num_rows} quarantined"
        ]
        if self.missing_columns:
            lines.append(
                f"  warning: columns not in the file (read as empty): "
                f"{', '.join(self.missing_columns)}"
            )
        return "\n".join(lines)


def provider_columns(mapping: Mapping) -> list[list[str]]:
    """The provider columns the mapping reads, in first-use order: each entry a list of
    alternatives (a `from` list takes the first non-blank), most a single column. A
    `col[key=k]` reference reads the column `col`."""
    names: list[list[str]] = [[name] for name in mapping.group_by]
    conditions = list(mapping.filter)
    for spec in [*mapping.let.values(), *mapping.columns.values()]:
        if spec.from_:
            names.append(list(spec.from_))
        if spec.sum:
            names.extend([n] for n in spec.sum.columns)
        for case in spec.cases or []:
            conditions.extend(case.when)
            if case.from_:
                names.append([case.from_])
            if case.sum:
                names.extend([n] for n in case.sum.columns)
        conditions.extend(spec.negate_when or [])
        if spec.timestamp and spec.timestamp.timezone_from:
            names.append([spec.timestamp.timezone_from])
    names += [[c.column] for c in conditions]
    return [list(dict.fromkeys(base_column(n) for n in alternatives)) for alternatives in names]


class UnknownFormatError(ValueError):
    """A file whose format neither the mapping nor its extension says."""


def file_format(mapping: Mapping, path: Path) -> str:
    if mapping.format != "auto":
        return mapping.format
    kind = landing_kind(path)
    if kind is None:
        raise UnknownFormatError(
            f"{path}: cannot tell its format from its name; accepted: {ACCEPTED}, or set "
            "`format` in the mapping"
        )
    return kind[0]


def provider_table(mapping: Mapping, path: Path) -> tuple[pa.Table, list[str]]:
    """The file's records as text, with every provider column the mapping reads (a column the
    file lacks is empty), and the columns it lacks entirely (worth a warning)."""
    table = read_provider_file(path, file_format(mapping, path))
    present = set(table.column_names)
    read = provider_columns(mapping)
    absent = {name for names in read for name in names if name not in present}
    for name in sorted(absent):
        table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    # Worth a warning when no alternative is there: an export without the column, or a typo.
    missing = list(dict.fromkeys(" or ".join(n) for n in read if absent.issuperset(n)))
    return table, missing


def mapping_session(mapping: Mapping, table: pa.Table) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB session holding the provider's records as `provider` and the mapped,
    contract-checked rows as `checked` (see `mapping_sql`); the caller closes it."""
    con = duckdb.connect()
    # Values without an offset are UTC (or the mapping's zone), never the machine's.
    con.execute("set TimeZone = 'UTC'")
    con.register("provider", table)
    con.execute(f"create temp table checked as {mapping_sql(mapping, table.column_names)}")
    return con


def apply_mapping(mapping: Mapping, path: Path) -> MappedFile:
    table, missing = provider_table(mapping, path)
    with mapping_session(mapping, table) as con:
        rows = _valid_rows(con, mapping, path)
        quarantine = _quarantine(con, mapping, path)
        passed = con.execute(
            f"select count(*) from provider where _error is null and "
            f"{conditions_sql(mapping.filter)}"
        ).fetchone()[0]
        parsed = con.execute("select count(*) from provider where _error is null").fetchone()[0]
    return MappedFile(
        adapter=mapping.name,
        source=mapping.target,
        path=path,
        rows=rows,
        quarantine=quarantine,
        read=table.num_rows,
        filtered_out=parsed - passed,
        missing_columns=missing,
    )


def _valid_rows(con: duckdb.DuckDBPyConnection, mapping: Mapping, path: Path) -> pa.Table:
    natives = natives_of(mapping)
    values = ", ".join(
        f"{typed(col, natives.get(col.name))} as {quote_ident(col.name)}"
        for col in mapping.source.columns
    )
    origin = f"? || ':' || _line as {quote_ident(ORIGIN_COLUMN)}"
    return con.sql(
        f"select {values}, {origin} from checked where _reason is null order by _line",
        params=[path.name],
    ).to_arrow_table()


def _quarantine(con: duckdb.DuckDBPyConnection, mapping: Mapping, path: Path) -> pa.Table:
    # Lines that could not be parsed, then rows that did not map or break the contract.
    return con.sql(
        "select ? as adapter, ? as file, _line as line, reason, detail, raw_text from ("
        "select _line, _error as reason, _error_detail as detail, _raw as raw_text "
        "from provider where _error is not null "
        "union all select _line, _reason, _detail, _raw from checked where _reason is not null"
        ") order by line",
        params=[mapping.name, str(path)],
    ).to_arrow_table()
