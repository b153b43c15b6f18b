"""Unit tests of single models, as dbt and SQLMesh have them: each file in `units/` names a model
and cases, each case the rows of every table the model reads (`given`) and the rows it must return
(`expect`). The model runs alone on those rows (`sql_models.isolated_sql`), so a rule's edge is
tested without generating a landing day or running the models before it.

A fixture's format (YAML):

    model: int_discrepancy_duplicate_order
    cases:
      - name: what the case shows
        given:
          int_checkout_orders:            # bare or layer.name, every table the model reads
            - {checkout_key: chk_1, open_order_count: 2}
          stg_orders:
            columns: {checkout_key: varchar, checkout_id: varchar}   # typed, e.g. when empty
            rows: []
        expect:                           # compared as a multiset, on these columns only
          - {checkout_id: chk_1, type: duplicate_order}

A column whose name ends in `_key` holds the ID it keys (`chk_1`): the harness turns it into the
key as the engine does (`surrogate_key`)."""

from collections import Counter
from pathlib import Path

import duckdb
import pytest
import yaml

from dbt_like_models import MODELS_DIR
from recon.sql_models import discover, isolated_sql
from recon.warehouse import configure_session

MODELS = discover(MODELS_DIR)
UNITS = Path(__file__).parent / "units"
FIXTURES = sorted(UNITS.glob("*.yaml"))


def _cases() -> list:
    found = []
    for path in FIXTURES:
        fixture = yaml.safe_load(path.read_text())
        for case in fixture["cases"]:
            found.append(
                pytest.param(path, fixture["model"], case, id=f"{path.stem}: {case['name']}")
            )
    return found


def _given_sql(con: duckdb.DuckDBPyConnection, name: str, given) -> str:
    """A table's rows, as a temp table and the query that reads them: typed columns cast, key
    columns keyed."""
    columns, rows = (given["columns"], given["rows"]) if isinstance(given, dict) else ({}, given)
    names = list(columns) or list(dict.fromkeys(k for row in rows for k in row))
    table = "given__" + name.replace(".", "__")
    if rows:
        values = ", ".join(
            "(" + ", ".join(f"$p{i}_{c}" for c in range(len(names))) + ")" for i in range(len(rows))
        )
        params = {
            f"p{i}_{c}": row.get(n) for i, row in enumerate(rows) for c, n in enumerate(names)
        }
        con.execute(
            f"create temp table {table} as "
            f"select * from (values {values}) as t({', '.join(names)})",
            params,
        )
    else:
        con.execute(
            f"create temp table {table} ({', '.join(f'{n} {t}' for n, t in columns.items())})"
        )
    replaced = []
    for column in names:
        expression = f"cast({column} as {columns[column]})" if column in columns else column
        if column.endswith("_key"):
            expression = f"surrogate_key({expression})"
        if expression != column:
            replaced.append(f"{expression} as {column}")
    if replaced:
        return f"select * replace ({', '.join(replaced)}) from {table}"
    return f"select * from {table}"


@pytest.mark.parametrize(("path", "model_name", "case"), _cases())
def test_a_model_alone_returns_what_its_fixture_expects(path, model_name, case):
    model = MODELS[model_name]
    con = duckdb.connect()
    configure_session(con)
    given = case["given"]
    inputs = {}
    for dep in model.depends_on:
        rows = given.get(dep, given.get(dep.split(".")[1]))
        assert rows is not None, f"{path.name}: case {case['name']!r} gives no rows for {dep}"
        inputs[dep] = _given_sql(con, dep, rows)
    result = con.execute(isolated_sql(model, inputs))
    names = [d[0] for d in result.description]
    found = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    columns = list(dict.fromkeys(k for row in case["expect"] for k in row)) or names
    assert Counter(tuple(row.get(c) for c in columns) for row in found) == Counter(
        tuple(row.get(c) for c in columns) for row in case["expect"]
    ), f"{path.name}: {case['name']}"


def test_every_fixture_names_a_model_and_gives_only_tables_it_reads():
    assert FIXTURES, "no unit fixtures found"
    for path in FIXTURES:
        fixture = yaml.safe_load(path.read_text())
        model = MODELS[fixture["model"]]
        reads = set(model.depends_on) | {d.split(".")[1] for d in model.depends_on}
        for case in fixture["cases"]:
            assert set(case["given"]) <= reads, f"{path.name}: {case['name']} gives unread tables"
