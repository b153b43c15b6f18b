"""`meta.run_params`: the settings a partition was reconciled with, readable by the SQL models.

The fields of `RunParams` are the table's columns (after `_partition_date` and `business_date`),
each with its SQL type: the DDL, the row written and the Spark engine's view of it all come from
them. All but `run_id` are settings; `run_id` names the run that built the partition (the
Dagster run's ID, empty outside one), so that each finding can say which run produced it."""

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
    # `string`: the one spelling of text both engines accept in a cast (Spark wants a length
    # with varchar).
    run_id: str = field(default="", metadata={"sql": "string"})

    @classmethod
    def of(cls, settings: object, run_id: str = "") -> "RunParams":
        """The parameters of settings (or config) that have attributes of the same names."""
        named = {f.name: getattr(settings, f.name) for f in fields(cls) if f.name != "run_id"}
        return cls(**named, run_id=run_id)


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
        f"cast({_literal(getattr(params, f.name))} as {f.metadata['sql']}) as {f.name}"
        for f in fields(RunParams)
    ]
    return "select " + ", ".join(values)


def _literal(value: int | str) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


def write_run_params(con: duckdb.DuckDBPyConnection, day: date, params: RunParams) -> None:
    con.execute("create schema if not exists meta")
    con.execute(DDL)
    _add_missing_columns(con)
    with transaction(con):
        con.execute("delete from meta.run_params where _partition_date = ?", [day])
        con.execute(
            f"insert into meta.run_params by name select date '{day.isoformat()}' "
            f"as _partition_date, * from ({run_params_sql(day, params)})"
        )


def _add_missing_columns(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse written before a parameter existed gains its column (null in the partitions
    reconciled then) instead of failing every later run."""
    present = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'meta' and table_name = 'run_params'"
        ).fetchall()
    }
    for name, sql_type in _columns():
        if name not in present:
            con.execute(f"alter table meta.run_params add column {name} {sql_type}")
