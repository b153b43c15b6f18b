"""The end-of-run summary printed by `recon run`: count and amount by discrepancy type."""

from datetime import date

import duckdb

SEVERITIES = ("low", "medium", "high", "critical")


def summary_rows(con: duckdb.DuckDBPyConnection, day: date) -> list[tuple]:
    """(type, severity, count, amounts as 'EUR 12.34, USD 5.00' in minor units) by type."""
    return con.execute(
        """
        with per_currency as (
            select type, severity, currency, count(*) as n, sum(amount_minor) as amount_minor
            from marts.discrepancies where _partition_date = ?
            group by type, severity, currency
        )
        select
            type,
            severity,
            sum(n) as n,
            string_agg(
                case when amount_minor is not null then currency || ' ' || amount_minor end,
                ', ' order by currency
            ) as amounts
        from per_currency
        group by type, severity
        order by
            case severity when 'critical' then 0 when 'high' then 1 when 'medium' then 2 else 3 end,
            type
        """,
        [day],
    ).fetchall()


def format_table(rows: list[tuple]) -> str:
    header = ("type", "severity", "count", "amount (minor units)")
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
    threshold = SEVERITIES.index(severity)
    return sum(n for _, s, n, _ in rows if SEVERITIES.index(s) >= threshold)
