"""The reconciliation core: the landing contract, settings, ingestion, the SQL model engine (on
DuckDB or Spark), reports, exports and alerts. Plain Python over DuckDB, Spark and Great
Expectations; it never imports Dagster. `assets/`, `checks/` and `pipelines/` are the Dagster
layer over it."""
