"""The finance workflow through the real daily job (`run_partition`, as `recon run` runs it): a
case resolved by hand stays resolved when the day is run again; late data that removes a
discrepancy's cause clears its case; an edited event in the warehouse makes `recon cases
verify` fail naming it."""

import random

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.local_run import run_partition
from recon.settings import ReconSettings
from testdata.flows import combine_rows
from testdata.synthetic import ANCHOR, SCENARIOS, Context, write_rows
from tests.dbt_like_models.test_discrepancy_rules import DAY, at

pytestmark = pytest.mark.slow


def _cases(settings: ReconSettings) -> dict[str, tuple[str, str | None]]:
    """Per discrepancy type: its case's status and resolution now."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            """
            select c.type, e.status, e.resolution
            from cases.cases as c
            join cases.events as e using (case_id)
            qualify row_number() over (partition by c.case_id order by e.event_no desc) = 1
            """
        ).fetchall()
    return {type_: (status, resolution) for type_, status, resolution in rows}


def _case_id(settings: ReconSettings, type_: str) -> str:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        [(case_id,)] = con.execute(
            "select case_id from cases.cases where type = ?", [type_]
        ).fetchall()
    return case_id


def recon(settings: ReconSettings, *args: str):
    return CliRunner().invoke(main, [*args, "--warehouse", str(settings.warehouse_path)])


def test_resolve_rerun_late_data_and_a_tampered_log(tmp_path):
    landing = tmp_path / "landing"
    anchor = ANCHOR.build(Context("chk_anchor", at("09:00"), DAY, random.Random(0)))
    charged = SCENARIOS["duplicate_charge"].build(
        Context("chk_charged", at("10:00"), DAY, random.Random(1))
    )
    doubled = SCENARIOS["duplicate_order"].build(
        Context("chk_doubled", at("11:00"), DAY, random.Random(2))
    )
    write_rows(landing, combine_rows(flow.rows for flow in (anchor, charged, doubled)))
    settings = ReconSettings(
        landing_dir=landing,
        warehouse_path=tmp_path / "warehouse.duckdb",
        out_dir=str(tmp_path / "out" / "{date}"),
    )
    assert run_partition(settings, DAY).success
    assert _cases(settings) == {
        "duplicate_charge": ("open", None),
        "duplicate_order": ("open", None),
    }

    charge_case = _case_id(settings, "duplicate_charge")
    resolved = recon(
        settings, "cases", "resolve", charge_case[:10], "--resolution", "refunded", "--by", "alice"
    )
    assert resolved.exit_code == 0, resolved.output
    assert run_partition(settings, DAY).success  # the same files again
    assert _cases(settings)["duplicate_charge"] == ("resolved", "refunded")

    # Late data: the retried order is cancelled the next day, in an export of that day.
    before = len(doubled.rows["orders"])
    retried = doubled.rows["orders"][1]["order_id"]
    doubled.cancel_order(retried, at=at("08:00", days=1))
    write_rows(landing, {"orders": doubled.rows["orders"][before:]}, name="late")
    assert run_partition(settings, DAY).success
    assert _cases(settings) == {
        "duplicate_charge": ("resolved", "refunded"),
        "duplicate_order": ("cleared", None),
    }

    assert recon(settings, "cases", "verify").exit_code == 0
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("update cases.events set actor = 'mallory' where event_no = 3")
    tampered = recon(settings, "cases", "verify")
    assert tampered.exit_code == 1
    assert "event 3" in tampered.output
