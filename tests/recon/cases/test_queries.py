"""The work list (filters, most severe and oldest first) and finding a case by ID prefix."""

from collections.abc import Iterator
from datetime import timedelta

import pytest

from recon.cases.actions import acknowledge, assign, resolve
from recon.cases.errors import AmbiguousCase, UnknownCase
from recon.cases.queries import NOBODY, assignees, find_case, get_case, list_cases
from tests.recon.cases.conftest import (
    CHARGE,
    DAY,
    MISMATCH,
    NOW,
    OLD_CHARGE,
    RESERVATION,
    UNATTRIBUTED,
    Shop,
    open_shop,
    twin_cases,
)


@pytest.fixture(scope="module")
def worklist(tmp_path_factory) -> Iterator[Shop]:
    """Read by every test here, changed by none: built once."""
    with open_shop(tmp_path_factory.mktemp("worklist") / "warehouse.duckdb") as shop:
        earlier = DAY - timedelta(days=7)
        shop.reconciled(earlier, OLD_CHARGE)
        shop.sync(earlier, NOW - timedelta(days=7))
        shop.reconciled(DAY, UNATTRIBUTED, RESERVATION, MISMATCH, CHARGE)
        shop.sync()
        acknowledge(shop.con, MISMATCH.id, by="alice", now=NOW)
        assign(shop.con, MISMATCH.id, to="bob", by="alice", now=NOW)
        resolve(shop.con, RESERVATION.id, resolution="false_positive", by="bob", now=NOW)
        yield shop


def ids(found) -> list[str]:
    return [case.case_id for case in found.cases]


def test_the_most_severe_first_then_the_oldest(worklist):
    found = list_cases(worklist.con, now=NOW)
    assert ids(found) == [OLD_CHARGE.id, CHARGE.id, MISMATCH.id, RESERVATION.id, UNATTRIBUTED.id]
    assert found.total == 5
    mismatch = found.cases[2]
    assert (mismatch.state.status, mismatch.state.assignee, mismatch.state.amount_minor) == (
        "acknowledged",
        "bob",
        1234,
    )
    assert found.cases[0].age(NOW) == timedelta(days=7)


def test_pages_come_from_the_query_with_the_total_of_all_pages(worklist):
    everything = ids(list_cases(worklist.con, now=NOW))
    pages = [list_cases(worklist.con, now=NOW, limit=2, offset=n) for n in (0, 2, 4)]
    assert [ids(page) for page in pages] == [everything[0:2], everything[2:4], everything[4:]]
    assert {page.total for page in pages} == {5}
    past = list_cases(worklist.con, now=NOW, limit=2, offset=10)  # a stale link
    assert (past.cases, past.total) == ([], 5)


def test_the_assignee_filter_and_its_choices(worklist):
    con = worklist.con
    assert ids(list_cases(con, assignee="bob", now=NOW)) == [MISMATCH.id]
    assert MISMATCH.id not in ids(list_cases(con, assignee=NOBODY, now=NOW))
    assert list_cases(con, assignee=NOBODY, now=NOW).total == 4
    assert assignees(con, now=NOW) == ["bob"]
    assert assignees(con, statuses=["open"], now=NOW) == []


def test_filters_combine(worklist):
    con = worklist.con
    assert ids(list_cases(con, statuses=["resolved"], now=NOW)) == [RESERVATION.id]
    assert ids(list_cases(con, statuses=["open", "acknowledged"], severities=["high"])) == [
        MISMATCH.id
    ]
    assert ids(list_cases(con, types=["duplicate_charge"], now=NOW)) == [OLD_CHARGE.id, CHARGE.id]
    assert ids(list_cases(con, older_than=timedelta(days=3), now=NOW)) == [OLD_CHARGE.id]
    assert ids(list_cases(con, severities=["low"], statuses=["resolved"])) == []


def test_a_limit_keeps_the_total(worklist):
    found = list_cases(worklist.con, limit=2, now=NOW)
    assert ids(found) == [OLD_CHARGE.id, CHARGE.id] and found.total == 5


def test_no_cases_yet_is_an_empty_list(shop):
    found = list_cases(shop.con)
    assert (found.cases, found.total) == ([], 0)


def test_a_case_is_found_by_its_id_or_an_unambiguous_prefix(worklist):
    con = worklist.con
    assert find_case(con, CHARGE.id) == CHARGE.id
    assert find_case(con, CHARGE.id[:8]) == CHARGE.id
    with pytest.raises(UnknownCase, match="needs at least 8 characters"):
        find_case(con, CHARGE.id[:7])
    with pytest.raises(UnknownCase, match="no case 'ffffffffff' in this warehouse"):
        find_case(con, "ffffffffff")


def test_an_ambiguous_prefix_lists_the_candidates(shop):
    twins = twin_cases(shop)

    with pytest.raises(AmbiguousCase) as ambiguous:
        find_case(shop.con, "abcdef01")
    assert str(ambiguous.value) == (
        f"case ID prefix 'abcdef01' is ambiguous: it matches {twins[0].id}, {twins[1].id}"
    )
    assert find_case(shop.con, "abcdef011") == twins[1].id


def test_a_case_with_its_history(worklist):
    case, events = get_case(worklist.con, MISMATCH.id)
    assert (case.type, case.severity, case.partition_date, case.opened_at) == (
        "amount_mismatch",
        "high",
        DAY,
        NOW,
    )
    assert [e.action for e in events] == ["opened", "acknowledged", "assigned"]
    assert case.state == events[-1].state
