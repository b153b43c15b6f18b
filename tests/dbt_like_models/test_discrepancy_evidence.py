"""Every discrepancy carries its evidence: the landed rows of its checkout (and of the settlement
lines of its payments, or of its subject where no checkout explains it) in the sources its type
names, each at a file and line where that row really is, in every landing format."""

import csv
import json
import random
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from recon.discrepancy_types import types
from recon.reconcile import reconcile_partition
from recon.sql_models import MODELS_DIR, discover, model_version, project_relations
from recon.warehouse import connect
from testdata.flows import combine_rows
from testdata.synthetic import (
    ANCHOR,
    PROVIDER_ANOMALIES,
    SCENARIOS,
    Context,
    provider_report,
    write_rows,
)
from tests.dbt_like_models.test_discrepancy_rules import DAY, SETTLED, at

ID_COLUMNS = {
    "orders": "order_id",
    "payments": "payment_id",
    "inventory_moves": "move_id",
    "fulfillments": "fulfillment_id",
    "analytics_events": "event_id",
    "settlements": "settlement_line_id",
    "payouts": "payout_id",
}


def _every_scenario_day(landing: Path, formats: dict[str, str]) -> None:
    """Every scenario's checkout, the provider's report of them and its own anomalies."""
    built = [(ANCHOR.build(Context("chk_anchor", at("09:00"), DAY, random.Random(0))), ANCHOR)]
    for number, name in enumerate(sorted(SCENARIOS)):
        scenario = SCENARIOS[name]
        rng = random.Random(number)
        start = at(scenario.window[0].isoformat()) + timedelta(minutes=rng.randint(0, 30))
        built.append((scenario.build(Context(f"chk_{number:04d}", start, DAY, rng)), scenario))
    rows = combine_rows(flow.rows for flow, _ in built)
    report = provider_report(rows["payments"], built, DAY)
    for anomaly in PROVIDER_ANOMALIES:
        anomaly.inject(report)
    write_rows(landing, {**rows, **report.rows}, formats)


def _record_id_at(source: str, path: Path, line: int) -> str:
    """The ID of the record at `line` of the file: a text line of CSV and JSON lines, a 1-based
    row of Parquet."""
    column = ID_COLUMNS[source]
    if path.suffix == ".parquet":
        return (
            duckdb.connect()
            .execute(
                f"select {column} from read_parquet('{path}', file_row_number = true) "
                f"where file_row_number = {line - 1}"
            )
            .fetchone()[0]
        )
    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    if path.suffix == ".jsonl":
        return json.loads(text)[column]
    header = next(csv.reader([path.read_text(encoding="utf-8").splitlines()[0]]))
    return dict(zip(header, next(csv.reader([text])), strict=True))[column]


@pytest.fixture(
    scope="module",
    params=["parquet", "csv", "jsonl"],
    ids=lambda fmt: f"all-{fmt}",
)
def reconciled(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"evidence-{request.param}")
    _every_scenario_day(root / "landing", dict.fromkeys(ID_COLUMNS, request.param))
    con = connect(root / "warehouse.duckdb")
    reconcile_partition(con, root / "landing", DAY, SETTLED)
    yield con
    con.close()


def test_every_discrepancy_has_evidence_from_the_sources_its_type_names(reconciled):
    rows = reconciled.execute(
        """
        select d.type, d.discrepancy_id, list(distinct e.source)
        from marts.discrepancies as d
        left join marts.discrepancy_evidence as e using (_partition_date, discrepancy_id)
        where d._partition_date = ?
        group by all
        """,
        [DAY],
    ).fetchall()
    assert {t for t, _, _ in rows} == set(types())  # every type found, so every type checked
    for type_, discrepancy_id, sources in rows:
        assert sources and sources != [None], f"{type_} {discrepancy_id} has no evidence"
        assert set(sources) <= set(types()[type_].evidence), type_


def test_evidence_rows_are_where_they_say_in_the_landing_files(reconciled):
    rows = reconciled.execute(
        "select distinct source, source_file, line, record_id, checkout_id "
        "from marts.discrepancy_evidence where _partition_date = ?",
        [DAY],
    ).fetchall()
    assert rows
    for source, source_file, line, record_id, checkout_id in rows:
        assert _record_id_at(source, Path(source_file), line) == record_id, (source_file, line)
        assert checkout_id != "chk_anchor"


def test_evidence_holds_every_landed_row_of_the_checkout_in_those_sources(reconciled):
    """A payment delivered twice is evidence twice: the rows as landed, not as deduplicated."""
    # Staging counts the landed rows each payment it keeps stands for.
    landed = dict(
        project_relations(reconciled, DAY).rows(
            "select checkout_id, sum(source_rows) from stg_payments group by all"
        )
    )
    shown = reconciled.execute(
        """
        select d.checkout_id, count(*)
        from marts.discrepancies as d
        join marts.discrepancy_evidence as e using (_partition_date, discrepancy_id)
        where d._partition_date = ? and d.type = 'duplicate_charge' and e.source = 'payments'
        group by all
        """,
        [DAY],
    ).fetchall()
    assert shown
    for checkout_id, count in shown:
        assert count == landed[checkout_id]


def test_each_finding_names_its_rules_version_and_its_run(reconciled):
    models = discover(MODELS_DIR)
    found = reconciled.execute(
        "select distinct type, rule_version, run_id from marts.discrepancies "
        "where _partition_date = ?",
        [DAY],
    ).fetchall()
    for type_, version, run_id in found:
        rule = models[f"int_discrepancy_{type_}"]
        assert version == model_version(rule.path.read_text(encoding="utf-8")), type_
        assert run_id == ""  # reconciled outside Dagster: no run
