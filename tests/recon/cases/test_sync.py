"""`sync` after each run: one case per discrepancy, reruns that change nothing, late data that
clears a case and brings it back, amounts that change under a decision."""

from dataclasses import replace
from datetime import timedelta

import duckdb
import pytest

from recon.cases.actions import acknowledge, assign, resolve
from recon.cases.chain import verify
from recon.cases.errors import DuplicateDiscrepancy, PartitionNotReconciled
from recon.cases.sync import SyncResult
from tests.recon.cases.conftest import CHARGE, DAY, MISMATCH, NOW, RESERVATION, UNATTRIBUTED


def test_a_run_opens_one_case_per_discrepancy(shop):
    shop.reconciled(DAY, CHARGE, MISMATCH, RESERVATION)

    result = shop.sync()

    assert result == SyncResult(DAY, opened=3)
    cases = shop.con.execute(
        "select case_id, partition_date, type, severity, checkout_id, opened_at "
        "from cases.cases order by case_id"
    ).fetchall()
    assert cases == sorted(
        (f.id, DAY, f.type, f.severity, f.checkout_id, NOW) for f in (CHARGE, MISMATCH, RESERVATION)
    )
    events = shop.events()
    assert [e["event_no"] for e in events] == [1, 2, 3]
    assert {(e["action"], e["status"], e["actor"]) for e in events} == {("opened", "open", "recon")}
    assert {e["case_id"]: (e["amount_minor"], e["currency"]) for e in events} == {
        CHARGE.id: (5000, "USD"),
        MISMATCH.id: (1234, "EUR"),
        RESERVATION.id: (None, None),
    }
    assert verify(shop.con).events == 3


def test_a_rerun_changes_nothing_and_keeps_every_decision(shop):
    shop.reconciled(DAY, CHARGE, MISMATCH, RESERVATION)
    shop.sync()
    resolve(shop.con, CHARGE.id, resolution="refunded", by="alice", now=NOW)
    acknowledge(shop.con, MISMATCH.id, by="bob", now=NOW)
    assign(shop.con, RESERVATION.id, to="carol", by="bob", now=NOW)
    before = shop.events()

    shop.reconciled(DAY, CHARGE, MISMATCH, RESERVATION)  # the same files, run again
    result = shop.sync(hours=24)

    assert result == SyncResult(DAY, unchanged=3)
    assert shop.events() == before
    # No primary key holds case IDs unique: the sync does.
    assert shop.con.execute(
        "select count(*), count(distinct case_id) from cases.cases"
    ).fetchall() == [(3, 3)]
    assert shop.last(CHARGE.id)["status"] == "resolved"
    assert shop.last(CHARGE.id)["resolution"] == "refunded"


def test_late_data_clears_a_case_and_its_return_reopens_it(shop):
    shop.reconciled(DAY, CHARGE, MISMATCH)
    shop.sync()
    assign(shop.con, CHARGE.id, to="alice", by="bob", now=NOW)
    resolve(shop.con, CHARGE.id, resolution="written_off", by="alice", now=NOW)

    shop.reconciled(DAY, MISMATCH)  # a late file removed the duplicate charge's cause
    assert shop.sync(hours=1) == SyncResult(DAY, cleared=1, unchanged=1)
    cleared = shop.last(CHARGE.id)
    assert (cleared["action"], cleared["status"], cleared["actor"]) == (
        "cleared",
        "cleared",
        "recon",
    )
    assert cleared["assignee"] == "alice" and cleared["resolution"] is None
    assert cleared["note"] == f"no longer found in partition {DAY}"
    # The decision stays in the history.
    assert [e["action"] for e in shop.events(CHARGE.id)] == [
        "opened",
        "assigned",
        "resolved",
        "cleared",
    ]
    assert shop.events(CHARGE.id)[2]["resolution"] == "written_off"

    shop.reconciled(DAY, MISMATCH)  # still gone: a cleared case stays cleared
    assert shop.sync(hours=2) == SyncResult(DAY, unchanged=1)

    shop.reconciled(DAY, CHARGE, MISMATCH)  # and back
    assert shop.sync(hours=3) == SyncResult(DAY, reopened=1, unchanged=1)
    back = shop.last(CHARGE.id)
    assert (back["action"], back["status"], back["assignee"]) == ("reopened", "open", "alice")
    assert back["note"] == f"found again in partition {DAY}"
    assert shop.con.execute("select count(*) from cases.cases").fetchone() == (2,)


def test_a_changed_amount_reopens_a_resolved_case_saying_from_what_to_what(shop):
    shop.reconciled(DAY, CHARGE)
    shop.sync()
    resolve(shop.con, CHARGE.id, resolution="refunded", by="alice", now=NOW)

    shop.reconciled(DAY, replace(CHARGE, amount_minor=7500))
    assert shop.sync(hours=1) == SyncResult(DAY, reopened=1)

    event = shop.last(CHARGE.id)
    assert (event["action"], event["status"], event["resolution"]) == ("reopened", "open", None)
    assert event["amount_minor"] == 7500
    assert event["note"] == (
        "amount changed from USD 50.00 to USD 75.00 after it was resolved as refunded"
    )


def test_a_changed_amount_of_an_unresolved_case_is_noted_keeping_its_status(shop):
    shop.reconciled(DAY, CHARGE)
    shop.sync()
    acknowledge(shop.con, CHARGE.id, by="alice", now=NOW)

    shop.reconciled(DAY, replace(CHARGE, amount_minor=7500))
    assert shop.sync(hours=1) == SyncResult(DAY, amount_updated=1)
    event = shop.last(CHARGE.id)
    assert (event["action"], event["status"], event["amount_minor"]) == (
        "noted",
        "acknowledged",
        7500,
    )
    assert event["note"] == "amount changed from USD 50.00 to USD 75.00"

    # Resolved at the new amount, a rerun at that amount leaves the resolution alone.
    resolve(shop.con, CHARGE.id, resolution="refunded", by="alice", now=NOW)
    assert shop.sync(hours=2) == SyncResult(DAY, unchanged=1)
    assert shop.last(CHARGE.id)["status"] == "resolved"


def test_each_partition_syncs_only_its_own_cases(shop):
    later = DAY + timedelta(days=1)
    shop.reconciled(DAY, CHARGE)
    shop.reconciled(later, MISMATCH)
    shop.sync(DAY)
    assert shop.sync(later) == SyncResult(later, opened=1)

    shop.reconciled(later)  # the later day's finding is gone; the first day's case is untouched
    assert shop.sync(later, hours=1) == SyncResult(later, cleared=1)
    assert shop.last(CHARGE.id)["status"] == "open"

    shop.reconciled(later, CHARGE)  # the same finding under another date stays the first's case
    assert shop.sync(later, hours=2) == SyncResult(later, elsewhere=1)


def test_an_unreconciled_partition_is_refused_rather_than_cleared(shop):
    shop.reconciled(DAY, CHARGE)
    shop.sync()

    with pytest.raises(PartitionNotReconciled, match="2026-02-09 has not been reconciled"):
        shop.sync(DAY - timedelta(days=1))


def test_a_failed_sync_leaves_cases_and_log_as_they_were(shop):
    shop.reconciled(DAY, CHARGE, MISMATCH)
    shop.sync()
    before = (shop.events(), shop.con.execute("select * from cases.cases").fetchall())

    # MISMATCH gone and a finding without a severity (a broken mart): its `opened` event and
    # MISMATCH's `cleared` are appended, then its case (severity not null) fails to insert.
    shop.reconciled(DAY, CHARGE, UNATTRIBUTED)
    shop.con.execute(
        "update marts.discrepancies set severity = null where type = ?", [UNATTRIBUTED.type]
    )
    with pytest.raises(duckdb.ConstraintException, match="NOT NULL constraint failed"):
        shop.sync(hours=1)

    assert (shop.events(), shop.con.execute("select * from cases.cases").fetchall()) == before
    assert verify(shop.con).ok


def test_a_discrepancy_id_twice_in_a_partition_is_refused_before_anything_is_written(shop):
    shop.reconciled(DAY, CHARGE, UNATTRIBUTED, UNATTRIBUTED)

    with pytest.raises(DuplicateDiscrepancy, match=f"more than once: {UNATTRIBUTED.id}$"):
        shop.sync()
    assert shop.con.execute("select count(*) from cases.events").fetchone() == (0,)
