"""`meta.run_params`: the settings a partition was reconciled with, readable by the SQL models.

The fields of `RunParams` are the table's columns (after `_partition_date` and `business_date`),
each with its SQL type: the DDL, the row written and the Spark engine's view of it all come from
them. All but `run_id` are settings; `run_id` names the run that built the partition (the
Dagster run's ID, empty outside one), so that each finding can say which run produced it."""

from dataclasses import dataclass, field, fields
from datetime import date

import duckdb

from recon.cash_settings import FeeSchedule, Tolerances, fee_rows, tolerance_rows
from recon.warehouse import transaction


def _param(default: int, sql_type: str = "integer"):
    return field(default=default, metadata={"sql": sql_type})


@dataclass(frozen=True)
class RunParams:
    lookback_days: int = _param(3)
    reservation_ttl_minutes: int = _param(30)
    capture_sla_hours: int = _param(24)
    amount_tolerance_minor: int = _param(0, "bigint")
    settlement_sla_days: int = _param(3)
    # `string`: the one spelling of text both engines accept in a cast (Spark wants a length
    # with varchar).
    run_id: str = field(default="", metadata={"sql": "string"})
    fee_schedule: FeeSchedule = field(default_factory=FeeSchedule)
    tolerances: Tolerances = field(default_factory=Tolerances)

    @classmethod
    def of(cls, settings: object, run_id: str = "") -> "RunParams":
        """The parameters of settings (or config) that have attributes of the same names."""
        named = {f.name: getattr(settings, f.name) for f in fields(cls) if f.name != "run_id"}
        # Dagster's config carries the cash settings as JSON text.
        named["fee_schedule"] = FeeSchedule.parse(named["fee_schedule"])
        named["tolerances"] = Tolerances.parse(named["tolerances"])
        return cls(**named, run_id=run_id)

    def as_metadata(self) -> dict[str, int | str]:
        """The parameters as plain values (the cash settings as their JSON)."""
        return {
            f.name: value.to_json() if isinstance(value, FeeSchedule | Tolerances) else value
            for f in fields(self)
            if (value := getattr(self, f.name)) is not None
        }


def _column_fields():
    return [f for f in fields(RunParams) if "sql" in f.metadata]


def _columns() -> list[tuple[str, str]]:
    return [("business_date", "date")] + [(f.name, f.metadata["sql"]) for f in _column_fields()]


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
        for f in _column_fields()
    ]
    return "select " + ", ".join(values)


# name -> (columns with their SQL types, the rows of a partition's settings)
_TABLE_COLUMNS = {
    "meta.fee_schedule": (
        ("currency", "string"),
        ("rate_ppm", "bigint"),
        ("fixed_minor", "bigint"),
        ("chargeback_fee_minor", "bigint"),
    ),
    "meta.tolerances": (
        ("rule", "string"),
        ("currency", "string"),
        ("absolute_minor", "bigint"),
        ("relative_ppm", "bigint"),
    ),
}
PARAM_TABLES = ("meta.run_params", *_TABLE_COLUMNS)


def _table_rows(table: str, params: RunParams) -> list[tuple]:
    if table == "meta.fee_schedule":
        return fee_rows(params.fee_schedule)
    return tolerance_rows(params.tolerances, params.fee_schedule, params.amount_tolerance_minor)


def param_table_sql(table: str, day: date, params: RunParams) -> str:
    """A settings table's rows for the partition as a query both engines read: a VALUES list
    (a few hundred rows: one per rule and currency), typed by a cast of each column. No rows: a
    query of the right columns that returns none."""
    if table == "meta.run_params":
        return run_params_sql(day, params)
    columns = _TABLE_COLUMNS[table]
    rows = _table_rows(table, params)
    values = ", ".join(
        "(" + ", ".join(_literal(value) for value in row) + ")"
        for row in rows or [tuple(0 for _ in columns)]
    )
    names = ", ".join(name for name, _ in columns)
    typed = ", ".join(f"cast({name} as {sql_type}) as {name}" for name, sql_type in columns)
    query = f"select {typed} from (values {values}) as settings({names})"
    return query if rows else f"{query} where false"


def _ddl(table: str) -> str:
    columns = ",\n".join(
        f"    {name} {sql_type} not null" for name, sql_type in _TABLE_COLUMNS[table]
    )
    return f"create table if not exists {table} (\n    _partition_date date not null,\n{columns}\n)"


def _literal(value: int | str) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


def write_run_params(con: duckdb.DuckDBPyConnection, day: date, params: RunParams) -> None:
    con.execute("create schema if not exists meta")
    con.execute(DDL)
    _add_missing_columns(con)
    for table in _TABLE_COLUMNS:
        con.execute(_ddl(table))
    with transaction(con):
        for table in PARAM_TABLES:
            con.execute(f"delete from {table} where _partition_date = ?", [day])
            con.execute(
                f"insert into {table} by name select date '{day.isoformat()}' "
                f"as _partition_date, * from ({param_table_sql(table, day, params)})"
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
