"""The Spark engine: the same contract, models and rules run on Apache Spark.

DuckDB stays the warehouse's catalog (the ingestion ledger, the quarantine, run parameters, alert
state); Spark reads the landing files and builds every stored model as Parquet under the Spark
warehouse directory, partitioned by `_partition_date`. The DuckDB catalog sees those tables as
views, so the checks, exports, reports and alerts read the Spark engine's results as they read
DuckDB's own."""
