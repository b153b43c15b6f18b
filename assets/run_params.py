"""`meta.run_params`: the settings a partition was reconciled with, readable by the SQL models."""

from dataclasses import dataclass
from datetime import date

import duckdb

from assets.warehouse import transaction


@dataclass(frozen=True)
class RunParams:
    lookback_days: int = 3
    reservation_ttl_minutes: int = 30
    capture_sla_hours: int = 24
    amount_tolerance_minor: int = 0


DDL = """
create table if not exists meta.run_params (
    _partition_date date not null,
    business_date date not null,
    lookback_days integer not null,
    reservation_ttl_minutes integer not null,
    capture_sla_hours integer not null,
    amount_tolerance_minor bigint not null
)
"""


def write_run_params(con: duckdb.DuckDBPyConnection, day: date, params: RunParams) -> None:
    con.execute("create schema if not exists meta")
    con.execute(DDL)
    with transaction(con):
        con.execute("delete from meta.run_params where _partition_date = ?", [day])
        con.execute(
            "insert into meta.run_params values (?, ?, ?, ?, ?, ?)",
            [
                day,
                day,
                params.lookback_days,
                params.reservation_ttl_minutes,
                params.capture_sla_hours,
                params.amount_tolerance_minor,
            ],
        )
