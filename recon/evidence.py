"""One finding and the evidence behind it, read back from the warehouse (`recon show`).

A discrepancy ID names one finding; it is in the partition of the date that reported it (a
rerun replaces the rows, never adds a second). `marts.discrepancy_evidence` holds the landed
rows behind it, each with its file and line."""

from dataclasses import dataclass
from datetime import date

import duckdb

from recon.warehouse import has_tables

MIN_PREFIX = 8


class UnknownDiscrepancy(LookupError):
    """No finding has this ID (or ID prefix); the message says what was looked for."""


@dataclass(frozen=True)
class Finding:
    facts: dict  # the row of marts.discrepancies, its columns by name
    evidence: list[dict]  # the rows of marts.discrepancy_evidence, by file and line

    @property
    def discrepancy_id(self) -> str:
        return self.facts["discrepancy_id"]


def find_finding(con: duckdb.DuckDBPyConnection, id_or_prefix: str) -> Finding:
    """The finding whose ID is `id_or_prefix`, or the only one starting with it (at least
    MIN_PREFIX characters), with its evidence; the latest partition's if several hold it."""
    text = id_or_prefix.strip().lower()
    if not has_tables(con, "marts.discrepancies"):
        raise UnknownDiscrepancy("no discrepancies in this warehouse yet: run `recon run` first")
    if len(text) < MIN_PREFIX:
        raise UnknownDiscrepancy(
            f"{id_or_prefix!r}: a discrepancy ID prefix needs at least {MIN_PREFIX} characters"
        )
    ids = [
        row[0]
        for row in con.execute(
            "select distinct discrepancy_id from marts.discrepancies "
            "where starts_with(discrepancy_id, ?) order by 1 limit 6",
            [text],
        ).fetchall()
    ]
    if not ids:
        raise UnknownDiscrepancy(f"no discrepancy has the ID {id_or_prefix!r}")
    if len(ids) > 1 and text not in ids:
        listed = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
        raise UnknownDiscrepancy(f"{id_or_prefix!r} is the start of several IDs: {listed}")
    found = text if text in ids else ids[0]
    facts = _rows(
        con,
        "select * from marts.discrepancies where discrepancy_id = ? "
        "order by _partition_date desc limit 1",
        [found],
    )[0]
    return Finding(facts, evidence_of(con, found, facts["_partition_date"]))


def evidence_of(con: duckdb.DuckDBPyConnection, discrepancy_id: str, day: date) -> list[dict]:
    """The evidence rows of one finding of partition `day`, by source, file and line."""
    if not has_tables(con, "marts.discrepancy_evidence"):
        return []  # a warehouse reconciled before evidence was recorded
    return _rows(
        con,
        "select * exclude (_partition_date, discrepancy_id) from marts.discrepancy_evidence "
        "where _partition_date = ? and discrepancy_id = ? order by source, source_file, line",
        [day, discrepancy_id],
    )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
