"""The evidence of a discrepancy: the landed rows behind it (`marts.discrepancy_evidence`, each
with its source, file and line). Tolerant on purpose: a warehouse built before the table existed,
or while its columns change, shows no evidence rather than failing the case page."""

import logging
from dataclasses import dataclass

import duckdb

from recon.warehouse import has_tables

TABLE = "marts.discrepancy_evidence"
LIMIT = 200
_FIRST = ("source", "source_file", "line")
_HIDDEN = {"discrepancy_id", "_partition_date"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evidence:
    columns: list[str]
    rows: list[tuple]
    more: bool  # there were more than LIMIT rows


def evidence_of(con: duckdb.DuckDBPyConnection, discrepancy_id: str) -> Evidence | None:
    """Its rows (whatever columns the table has, where it came from first), or None when the
    warehouse has no evidence table."""
    if not has_tables(con, TABLE):
        return None
    try:
        cursor = con.execute(
            f"select * from {TABLE} where discrepancy_id = ? order by all limit ?",
            [discrepancy_id, LIMIT + 1],
        )
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error as error:
        log.warning("%s unreadable, evidence not shown: %s", TABLE, error)
        return None
    shown = [name for name in _FIRST if name in names]
    shown += [name for name in names if name not in _HIDDEN and name not in shown]
    positions = [names.index(name) for name in shown]
    return Evidence(
        shown, [tuple(row[i] for i in positions) for row in rows[:LIMIT]], len(rows) > LIMIT
    )
