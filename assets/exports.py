"""The exports asset: `recon.exports` writes the partition's discrepancies, their evidence and
its quarantine as Parquet under the configured out directory."""

from datetime import date

import dagster as dg

from assets.resources import ReconConfig, Warehouse
from recon.contract import SOURCES
from recon.exports import write_exports


def export_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["exports", "discrepancy_files"],
        deps=[
            dg.AssetKey(["marts", "discrepancies"]),
            dg.AssetKey(["marts", "discrepancy_evidence"]),
        ]
        + [dg.AssetKey(["raw", name]) for name in SOURCES],
        group_name="exports",
        partitions_def=partitions_def,
        pool="duckdb",
        kinds={"parquet"},
        description=(
            "`discrepancies.parquet`, `discrepancy_evidence.parquet` and `quarantine.parquet` "
            "in the out directory."
        ),
    )
    def discrepancy_files(
        context: dg.AssetExecutionContext, warehouse: Warehouse, recon: ReconConfig
    ) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        out = recon.out_for(day)
        with warehouse.session() as con:
            counts = write_exports(con, day, out)
        context.log.info(f"wrote discrepancies, their evidence and the quarantine to {out}")
        return dg.MaterializeResult(
            metadata={**counts, "out_dir": dg.MetadataValue.path(str(out.resolve()))}
        )

    return [discrepancy_files]
