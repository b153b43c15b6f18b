"""SQL models, one per `.sql` file: `staging/` → `intermediate/` → `marts/`.

Each file is a single DuckDB `select`; the tables it reads are its dependencies (see
`recon/sql_models.py`). Models name each other by bare name and read landing data as `raw.<source>`
(staging only) and the run's settings as `meta.run_params`."""

from pathlib import Path

MODELS_DIR = Path(__file__).parent
