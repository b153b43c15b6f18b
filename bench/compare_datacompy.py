"""Orders against captures per checkout, with datacompy (Polars backend, its Parquet read counted)
and with one DuckDB query on the same landing files.

bench/reconcile.py calls this after each run. datacompy 1.1 pins polars < 1.45 while the project
needs polars 2, so it is not a project dependency: reconcile.py runs the datacompy side in a
throwaway environment, as this does by hand:

    uv run --no-project --with datacompy --with duckdb python bench/compare_datacompy.py LANDING
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb


def compare_orders_and_captures(landing: Path) -> dict:
    """The orders-vs-captures comparison three ways on the same files: datacompy (Polars
    backend, its Parquet read counted), and the same logic as one DuckDB query."""
    import polars as pl

    files = {s: f"{landing}/{s}/*/*.parquet" for s in ("orders", "payments")}
    figures = {}
    try:
        import datacompy
    except ImportError:
        figures["datacompy_seconds"] = None
    else:
        started = time.perf_counter()
        orders = (
            pl.scan_parquet(files["orders"])
            .sort("updated_at")
            .group_by("order_id")
            .last()
            .filter(pl.col("status") == "placed")
            .group_by("checkout_id")
            .agg(pl.col("total_minor").sum().alias("amount_minor"))
            .collect()
        )
        captures = (
            pl.scan_parquet(files["payments"])
            .filter((pl.col("kind") == "capture") & (pl.col("status") == "succeeded"))
            .group_by("checkout_id")
            .agg(pl.col("amount_minor").sum())
            .collect()
        )
        compare = datacompy.PolarsCompare(orders, captures, join_columns="checkout_id")
        figures["datacompy_mismatches"] = compare.df1.height - compare.count_matching_rows()
        figures["datacompy_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    [(mismatches,)] = duckdb.sql(
        f"""
        with latest as (
            select order_id, arg_max(status, updated_at) as status,
                arg_max(checkout_id, updated_at) as checkout_id,
                arg_max(total_minor, updated_at) as total_minor
            from read_parquet('{files["orders"]}') group by order_id
        ),
        ordered as (
            select checkout_id, sum(total_minor) as amount_minor from latest
            where status = 'placed' group by checkout_id
        ),
        captured as (
            select checkout_id, sum(amount_minor) as amount_minor
            from read_parquet('{files["payments"]}')
            where kind = 'capture' and status = 'succeeded' group by checkout_id
        )
        select count(*) from ordered left join captured using (checkout_id)
        where captured.amount_minor is distinct from ordered.amount_minor
        """
    ).fetchall()
    figures["duckdb_seconds"] = time.perf_counter() - started
    figures["duckdb_mismatches"] = mismatches
    return figures


def datacompy_in_its_own_environment(landing: Path) -> dict:
    """The datacompy figures from a throwaway `uv run` environment (datacompy's polars pin
    conflicts with the project's); empty when uv or the package index is not at hand."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    command = [uv, "run", "--no-project", "--quiet", "--with", "datacompy", "--with", "duckdb"]
    command += ["python", __file__, str(landing), "--json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        print(f"datacompy comparison skipped: {error}", file=sys.stderr)
        return {}
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: v for k, v in figures.items() if k.startswith("datacompy")}


if __name__ == "__main__":
    found = compare_orders_and_captures(Path(sys.argv[1]))
    if "--json" in sys.argv[2:]:
        print(json.dumps(found))
    else:
        for name, value in found.items():
            print(f"{name}: {value}")
