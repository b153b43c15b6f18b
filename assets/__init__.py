"""Dagster assets: ingestion (landing files → DuckDB raw), SQL-model assets and exports."""
