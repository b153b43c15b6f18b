"""The whole reconciliation of one partition without Dagster: the same functions the assets call,
in dependency order. The rule tests, the chaos audit and the tools use it to exercise the SQL
directly, at a fraction of a Dagster run's fixed cost; `recon run` goes through Dagster.
`tests/e2e/test_recon_run.py` builds one day both ways and requires every table to hold the same
rows, so the two cannot drift apart unnoticed."""

from datetime import date
from pathlib import Path

import duckdb

from checkout_service.db import DatabaseSettings
from dbt_like_models import MODELS_DIR
from recon.contract import SOURCES
from recon.ingest import IngestReport, ingest_source
from recon.run_params import RunParams, write_run_params
from recon.sql_models import Relations, discover, materialize, order


def reconcile_partition(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    day: date,
    params: RunParams | None = None,
    services: DatabaseSettings | None = None,
    read_in_place: bool = True,
    adapters: dict[str, str] | None = None,
) -> dict[str, IngestReport]:
    """`services`: read orders, payments, inventory moves and fulfillments from the service
    databases instead of `landing` (analytics events always come from `landing`).
    `read_in_place` False stores every landing row (see `ingest_source`). `adapters`: landing
    source -> adapter whose provider exports that source's landing files are."""
    params = params or RunParams()
    adapters = adapters or {}
    reports = {
        name: ingest_source(
            con,
            source,
            landing,
            day,
            params.lookback_days,
            services=services,
            read_in_place=read_in_place,
            adapter=adapters.get(name),
        )
        for name, source in SOURCES.items()
    }
    write_run_params(con, day, params)
    models = discover(MODELS_DIR)
    relations = Relations(con, models, day)
    for model in order(models):
        if model.stored:
            materialize(con, model, day, relations)
    return reports


def discrepancies(con: duckdb.DuckDBPyConnection, day: date) -> list[dict]:
    cursor = con.execute(
        "select * exclude (_partition_date) from marts.discrepancies "
        "where _partition_date = ? order by type, subject_id",
        [day],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
