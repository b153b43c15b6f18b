"""What people do to a case: the allowed transitions, the refusals (naming the case and its
status), and appends from concurrent writers that never fork the chain."""

import threading

import pytest

from recon.cases.actions import acknowledge, assign, note, reopen, resolve
from recon.cases.chain import verify
from recon.cases.errors import TransitionRefused, UnknownCase
from tests.recon.cases.conftest import CHARGE, DAY, MISMATCH, NOW, Finding


@pytest.fixture
def case(shop):
    shop.reconciled(DAY, CHARGE, MISMATCH)
    shop.sync()
    return CHARGE.id


def test_a_case_goes_through_its_life_one_event_per_decision(shop, case):
    acknowledge(shop.con, case, by="alice", note="on it", now=NOW)
    assign(shop.con, case, to="bob", by="alice", now=NOW)
    note(shop.con, case, text="asked the PSP", by="bob", now=NOW)
    resolve(shop.con, case, resolution="refunded", by="bob", note="refund 77 sent", now=NOW)
    reopen(shop.con, case, by="carol", note="the refund bounced", now=NOW)
    event = resolve(shop.con, case, resolution="written_off", by="carol", now=NOW)

    history = [
        (e["actor"], e["action"], e["status"], e["assignee"], e["resolution"], e["note"])
        for e in shop.events(case)
    ]
    assert history == [
        ("recon", "opened", "open", None, None, None),
        ("alice", "acknowledged", "acknowledged", None, None, "on it"),
        ("alice", "assigned", "acknowledged", "bob", None, None),
        ("bob", "noted", "acknowledged", "bob", None, "asked the PSP"),
        ("bob", "resolved", "resolved", "bob", "refunded", "refund 77 sent"),
        ("carol", "reopened", "open", "bob", None, "the refund bounced"),
        ("carol", "resolved", "resolved", "bob", "written_off", None),
    ]
    assert event.hash == shop.last(case)["hash"] == verify(shop.con).head
    assert {e["amount_minor"] for e in shop.events(case)} == {5000}


def test_an_assigned_resolved_case_stays_resolved(shop, case):
    resolve(shop.con, case, resolution="fixed_upstream", by="alice", now=NOW)
    assign(shop.con, case, to="bob", by="alice", now=NOW)
    assert (shop.last(case)["status"], shop.last(case)["assignee"]) == ("resolved", "bob")


# What a case went through, the action then refused, and what the refusal says after
# "case <ID> is ".
REFUSALS = [
    ([], lambda con, case: reopen(con, case, by="a"), "open: only a resolved case can be reopened"),
    (["ack"], lambda con, case: acknowledge(con, case, by="a"), "acknowledged: it is already ack"),
    (
        ["resolve"],
        lambda con, case: acknowledge(con, case, by="a"),
        "resolved: a resolved case cannot be acknowledged (reopen it first)",
    ),
    (
        ["resolve"],
        lambda con, case: resolve(con, case, resolution="other", by="a"),
        "resolved: it is already resolved (reopen it first to resolve it again)",
    ),
    (
        ["resolve", "clear"],
        lambda con, case: resolve(con, case, resolution="refunded", by="a"),
        "cleared: its discrepancy is no longer found, so there is nothing to act on",
    ),
    (["clear"], lambda con, case: acknowledge(con, case, by="a"), "cleared: its discrepancy"),
    (["clear"], lambda con, case: assign(con, case, to="b", by="a"), "cleared: its discrepancy"),
    (["clear"], lambda con, case: note(con, case, text="hm", by="a"), "cleared: its discrepancy"),
    (["clear"], lambda con, case: reopen(con, case, by="a"), "cleared: its discrepancy"),
    (
        ["assign"],
        lambda con, case: assign(con, case, to="bob", by="a"),
        "open: it is already assigned to bob",
    ),
]


def test_forbidden_transitions_are_refused_naming_the_case_and_its_status(shop):
    # One case per refusal, all in one warehouse (one setup rather than one each).
    findings = [Finding("duplicate_charge", f"chk_{n}") for n in range(len(REFUSALS))]
    shop.reconciled(DAY, *findings)
    shop.sync()
    for finding, (steps, _act, _says) in zip(findings, REFUSALS, strict=True):
        if "ack" in steps:
            acknowledge(shop.con, finding.id, by="alice")
        if "resolve" in steps:
            resolve(shop.con, finding.id, resolution="refunded", by="alice")
        if "assign" in steps:
            assign(shop.con, finding.id, to="bob", by="alice")
    shop.reconciled(
        DAY, *(f for f, (steps, *_) in zip(findings, REFUSALS, strict=True) if "clear" not in steps)
    )
    shop.sync(hours=1)
    before = shop.events()

    for finding, (steps, act, says) in zip(findings, REFUSALS, strict=True):
        with pytest.raises(TransitionRefused) as refused:
            act(shop.con, finding.id)
        assert str(refused.value).startswith(f"case {finding.id} is {says}"), (steps, says)

    assert shop.events() == before


def test_bad_input_is_refused_before_anything_is_written(shop, case):
    with pytest.raises(ValueError, match="a resolution is required: one of refunded, written_off"):
        resolve(shop.con, case, resolution="", by="alice")
    with pytest.raises(ValueError, match="'paid' is not one of refunded, written_off, false_pos"):
        resolve(shop.con, case, resolution="paid", by="alice")
    with pytest.raises(ValueError, match=r"who acts \(by\) must not be empty"):
        acknowledge(shop.con, case, by="  ")
    with pytest.raises(ValueError, match="the assignee must not be empty"):
        assign(shop.con, case, to="", by="alice")
    with pytest.raises(ValueError, match="the note must not be empty"):
        note(shop.con, case, text=" ", by="alice")
    with pytest.raises(UnknownCase, match="no case 'nope' in this warehouse"):
        acknowledge(shop.con, "nope", by="alice")
    assert len(shop.events()) == 2


def test_an_unknown_case_in_a_warehouse_without_cases_names_it(shop):
    with pytest.raises(UnknownCase, match="no case 'abc'"):
        resolve(shop.con, "abc", resolution="other", by="alice")


def together(*calls) -> None:
    """Run the calls in threads released at the same moment; wait for all of them."""
    start = threading.Barrier(len(calls))

    def run(call):
        start.wait()
        call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_two_writers_in_one_process_append_without_forking_the_chain(shop, case):
    # Two cursors are two connections to one database: each appends in its own transaction.
    errors = []

    def write(name):
        cursor = shop.con.cursor()
        try:
            for n in range(15):
                note(cursor, case, text=f"{name} {n}", by=name)
        except Exception as error:  # reported below, not swallowed
            errors.append(error)

    together(lambda: write("a"), lambda: write("b"))

    assert errors == []
    report = verify(shop.con)
    assert report.ok and report.events == 2 + 30
    notes = [e["note"] for e in shop.events(case) if e["action"] == "noted"]
    assert sorted(notes) == sorted(f"{name} {n}" for name in "ab" for n in range(15))


def test_two_people_resolving_at_once_one_wins_the_other_is_told(shop, case):
    outcomes = []

    def resolve_as(name):
        try:
            resolve(shop.con.cursor(), case, resolution="refunded", by=name)
            outcomes.append("resolved")
        except TransitionRefused as error:
            outcomes.append(str(error))

    together(lambda: resolve_as("a"), lambda: resolve_as("b"))

    assert sorted(outcomes) == [
        f"case {case} is resolved: it is already resolved (reopen it first to resolve it again)",
        "resolved",
    ]
    assert [e["action"] for e in shop.events(case)] == ["opened", "resolved"]
    assert verify(shop.con).ok
