"""The portability rule (docs/architecture.md): every model is DuckDB SQL that sqlglot can turn
into Spark SQL."""

import pytest
import sqlglot

from dbt_like_models import MODELS_DIR
from recon.sql_models import discover

MODELS = discover(MODELS_DIR)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_transpiles_to_spark(name):
    model = MODELS[name]
    [spark] = sqlglot.transpile(
        model.sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
    )
    # The Spark text parses back: no DuckDB-only construct slipped through as raw text.
    sqlglot.parse_one(spark, read="spark")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_is_documented_lower_case_sql(name):
    model = MODELS[name]
    assert model.description, f"{model.path.name} needs a leading -- comment saying what it holds"
    code = "\n".join(line.split("--")[0] for line in model.sql.splitlines())
    strings_removed = "".join(part for i, part in enumerate(code.split("'")) if i % 2 == 0)
    assert strings_removed == strings_removed.lower(), f"{model.path.name}: keep SQL lower-case"
