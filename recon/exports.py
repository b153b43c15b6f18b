"""The files a person or another system reads from a partition: its discrepancies, their evidence
and its quarantine as Parquet under the out directory."""

from datetime import date
from pathlib import Path

import duckdb

from recon.discrepancy_types import severity_rank_sql

# The run's ID is left out (it is in the warehouse): the same input gives byte-identical files.
DISCREPANCY_COLUMNS = (
    "discrepancy_id, type, severity, checkout_id, subject_id, amount_minor, currency, "
    "business_date, details, rule_version"
)
# _loaded_at is left out so the same input always gives byte-identical files.
QUARANTINE_COLUMNS = "source, _source_file as file, _line as line, reason, detail, raw_text"


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    target = str(tmp).replace("'", "''")
    # COPY answers with the rows it wrote: the query runs once.
    [(written,)] = con.execute(f"copy ({query}) to '{target}' (format parquet)").fetchall()
    # Readers never see a half-written file.
    tmp.replace(path)
    return int(written)


def write_exports(con: duckdb.DuckDBPyConnection, day: date, out: Path) -> dict[str, int]:
    """`discrepancies.parquet` (most severe first), `discrepancy_evidence.parquet` (the landed
    rows behind each, by discrepancy and file address) and `quarantine.parquet` of `day` in
    `out`; returns the rows of each."""
    when = f"_partition_date = date '{day.isoformat()}'"
    discrepancies = (
        f"select {DISCREPANCY_COLUMNS} from marts.discrepancies where {when} "
        f"order by {severity_rank_sql()}, type, checkout_id, discrepancy_id"
    )
    evidence = (
        f"select * exclude (_partition_date) from marts.discrepancy_evidence where {when} "
        f"order by discrepancy_id, source, source_file, line"
    )
    quarantine = (
        f"select {QUARANTINE_COLUMNS} from raw.quarantine where {when} order by source, file, line"
    )
    return {
        "discrepancies": _copy(con, discrepancies, out / "discrepancies.parquet"),
        "evidence_rows": _copy(con, evidence, out / "discrepancy_evidence.parquet"),
        "quarantined": _copy(con, quarantine, out / "quarantine.parquet"),
    }
