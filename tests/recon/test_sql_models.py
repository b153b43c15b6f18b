"""The model engine: dependencies read from SQL, load-time errors, partition-scoped rebuilds."""

from datetime import date
from pathlib import Path

import duckdb
import pytest

from dbt_like_models import MODELS_DIR
from recon.sql_models import (
    ModelError,
    Relations,
    discover,
    isolated_sql,
    materialize,
    model_version,
    order,
    partition_sql,
    stored_dependencies,
    table_references,
)
from recon.warehouse import connect, ensure_schema


def write_models(root: Path, models: dict[str, str]) -> Path:
    for relative, sql in models.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    for layer in ("staging", "intermediate", "marts"):
        (root / layer).mkdir(exist_ok=True)
    return root


def test_references_exclude_ctes_and_include_subqueries_and_joins():
    sql = """
        with recent as (select * from stg_orders where status = 'placed'),
        joined as (select * from recent join int_checkout_spine using (checkout_id))
        select * from joined
        where exists (select 1 from stg_payments p where p.checkout_id = joined.checkout_id)
        union all
        select * from (select * from raw.orders) as nested
    """
    assert table_references(sql) == {
        "stg_orders",
        "int_checkout_spine",
        "stg_payments",
        "raw.orders",
    }


def test_project_models_resolve_with_layers_respected():
    models = discover(MODELS_DIR)
    assert {"stg_orders", "int_checkout_spine", "discrepancies"} <= set(models)
    assert models["discrepancies"].layer == "marts"
    reads = stored_dependencies(models["discrepancies"], models)  # through the findings' union
    assert "intermediate.int_discrepancy_duplicate_charge" in reads
    rule = models["int_discrepancy_duplicate_charge"]
    assert "intermediate.int_checkouts_of_day" in rule.depends_on  # ephemeral: through it,
    assert "intermediate.int_checkout_spine" in stored_dependencies(rule, models)  # the spine
    assert models["stg_payments"].depends_on == ("raw.payments", "staging.stg_payment_copies")
    assert not models["stg_payments"].stored and models["int_checkout_spine"].stored
    ranks = {m.name: i for i, m in enumerate(order(models))}
    for model in models.values():
        for dep in model.depends_on:
            name = dep.split(".")[1]
            if name in ranks:
                assert ranks[name] < ranks[model.name], f"{dep} must run before {model.name}"


def test_cycle_is_a_load_error_naming_the_models(tmp_path):
    root = write_models(
        tmp_path,
        {
            "intermediate/int_a.sql": "select * from int_b",
            "intermediate/int_b.sql": "select * from int_a",
        },
    )
    with pytest.raises(ModelError, match="dependency cycle") as caught:
        discover(root)
    assert "intermediate.int_a" in str(caught.value) and "intermediate.int_b" in str(caught.value)


@pytest.mark.parametrize(
    ("models", "error"),
    [
        pytest.param(
            {"staging/stg_a.sql": "select * from stg_missing"},
            r"stg_a\.sql: references unknown table 'stg_missing'",
            id="an_unknown_reference_names_file_and_table",
        ),
        pytest.param(
            {"marts/m.sql": "select * from raw.orders"},
            "only staging models may",
            id="raw_tables_are_read_by_staging_only",
        ),
        pytest.param(
            {"staging/stg_bad.sql": "select from where ("},
            r"stg_bad\.sql: cannot parse SQL",
            id="unparseable_sql_names_the_file",
        ),
        pytest.param(
            {"staging/dup.sql": "select 1 as x", "marts/dup.sql": "select 2 as x"},
            "already used",
            id="duplicate_model_names_across_layers_are_refused",
        ),
    ],
)
def test_a_project_that_cannot_load_is_a_load_error(tmp_path, models, error):
    root = write_models(tmp_path, models)
    with pytest.raises(ModelError, match=error):
        discover(root)


UNION = "-- materialized: ephemeral\n-- union of: int_rule_*\nselect id, kind\n"


def test_a_union_model_reads_every_model_its_glob_names_and_a_new_one_by_its_file(tmp_path):
    rules = {
        "intermediate/int_rule_b.sql": "select 2 as id, 'b' as kind",
        "intermediate/int_rule_a.sql": "select 1 as id, 'a' as kind",
        "intermediate/int_all_rules.sql": UNION,
    }
    root = write_models(tmp_path, rules)
    union = discover(root)["int_all_rules"]
    assert union.depends_on == ("intermediate.int_rule_a", "intermediate.int_rule_b")
    assert "union of" not in union.description
    con = duckdb.connect()
    inlined = {name: f"({m.sql})" for name, m in discover(root).items() if name != "int_all_rules"}
    query = union.sql
    for name, sql in inlined.items():
        query = query.replace(f"from {name}\n", f"from {sql} as {name}\n")
    # Each row names the version of the model it came from: a hash of that model's file.
    assert sorted(con.execute(query).fetchall()) == [
        (1, "a", model_version(rules["intermediate/int_rule_a.sql"])),
        (2, "b", model_version(rules["intermediate/int_rule_b.sql"])),
    ]

    rules["intermediate/int_rule_c.sql"] = "select 3 as id, 'c' as kind"
    union = discover(write_models(tmp_path / "more", rules))["int_all_rules"]
    assert "intermediate.int_rule_c" in union.depends_on  # no edit of the union model


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("select id from int_rule_a\n", "select list only"),
        ("select id\n", None),
    ],
)
def test_a_union_model_is_refused_with_a_from_or_without_members(tmp_path, body, message):
    files = {"intermediate/int_all.sql": "-- union of: int_rule_*\n" + body}
    if message:
        files["intermediate/int_rule_a.sql"] = "select 1 as id"
    root = write_models(tmp_path, files)
    expected = message or "no model matches 'int_rule_\\*'"
    with pytest.raises(ModelError, match=rf"int_all\.sql: .*{expected}"):
        discover(root)


def test_partition_sql_reads_only_that_partition(tmp_path):
    models = discover(MODELS_DIR)
    with connect(tmp_path / "wh.duckdb") as con:
        ensure_schema(con)
        sql = partition_sql(models["int_checkout_orders"], Relations(con, models, date(2026, 3, 4)))
    assert "_partition_date = date '2026-03-04'" in sql
    # stg_orders is ephemeral: its query stands in its place, reading the stored landing rows
    # and the stored versions table.
    assert "raw.orders" in sql and "staging.stg_order_versions" in sql
    assert "staging.stg_orders" not in sql


def test_ephemeral_models_are_inlined_and_never_stored(tmp_path):
    root = write_models(
        tmp_path / "models",
        {
            "staging/stg_a.sql": "-- materialized: ephemeral\n-- doubled\n"
            "select x * 2 as doubled from meta.run_params",
            "intermediate/int_b.sql": "select sum(doubled) as total from stg_a",
        },
    )
    models = discover(root)
    assert models["stg_a"].description == "doubled"
    assert stored_dependencies(models["int_b"], models) == ["meta.run_params"]
    con = connect(tmp_path / "wh.duckdb")
    con.execute("create schema meta")
    con.execute("create table meta.run_params (_partition_date date, x int)")
    day = date(2026, 1, 1)
    con.execute("insert into meta.run_params values (?, 1), (?, 2)", [day, day])
    assert materialize(con, models["int_b"], day, Relations(con, models, day)) == 1
    assert con.execute("select total from intermediate.int_b").fetchall() == [(6,)]
    with pytest.raises(ModelError, match="never stored"):
        materialize(con, models["stg_a"], day)
    tables = con.execute("select table_name from information_schema.tables").fetchall()
    assert ("stg_a",) not in tables


def test_an_unknown_materialization_or_an_ephemeral_mart_is_a_load_error(tmp_path):
    bad = write_models(tmp_path / "a", {"staging/s.sql": "-- materialized: view\nselect 1 as x"})
    with pytest.raises(ModelError, match=r"s\.sql: unknown materialization 'view'"):
        discover(bad)
    mart = write_models(
        tmp_path / "b", {"marts/m.sql": "-- materialized: ephemeral\nselect 1 as x"}
    )
    with pytest.raises(ModelError, match="must be tables"):
        discover(mart)


def test_materialize_replaces_only_its_partition_and_rolls_back_on_error(tmp_path):
    root = write_models(
        tmp_path / "models",
        {
            "staging/stg_a.sql": "select x, x * 2 as doubled from src_rows",
        },
    )
    con = connect(tmp_path / "wh.duckdb")
    con.execute("create schema meta")
    con.execute("create table meta.run_params (_partition_date date, x int)")
    # A model reading run params; the engine narrows it to the partition being built.
    (root / "staging/stg_a.sql").write_text("select x, x * 2 as doubled from meta.run_params")
    models = discover(root)
    day1, day2 = date(2026, 1, 1), date(2026, 1, 2)
    con.execute("insert into meta.run_params values (?, 1), (?, 2), (?, 3)", [day1, day1, day2])
    assert materialize(con, models["stg_a"], day1) == 2
    assert materialize(con, models["stg_a"], day2) == 1
    assert materialize(con, models["stg_a"], day1) == 2  # rerun: replaced, not duplicated
    rows = con.execute(
        "select _partition_date, x, doubled from staging.stg_a order by 1, 2"
    ).fetchall()
    assert rows == [(day1, 1, 2), (day1, 2, 4), (day2, 3, 6)]

    broken = models["stg_a"].__class__(
        "stg_a",
        "staging",
        root / "staging/stg_a.sql",
        "select x, 1 / 0 as doubled, cast('no' as int) as y from meta.run_params",
        ("meta.run_params",),
    )
    with pytest.raises(duckdb.Error):
        materialize(con, broken, day1)
    assert con.execute("select count(*) from staging.stg_a").fetchone()[0] == 3


def _run_params_days(con, *days: date) -> None:
    con.execute("create schema meta")
    con.execute("create table meta.run_params (_partition_date date, x int)")
    for number, day in enumerate(days, start=1):
        con.execute("insert into meta.run_params values (?, ?)", [day, number])


@pytest.mark.parametrize(
    ("new_sql", "kept"),
    [
        # A column added (in the middle): the other partitions stay, null in it.
        ("select x, x + 1 as added, x * 2 as doubled from meta.run_params", True),
        # A column's type changed, or one removed: every partition must be rebuilt.
        ("select x, cast(x * 2 as varchar) as doubled from meta.run_params", False),
        ("select x from meta.run_params", False),
    ],
)
def test_a_model_that_gains_a_column_keeps_its_other_partitions(tmp_path, new_sql, kept):
    day1, day2 = date(2026, 1, 1), date(2026, 1, 2)
    con = connect(tmp_path / "wh.duckdb")
    _run_params_days(con, day1, day2)
    root = write_models(
        tmp_path / "v1", {"staging/stg_a.sql": "select x, x * 2 as doubled from meta.run_params"}
    )
    for day in (day1, day2):
        materialize(con, discover(root)["stg_a"], day)
    upgraded = write_models(tmp_path / "v2", {"staging/stg_a.sql": new_sql})
    materialize(con, discover(upgraded)["stg_a"], day2)
    days = [
        r[0] for r in con.execute("select _partition_date from staging.stg_a order by 1").fetchall()
    ]
    assert days == ([day1, day2] if kept else [day2])
    if kept:
        rows = con.execute("select x, added, doubled from staging.stg_a order by x").fetchall()
        assert rows == [(1, None, 2), (2, 3, 4)]


def test_sums_are_stored_as_bigint_not_128_bit_or_float(tmp_path):
    root = write_models(
        tmp_path / "models",
        {"staging/stg_sum.sql": "select sum(x) as total_minor from meta.run_params"},
    )
    con = connect(tmp_path / "wh.duckdb")
    con.execute("create schema meta")
    con.execute("create table meta.run_params (_partition_date date, x bigint)")
    con.execute("insert into meta.run_params values ('2026-01-01', 9007199254740993)")
    materialize(con, discover(root)["stg_sum"], date(2026, 1, 1))
    assert con.execute("describe staging.stg_sum").fetchall()[1][1] == "BIGINT"
    # Above 2**53: a float would have rounded it.
    assert con.execute("select total_minor from staging.stg_sum").fetchone()[0] == 9007199254740993


def test_a_model_run_alone_needs_an_input_for_every_table_it_reads():
    rule = discover(MODELS_DIR)["int_discrepancy_duplicate_order"]
    with pytest.raises(ModelError, match=r"no input for .*intermediate\.int_checkout_orders"):
        isolated_sql(rule, {"staging.stg_orders": "select 1"})
