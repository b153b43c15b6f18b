"""A reconciled warehouse of generated data, and an independent reading of the landing files."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from recon.reconcile import reconcile_partition
from recon.reports.build import ReportFiles, build_reports
from recon.warehouse import connect
from testdata.synthetic import generate_landing

DAY = date(2026, 4, 14)
TIMESTAMPS = ("created_at", "updated_at", "occurred_at", "received_at")


def _utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps as naive UTC datetimes, whichever way the file stored them."""
    fixes = []
    for name in TIMESTAMPS:
        if name not in frame.columns:
            continue
        dtype = frame.schema[name]
        if dtype == pl.String:
            fixes.append(pl.col(name).str.to_datetime(time_zone="UTC").dt.replace_time_zone(None))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone:
            fixes.append(pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None))
    return frame.with_columns(fixes).with_columns(
        pl.col(n).cast(pl.Datetime("us")) for n in TIMESTAMPS if n in frame.columns
    )


def read_landing(landing: Path) -> dict[str, pl.DataFrame]:
    """Every landing file, read with Polars alone (not through the pipeline's ingestion)."""
    frames: dict[str, list[pl.DataFrame]] = defaultdict(list)
    for path in sorted(landing.glob("*/*/*")):
        source = path.parts[-3]
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
        elif path.suffix == ".jsonl":
            frame = pl.read_ndjson(path, infer_schema_length=None)
        else:
            frame = pl.read_csv(path, infer_schema=False)
        frames[source].append(_utc(frame))
    return {s: pl.concat(f, how="diagonal_relaxed") for s, f in frames.items()}


@dataclass(frozen=True)
class Oracle:
    """The day's figures computed here, in plain Polars, from the landing files."""

    checkouts: set[str]
    orders: pl.DataFrame  # latest version of each order of the day's checkouts
    payments: pl.DataFrame  # succeeded payments of the day's checkouts
    events: pl.DataFrame  # client events of the day's checkouts

    @classmethod
    def of(cls, landing: Path, day: date) -> "Oracle":
        data = read_landing(landing)
        firsts = (
            pl.concat(
                [
                    data["orders"].select("checkout_id", pl.col("created_at").alias("t")),
                    data["payments"].select("checkout_id", pl.col("created_at").alias("t")),
                    data["inventory_moves"].select("checkout_id", pl.col("created_at").alias("t")),
                    data["fulfillments"].select("checkout_id", pl.col("created_at").alias("t")),
                    data["analytics_events"]
                    .filter(pl.col("checkout_id").is_not_null())
                    .select("checkout_id", pl.col("received_at").alias("t")),
                ]
            )
            .group_by("checkout_id")
            .agg(pl.col("t").min())
        )
        checkouts = set(firsts.filter(pl.col("t").dt.date() == day)["checkout_id"].to_list())
        mine = pl.col("checkout_id").is_in(list(checkouts))
        orders = data["orders"].filter(mine).sort("updated_at").group_by("order_id").last()
        payments = data["payments"].filter(mine & (pl.col("status") == "succeeded"))
        events = data["analytics_events"].filter(mine)
        return cls(checkouts, orders, payments, events)

    def finance(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.orders.iter_rows(named=True):
            if row["status"] == "placed":
                out[row["currency"]]["orders"] += 1
                out[row["currency"]]["ordered_minor"] += row["total_minor"]
        for row in self.payments.iter_rows(named=True):
            if row["kind"] == "capture":
                out[row["currency"]]["gross_revenue_minor"] += row["amount_minor"]
            elif row["kind"] == "refund":
                out[row["currency"]]["refunds_minor"] += row["amount_minor"]
        for figures in out.values():
            figures["net_revenue_minor"] = figures["gross_revenue_minor"] - figures["refunds_minor"]
        return {c: dict(f) for c, f in out.items()}

    def funnel(self) -> dict[str, int]:
        def checkouts_with(name: str) -> int:
            return self.events.filter(pl.col("event_name") == name)["checkout_id"].n_unique()

        placed = self.orders.filter(pl.col("status") == "placed")["checkout_id"].n_unique()
        return {
            "starts": checkouts_with("checkout_started"),
            "completions": checkouts_with("checkout_completed"),
            "orders": placed,
        }

    def client_reported(self) -> dict[str, int]:
        completed = self.events.filter(pl.col("event_name") == "checkout_completed")
        totals = completed.group_by("currency").agg(pl.col("revenue_minor").sum())
        return dict(totals.iter_rows())


@dataclass(frozen=True)
class Reconciled:
    landing: Path
    warehouse: Path
    files: ReportFiles
    oracle: Oracle


def reconciled_day(root: Path, seed: int, checkouts: int = 120) -> Reconciled:
    landing = root / "landing"
    generate_landing(landing, DAY, checkouts=checkouts, seed=seed, bad_rows=False)
    warehouse = root / "warehouse.duckdb"
    with connect(warehouse) as con:
        reconcile_partition(con, landing, DAY)
        files = build_reports(con, DAY, root / "out")
    return Reconciled(landing, warehouse, files, Oracle.of(landing, DAY))


@pytest.fixture(scope="package")
def day_of_reports(tmp_path_factory) -> Reconciled:
    return reconciled_day(tmp_path_factory.mktemp("reports"), seed=21)
