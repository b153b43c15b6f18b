"""The ingestion assets tell of landing files they cannot read: a warning naming them, the
materialization's metadata, and the export check's description when no rows landed."""

import io
import json
import logging
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.jobs import RECONCILE_JOB
from pipelines.progress import progress_logger
from recon.settings import ReconSettings
from tests.recon.test_ingest import payment, write_jsonl

DAY = date(2026, 1, 2)
PAYMENTS = dg.AssetKey(["raw", "payments"])


def _ingest_payments(
    root: Path, terminal: io.StringIO | None = None
) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    """Materialise `raw/payments` alone; its result and the run's warnings. `terminal` gets the
    lines `recon run` prints."""
    settings = ReconSettings(
        landing_dir=root / "landing", warehouse_path=root / "w.duckdb", out_dir=str(root / "out")
    )
    instance = dg.DagsterInstance.ephemeral()
    defs = dg.Definitions.merge(
        build_definitions(settings),
        dg.Definitions(loggers={"progress": progress_logger(1, terminal or io.StringIO())}),
    )
    result = defs.resolve_job_def(RECONCILE_JOB).execute_in_process(
        partition_key=DAY.isoformat(),
        asset_selection=[PAYMENTS],
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"progress": {}}},
    )
    warnings = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.level == logging.WARNING
    ]
    return result, warnings


def _export_check(result: dg.ExecuteInProcessResult):
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "export_arrived"]
    return check


@pytest.fixture
def folder(tmp_path) -> Path:
    day = tmp_path / "landing" / "payments" / DAY.isoformat()
    day.mkdir(parents=True)
    (day / "_SUCCESS").write_bytes(b"")  # a writer's marker: expected, never named
    return day


def test_a_folder_of_only_unknown_files_says_so_instead_of_no_rows(tmp_path, folder):
    (folder / "payments.xlsx").write_bytes(b"PK\x03\x04")
    (folder / "notes.txt").write_text("sent as Excel, sorry")
    terminal = io.StringIO()
    result, warnings = _ingest_payments(tmp_path, terminal)

    check = _export_check(result)
    assert not check.passed
    names = [str(folder / "notes.txt"), str(folder / "payments.xlsx")]
    assert check.description.startswith(
        f"no payments rows landed in payments/{DAY}/: the folder holds only files of no "
        f"accepted kind, not read: {names[0]}, {names[1]} (accepted: .parquet, .csv"
    )
    assert check.metadata["unrecognised_files_for_the_day"].value == names
    [materialization] = result.asset_materializations_for_node("raw__payments")
    assert materialization.metadata["unrecognised_files"].value == names
    [named] = [w for w in warnings if "not read, of no accepted kind" in w]
    assert all(name in named for name in names) and "_SUCCESS" not in named
    assert any(
        w.startswith("no landing files for payments") and "no accepted kind" in w for w in warnings
    )
    # `recon run` prints the check's reason, not only that it failed.
    assert f"check export_arrived FAILED on raw/payments: {check.description}" in (
        terminal.getvalue()
    )


def test_an_unknown_file_beside_the_export_is_named_and_the_rows_still_load(tmp_path, folder):
    write_jsonl(tmp_path / "landing", "payments", DAY, [json.dumps(payment())])
    (folder / "payments-extra.xlsx").write_bytes(b"PK\x03\x04")
    result, warnings = _ingest_payments(tmp_path)

    assert _export_check(result).passed
    [materialization] = result.asset_materializations_for_node("raw__payments")
    unread = [str(folder / "payments-extra.xlsx")]
    assert materialization.metadata["unrecognised_files"].value == unread
    assert materialization.metadata["rows_loaded"].value == 1
    assert any(unread[0] in w for w in warnings)
