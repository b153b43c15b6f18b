"""`meta.run_params`: the settings a partition was reconciled with, readable by the SQL models.

The fields of `RunParams` are the table's columns (after `_partition_date` and `business_date`),
each with its SQL type: the DDL, the row written and the Spark engine's view of it all come from
them."""

from dataclasses import dataclass, field, fields
from datetime import date

import duckdb

from recon.warehouse import transaction


def _param(default: int, sql_type: str = "integer"):
    return field(default=default, metadata={"sql": sql_type})


@dataclass(frozen=True)
class RunParams:
    lookback_days: int = _param(3)
    reservation_ttl_minutes: int = _param(30)
    capture_sla_hours: int = _param(24)
    amount_tolerance_minor: int = _param(0, "bigint")

    @classmethod
    def of(cls, settings: object) -> "RunParams":
        """The parameters of settings (or config) that have attributes of the same names."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


def _columns() -> list[tuple[str, str]]:
    return [("business_date", "date")] + [(f.name, f.metadata["sql"]) for f in fields(RunParams)]


DDL = (
    "create table if not exists meta.run_params (\n    _partition_date date not null,\n"
    + ",\n".join(f"    {name} {sql_type} not null" for name, sql_type in _columns())
    + "\n)"
)


def run_params_sql(day: date, params: RunParams) -> str:
    """The partition's row of `meta.run_params` (without `_partition_date`) as a query, in SQL
    both engines read: what the Spark engine's models read, and what is stored here."""
    values = [f"date '{day.isoformat()}' as business_date"] + [
        f"cast({int(getattr(params, f.name))} as {f.metadata['sql']}) as {f.name}"
        for f in fields(RunParams)
    ]
    return "select " + ", ".join(values)


def write_run_params(con: duckdb.DuckDBPyConnection, day: date, params: RunParams) -> None:
    con.execute("create schema if not exists meta")
    con.execute(DDL)
    with transaction(con):
        con.execute("delete from meta.run_params where _partition_date = ?", [day])
        con.execute(
            f"insert into meta.run_params select date '{day.isoformat()}', * "
            f"from ({run_params_sql(day, params)})"
        )
