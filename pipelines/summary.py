"""The end-of-run summary printed by `recon run`: count and amount by discrepancy type."""

from datetime import date

import duckdb

from recon.currencies import format_money
from recon.discrepancy_types import SEVERITIES


def summary_rows(con: duckdb.DuckDBPyConnection, day: date) -> list[tuple]:
    """(type, severity, count, amounts such as 'EUR 12.34, USD 5.00') by type, worst first."""
    rows = con.execute(
        """
        select type, severity, currency, count(*), sum(amount_minor)
        from marts.discrepancies where _partition_date = ?
        group by type, severity, currency
        """,
        [day],
    ).fetchall()
    grouped: dict[tuple[str, str], list] = {}
    for type_, severity, currency, count, amount in sorted(rows, key=lambda r: str(r[2])):
        entry = grouped.setdefault((type_, severity), [0, []])
        entry[0] += count
        if amount is not None:
            entry[1].append(format_money(int(amount), currency))
    ordered = sorted(grouped.items(), key=lambda kv: (SEVERITIES.index(kv[0][1]), kv[0][0]))
    return [(t, s, n, ", ".join(amounts)) for (t, s), (n, amounts) in ordered]


def format_table(rows: list[tuple]) -> str:
    header = ("type", "severity", "count", "amount")
    cells = [header] + [(t, s, str(n), a or "-") for t, s, n, a in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(
                cell.rjust(widths[i]) if i == 2 else cell.ljust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def at_or_above(rows: list[tuple], severity: str) -> int:
    threshold = SEVERITIES.index(severity)  # most severe first
    return sum(n for _, s, n, _ in rows if SEVERITIES.index(s) <= threshold)
