"""The cases page: the work queue by age and severity, time to resolve and who resolved what,
figured from the case log; and an empty page for a warehouse whose cases were never synced."""

from datetime import date, timedelta

import duckdb
import polars as pl

from recon.cases.actions import acknowledge, reopen, resolve
from recon.reports import cases_data
from recon.reports.build import ReportFiles, build_cases
from tests.recon.cases.conftest import CHARGE, MISMATCH, NOW, RESERVATION, UNATTRIBUTED, open_shop

EARLIER = date(2026, 1, 30)


def _build(con, tmp_path) -> ReportFiles:
    files = ReportFiles(tmp_path / "reports")
    files.root.mkdir(parents=True)
    build_cases(con, EARLIER, files)
    return files


def test_the_queue_by_age_the_time_to_resolve_and_who_resolved_what(tmp_path):
    with open_shop(tmp_path / "warehouse.duckdb") as shop:
        # Opened 12 days before NOW: the charge and the reservation; 2 days before: the others.
        shop.reconciled(EARLIER, CHARGE, RESERVATION)
        shop.sync(EARLIER, NOW - timedelta(days=12))
        shop.reconciled(EARLIER + timedelta(days=1), MISMATCH, UNATTRIBUTED)
        shop.sync(EARLIER + timedelta(days=1), NOW - timedelta(days=2))
        opened = NOW - timedelta(days=12)
        resolve(
            shop.con,
            RESERVATION.id,
            resolution="false_positive",
            by="bob",
            now=opened + timedelta(hours=5),
        )
        # Reopened a day before NOW and resolved 3 hours later: 3 hours, not 12 days.
        reopen(shop.con, RESERVATION.id, by="alice", now=NOW - timedelta(days=1))
        resolve(
            shop.con,
            RESERVATION.id,
            resolution="written_off",
            by="carol",
            now=NOW - timedelta(days=1) + timedelta(hours=3),
        )
        acknowledge(shop.con, MISMATCH.id, by="alice", now=NOW - timedelta(days=1))

        found = cases_data.cases(shop.con, NOW)
        files = _build(shop.con, tmp_path)

    queue = {(r["severity"], r["status"]): r for r in found.open_by_age.to_dicts()}
    assert set(queue) == {("critical", "open"), ("high", "acknowledged"), ("low", "open")}
    assert queue["critical", "open"]["days_7_to_30"] == 1  # the charge, 12 days old
    assert queue["high", "acknowledged"]["days_1_to_3"] == 1  # acknowledged is not resolved
    assert queue["low", "open"]["total"] == 1
    assert found.time_to_resolve.to_dicts() == [
        {"severity": "medium", "resolved": 1, "median_hours": 3.0, "p90_hours": 3.0}
    ]
    # The case's resolution now, by whoever resolved it last.
    assert found.resolvers.rows() == [("carol", "written_off", 1)]
    assert files.figures["cases"] == {"unresolved": 3, "critical": 1, "high": 1, "low": 1}
    page = (files.root / "cases.html").read_text()
    assert 'data-figure="unresolved">3<' in page and "carol" in page
    exported = pl.read_parquet(files.root / "exports" / "cases_open_by_age.parquet")
    assert exported["total"].sum() == 3


def test_a_warehouse_never_synced_gives_an_empty_page(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    files = _build(con, tmp_path)
    assert files.figures["cases"] == {"unresolved": 0}
    assert "nothing to show" in (files.root / "cases.html").read_text()
    assert pl.read_parquet(files.root / "exports" / "cases_resolvers.parquet").height == 0
