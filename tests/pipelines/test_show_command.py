"""`recon show ID` on a reconciled day: the finding, every landed row behind it with its file and
line, and its case's history; unknown and too-short IDs are clear errors."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from recon.cases.actions import resolve
from recon.cases.sync import sync
from recon.reconcile import reconcile_partition
from recon.warehouse import connect
from testdata.flows import combine_rows
from testdata.synthetic import ANCHOR, SCENARIOS, Context, write_rows
from tests.dbt_like_models.test_discrepancy_rules import DAY, at


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """A day with one duplicate charge, reconciled, its case resolved by hand."""
    root = tmp_path_factory.mktemp("show")
    charge = SCENARIOS["duplicate_charge"]
    flows = [
        ANCHOR.build(Context("chk_anchor", at("09:00"), DAY, random.Random(0))),
        charge.build(Context("chk_charged", at("10:00"), DAY, random.Random(1))),
    ]
    write_rows(root / "landing", combine_rows(flow.rows for flow in flows))
    path = root / "warehouse.duckdb"
    with connect(path) as con:
        reconcile_partition(con, root / "landing", DAY)
        sync(con, DAY, datetime.now(UTC) - timedelta(hours=1))
        [(discrepancy_id,)] = con.execute(
            "select discrepancy_id from marts.discrepancies where type = 'duplicate_charge'"
        ).fetchall()
        resolve(con, discrepancy_id, resolution="refunded", by="alice", note="refunded by hand")
        evidence = con.execute(
            "select source_file, line from marts.discrepancy_evidence where discrepancy_id = ?",
            [discrepancy_id],
        ).fetchall()
    return path, discrepancy_id, evidence


def show(path, *args: str):
    return CliRunner().invoke(main, ["show", *args, "--warehouse", str(path)])


def test_a_discrepancy_is_shown_with_its_evidence_and_its_case(warehouse):
    path, discrepancy_id, evidence = warehouse
    result = show(path, discrepancy_id[:10])
    assert result.exit_code == 0, result.output
    assert f"discrepancy {discrepancy_id}" in result.output
    assert "duplicate_charge (critical)" in result.output
    assert f"evidence ({len(evidence)} landed rows)" in result.output
    assert len(evidence) >= 2  # two captures at least
    for source_file, line in evidence:
        assert f"{source_file}:{line}" in result.output
    history = result.output.split("history:")[1]
    assert "opened" in history and "resolved" in history and "refunded by hand" in history


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("0123456789abcdef", "no discrepancy has the ID '0123456789abcdef'"),
        ("abc", "a discrepancy ID prefix needs at least 8 characters"),
    ],
)
def test_an_unknown_or_short_id_is_a_usage_error_naming_it(warehouse, argument, message):
    result = show(warehouse[0], argument)
    assert result.exit_code == 2
    assert message in result.output
