"""The reports as Dagster assets: one per report, and the index page linking them."""

from datetime import date

import dagster as dg
import polars as pl

from assets.resources import ReconConfig, Warehouse
from recon.reports.build import BUILDERS, ReportFiles, build_index

# The assets each report reads (its dependencies).
REPORT_INPUTS = {
    "finance": [
        ("marts", "finance_daily"),
        ("marts", "discrepancies"),
        ("marts", "cash_daily"),
        ("marts", "cash_waiting_captures"),
    ],
    "marketing": [("marts", "marketing_funnel"), ("marts", "marketing_attribution")],
    "revenue_bridge": [("marts", "revenue_bridge")],
    "discrepancies": [("marts", "discrepancies"), ("marts", "discrepancy_evidence")],
    "cases": [("cases", "sync")],
}


def _markdown(frame: pl.DataFrame, limit: int = 40) -> str:
    if frame.is_empty():
        return "nothing to show"
    columns = frame.columns
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.head(limit).iter_rows():
        lines.append("| " + " | ".join("" if v is None else str(v) for v in row) + " |")
    return "\n".join(lines)


def _metadata(name: str, files: ReportFiles) -> dict:
    page = files.pages[name]
    metadata: dict = {"html": dg.MetadataValue.path(str(page.resolve()))}
    figures = files.figures.get(name)
    if name == "finance" and figures:
        frame = pl.DataFrame([{"currency": c, **f} for c, f in sorted(figures.items())])
        metadata["by_currency"] = dg.MetadataValue.md(_markdown(frame))
    elif name == "marketing" and figures:
        metadata.update({k: int(v) for k, v in figures.items()})
    elif name == "revenue_bridge" and figures:
        rows = [
            {"currency": c, "line": line, "amount_minor": a}
            for (c, line), a in figures["lines"].items()
        ]
        metadata["bridge"] = dg.MetadataValue.md(_markdown(pl.DataFrame(rows), limit=100))
        metadata["closes"] = all(figures["closes"].values())
    elif name in ("discrepancies", "cases") and figures:
        metadata.update({k: int(v) for k, v in figures.items()})
    return metadata


def _report_asset(name: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    build = BUILDERS[name]

    @dg.asset(
        key=["reports", name],
        deps=[dg.AssetKey(list(key)) for key in REPORT_INPUTS[name]],
        group_name="reports",
        partitions_def=partitions_def,
        pool="duckdb",
        kinds={"html"},
        description=f"The {name.replace('_', ' ')} report: HTML page with charts, CSV and Parquet.",
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: Warehouse, recon: ReconConfig
    ) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        files = ReportFiles(recon.out_for(day) / "reports", case_url=recon.web_url)
        files.root.mkdir(parents=True, exist_ok=True)
        with warehouse.session() as con:
            build(con, day, files)
        return dg.MaterializeResult(metadata=_metadata(name, files))

    return _asset


def report_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["reports", "index"],
        deps=[dg.AssetKey(["reports", name]) for name in BUILDERS],
        group_name="reports",
        partitions_def=partitions_def,
        pool="duckdb",
        kinds={"html"},
        description="The index page of a date's reports, with its key figures.",
    )
    def index(
        context: dg.AssetExecutionContext, warehouse: Warehouse, recon: ReconConfig
    ) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        files = ReportFiles(recon.out_for(day) / "reports")
        with warehouse.session() as con:
            build_index(con, day, files)
        return dg.MaterializeResult(
            metadata={"html": dg.MetadataValue.path(str(files.pages["index"].resolve()))}
        )

    return [_report_asset(name, partitions_def) for name in BUILDERS] + [index]
