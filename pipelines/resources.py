"""The Dagster resources of a deployment, built from `ReconSettings` (the classes are
`assets.resources`, which the assets take)."""

from pathlib import Path

import dagster as dg

from assets.resources import Engine, ReconConfig, Warehouse
from recon.cash_settings import FeeSchedule, Tolerances
from recon.settings import ReconSettings


def build_resources(settings: ReconSettings) -> dict[str, dg.ConfigurableResource]:
    connection_config = (
        {"memory_limit": settings.duckdb_memory_limit} if settings.duckdb_memory_limit else {}
    )
    return {
        "warehouse": Warehouse(
            database=str(settings.warehouse_path), connection_config=connection_config
        ),
        "engine": Engine(
            kind=settings.engine,
            spark_master=settings.spark_master,
            spark_tables_root=settings.spark_tables_root,
            spark_driver_memory=settings.spark_driver_memory,
        ),
        "recon": _recon_config(settings),
    }


def _recon_config(settings: ReconSettings) -> ReconConfig:
    # Every field of the config is the setting of the same name; paths travel as text.
    values = {name: getattr(settings, name) for name in ReconConfig.model_fields}
    return ReconConfig(**{name: _config_value(v) for name, v in values.items()})


def _config_value(value: object) -> object:
    """Paths travel as text, the cash settings as JSON."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, FeeSchedule | Tolerances):
        return value.to_json()
    return value
