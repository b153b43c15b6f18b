"""The real pipeline on a small generated day: its findings become cases, and syncing the day
again keeps what people decided."""

from datetime import UTC, date, datetime, timedelta

from recon.cases.actions import resolve
from recon.cases.chain import verify
from recon.cases.sync import SyncResult, sync
from recon.reconcile import reconcile_partition
from recon.warehouse import connect
from testdata.synthetic import MIN_CHECKOUTS, generate_landing
from tests.recon.cases.conftest import MART_DDL

DAY = date(2026, 2, 10)
NOW = datetime(2026, 2, 11, 6, 0, tzinfo=UTC)


def test_a_reconciled_day_opens_a_case_per_finding_and_a_resync_keeps_decisions(tmp_path):
    landing = tmp_path / "landing"
    generate_landing(landing, DAY, checkouts=MIN_CHECKOUTS, seed=3)  # one per anomaly scenario
    with connect(tmp_path / "warehouse.duckdb") as con:
        reconcile_partition(con, landing, DAY)
        found = con.execute(
            "select discrepancy_id, type, severity, checkout_id, amount_minor, currency "
            "from marts.discrepancies where _partition_date = ? order by discrepancy_id",
            [DAY],
        ).fetchall()
        # The unit tests' hand-made mart has the real one's columns and types.
        real = con.execute("describe marts.discrepancies").fetchall()
        con.execute("create schema fake")
        con.execute(MART_DDL.replace("marts", "fake"))
        assert [r[:2] for r in con.execute("describe fake.discrepancies").fetchall()] == [
            r[:2] for r in real
        ]

        assert sync(con, DAY, NOW) == SyncResult(DAY, opened=len(found))
        assert len(found) >= 12
        cases = con.execute(
            "select c.case_id, c.type, c.severity, c.checkout_id, e.amount_minor, e.currency "
            "from cases.cases c join cases.events e using (case_id) order by c.case_id"
        ).fetchall()
        assert cases == found

        decided = found[0][0]
        resolve(con, decided, resolution="fixed_upstream", by="alice", now=NOW)
        # A rerun of the day rebuilds the same mart (tests/dbt_like_models check it): syncing
        # it again changes nothing. (Run again here, it would double this test's time.)
        assert sync(con, DAY, NOW + timedelta(days=1)) == SyncResult(DAY, unchanged=len(found))
        status = con.execute(
            "select status, resolution from cases.events where case_id = ? "
            "order by event_no desc limit 1",
            [decided],
        ).fetchone()
        assert status == ("resolved", "fixed_upstream")
        assert verify(con).events == len(found) + 1
