"""The pipeline's half of the chaos run: the service databases, exported after the kills and the
drain, reconcile without a money discrepancy (`recon chaos` and `tests/e2e/test_chaos.py`)."""

from datetime import date
from pathlib import Path

import duckdb

from checkout_service.db import DatabaseSettings
from checkout_service.export import export_all
from recon.discrepancy_types import money_types
from recon.reconcile import discrepancies, reconcile_partition
from testdata.synthetic import write_rows


def money_discrepancies(database: DatabaseSettings, landing: Path) -> list[dict]:
    """Export the service databases into `landing` (no analytics events: the chaos clients are
    not browsers), reconcile every day a payment fell on, and return the money discrepancies (the
    registry's money types). Orphaned reservations and held authorizations are the service
    audit's to judge: the chaos run ends before the pipeline's TTL and capture SLA could pass in
    the data."""
    rows = export_all(database)
    rows["analytics_events"] = []
    write_rows(landing, rows)
    days = sorted({row["created_at"].date() for row in rows["payments"]})
    found = []
    con = duckdb.connect()
    try:
        for day in days or [date.today()]:
            reconcile_partition(con, landing, day)
            found += [d for d in discrepancies(con, day) if d["type"] in money_types()]
    finally:
        con.close()
    return found
