"""Exports a person or another system reads: the partition's discrepancies and quarantine as
Parquet under the configured out directory."""

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from assets.resources import ReconConfig, Warehouse
from recon.contract import SOURCES

DISCREPANCY_COLUMNS = (
    "discrepancy_id, type, severity, checkout_id, amount_minor, currency, business_date, details"
)
# _loaded_at is left out so the same input always gives byte-identical files.
QUARANTINE_COLUMNS = "source, _source_file as file, _line as line, reason, detail, raw_text"


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    target = str(tmp).replace("'", "''")
    con.execute(f"copy ({query}) to '{target}' (format parquet)")
    # Readers never see a half-written file.
    tmp.replace(path)
    return con.execute(f"select count(*) from ({query})").fetchone()[0]


def write_exports(con: duckdb.DuckDBPyConnection, day: date, out: Path) -> dict[str, int]:
    when = f"_partition_date = date '{day.isoformat()}'"
    discrepancies = (
        f"select {DISCREPANCY_COLUMNS} from marts.discrepancies where {when} "
        "order by severity, type, checkout_id, discrepancy_id"
    )
    quarantine = (
        f"select {QUARANTINE_COLUMNS} from raw.quarantine where {when} order by source, file, line"
    )
    return {
        "discrepancies": _copy(con, discrepancies, out / "discrepancies.parquet"),
        "quarantined": _copy(con, quarantine, out / "quarantine.parquet"),
    }


def export_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["exports", "discrepancy_files"],
        deps=[dg.AssetKey(["marts", "discrepancies"])]
        + [dg.AssetKey(["raw", name]) for name in SOURCES],
        group_name="exports",
        partitions_def=partitions_def,
        pool="duckdb",
        kinds={"parquet"},
        description="`discrepancies.parquet` and `quarantine.parquet` in the out directory.",
    )
    def discrepancy_files(
        context: dg.AssetExecutionContext, warehouse: Warehouse, recon: ReconConfig
    ) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        out = recon.out_for(day)
        with warehouse.session() as con:
            counts = write_exports(con, day, out)
        context.log.info(f"wrote {out / 'discrepancies.parquet'} and {out / 'quarantine.parquet'}")
        return dg.MaterializeResult(
            metadata={**counts, "out_dir": dg.MetadataValue.path(str(out.resolve()))}
        )

    return [discrepancy_files]
