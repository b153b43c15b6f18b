"""`recon show ID`: one discrepancy, the landed rows that prove it and its case's history.
Registered lazily in `pipelines.cli`; DuckDB is imported when the command runs."""

from datetime import UTC, datetime
from pathlib import Path

import click

from pipelines.cases.command import echo_case, indented, open_warehouse, text_table
from pipelines.cli_params import examples, warehouse_option

EVIDENCE_HEADER = ["SOURCE", "FILE:LINE", "RECORD", "KIND", "STATUS", "AMOUNT", "AT (UTC)"]


@click.command(
    epilog=examples(
        "recon show 68bfa65dd888",
        "recon show 68bfa65dd88891301cc124f87e4a7193 --warehouse data/warehouse.duckdb",
    )
)
@click.argument("discrepancy_id", metavar="ID")
@warehouse_option()
def show(discrepancy_id: str, warehouse: Path | None) -> None:
    """Show a discrepancy: its facts, the rule version and run that found it, every landed row
    behind it (file and line, to open in the landing files) and its case's history.

    ID is a discrepancy ID as in discrepancies.parquet, the reports and the alerts, or its
    first eight characters or more."""
    from recon.cases.errors import UnknownCase
    from recon.cases.queries import get_case
    from recon.evidence import UnknownDiscrepancy, find_finding

    with open_warehouse(warehouse) as con:
        try:
            finding = find_finding(con, discrepancy_id)
        except UnknownDiscrepancy as error:
            raise click.BadParameter(str(error), param_hint="ID") from error
        try:
            case, events = get_case(con, finding.discrepancy_id)
        except UnknownCase:
            case, events = None, []
    _echo_facts(finding.facts)
    _echo_evidence(finding.evidence)
    if case is None:
        click.echo("case: none yet (`recon run` opens one per discrepancy)")
    else:
        echo_case(case, events, datetime.now(UTC))


def _echo_facts(facts: dict) -> None:
    from recon.currencies import format_money

    lines = [
        ("type", f"{facts['type']} ({facts['severity']})"),
        ("checkout", facts["checkout_id"] or "-"),
        ("amount", format_money(facts["amount_minor"], facts["currency"])),
        ("date", facts["business_date"].isoformat()),
        ("details", facts["details"] or "-"),
        ("rule", facts.get("rule_version") or "-"),
        ("run", facts.get("run_id") or "-"),
    ]
    click.echo(f"discrepancy {facts['discrepancy_id']}")
    click.echo("\n".join(f"  {name:<10} {value}" for name, value in lines))


def _echo_evidence(rows: list[dict]) -> None:
    from recon.currencies import format_money

    if not rows:
        click.echo("evidence: none recorded (reconciled before evidence was kept: rerun the date)")
        return
    click.echo(f"evidence ({len(rows)} landed rows):")
    table = [
        [
            row["source"],
            f"{row['source_file']}:{row['line']}",
            row["record_id"] or "-",
            row["kind"] or "-",
            row["status"] or "-",
            format_money(row["amount_minor"], row["currency"]),
            f"{row['recorded_at']:%Y-%m-%d %H:%M:%S}"  # naive: UTC, as stored
            if row["recorded_at"]
            else "-",
        ]
        for row in rows
    ]
    click.echo(indented(text_table(EVIDENCE_HEADER, table)))
