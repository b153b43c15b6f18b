"""The forms that act: through the case log, as the signed-in user, guarded by role and CSRF
token; a refusal is a page that says why, never a 500."""

import re
from datetime import UTC, datetime

import duckdb
import pytest

from recon.cases.chain import verify
from recon.cases.sync import sync
from recon.warehouse import connect
from tests.recon.cases.conftest import CHARGE, DAY, MISMATCH, RESERVATION
from tests.recon.web.conftest import error_of

OPENED = ("recon", "opened", "open", None, None, None)


def forms_on(page) -> list[str]:
    return re.findall(r'<form class="action"[^>]*data-action="(\w+)"', page.text)


def test_an_operator_resolves_a_case_and_the_log_names_her(site):
    alice = site.visitor("alice")
    done = alice.act(CHARGE.id, "resolve", resolution="refunded", note="refunded by hand")
    assert done.status_code == 303
    assert done.headers["location"] == f"/cases/{CHARGE.id}?done=resolve"
    page = alice.get(done.headers["location"])
    assert "Resolved." in page.text
    assert 'data-field="status">resolved (refunded)<' in page.text
    assert '<td class="note">refunded by hand</td>' in page.text
    assert site.events(CHARGE.id) == [
        OPENED,
        ("alice", "resolved", "resolved", "refunded", None, "refunded by hand"),
    ]
    with duckdb.connect(str(site.warehouse), read_only=True) as con:
        assert verify(con).ok  # the same hash chain as the command line's


def test_every_form_goes_through_the_log(site):
    alice = site.visitor("alice")
    assert alice.act(CHARGE.id, "acknowledge", note="").status_code == 303
    assert alice.act(CHARGE.id, "assign", to="bob", note="PSP side").status_code == 303
    assert alice.act(CHARGE.id, "note", note="asked the PSP").status_code == 303
    assert alice.act(CHARGE.id, "resolve", resolution="written_off").status_code == 303
    assert alice.act(CHARGE.id, "reopen", note="bounced").status_code == 303
    assert site.events(CHARGE.id) == [
        OPENED,
        ("alice", "acknowledged", "acknowledged", None, None, None),
        ("alice", "assigned", "acknowledged", None, "bob", "PSP side"),
        ("alice", "noted", "acknowledged", None, "bob", "asked the PSP"),
        ("alice", "resolved", "resolved", "written_off", "bob", None),
        ("alice", "reopened", "open", None, "bob", "bounced"),
    ]


def test_the_page_offers_only_what_the_status_allows(site):
    alice = site.visitor("alice")
    assert forms_on(alice.get(f"/cases/{CHARGE.id}")) == [
        "acknowledge",
        "assign",
        "resolve",
        "note",
    ]
    assert forms_on(alice.get(f"/cases/{RESERVATION.id}")) == ["assign", "reopen", "note"]


@pytest.mark.parametrize(
    ("case", "action", "fields", "status", "says"),
    [
        (RESERVATION, "resolve", {"resolution": "refunded"}, 409, "is resolved: it is already"),
        (RESERVATION, "acknowledge", {}, 409, "a resolved case cannot be acknowledged"),
        (CHARGE, "reopen", {}, 409, "only a resolved case can be reopened"),
        (MISMATCH, "assign", {"to": "bob"}, 409, "it is already assigned to bob"),
        (CHARGE, "assign", {"to": "  "}, 422, "to: say who the case goes to"),
        (CHARGE, "resolve", {"resolution": "shrug"}, 422, "resolution: choose a resolution"),
        (CHARGE, "note", {"note": ""}, 422, "note: write the note"),
    ],
)
def test_a_refused_action_shows_why_on_the_case_page(site, case, action, fields, status, says):
    before = site.events(case.id)
    refused = site.visitor("alice").act(case.id, action, **fields)
    assert refused.status_code == status
    assert says in error_of(refused)
    assert f"<code>{case.id}</code>" in refused.text  # the case page, forms and all
    assert site.events(case.id) == before


def test_a_cleared_case_refuses_every_action(site):
    with connect(site.warehouse) as con:  # a rerun no longer finds the charge: cleared
        con.execute("delete from marts.discrepancies where discrepancy_id = ?", [CHARGE.id])
        sync(con, DAY, datetime.now(UTC))
    alice = site.visitor("alice")
    page = alice.get(f"/cases/{CHARGE.id}")
    assert forms_on(page) == [] and "Nothing to act on" in page.text
    token = alice.csrf()
    refused = alice.post(f"/cases/{CHARGE.id}/resolve", {"csrf": token, "resolution": "refunded"})
    assert refused.status_code == 409
    assert "is cleared: its discrepancy is no longer found" in error_of(refused)


def test_a_post_without_the_sessions_token_is_403_and_changes_nothing(site):
    alice = site.visitor("alice")
    other = site.visitor("alice").csrf()  # another session's token
    for fields in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": other}):
        refused = alice.post(f"/cases/{CHARGE.id}/acknowledge", fields)
        assert refused.status_code == 403
        assert "reload the page" in error_of(refused)
    assert site.events(CHARGE.id) == [OPENED]


def test_a_reader_sees_no_forms_and_cannot_act(site):
    rita = site.visitor("rita")
    page = rita.get(f"/cases/{CHARGE.id}")
    assert forms_on(page) == []
    assert "an operator acts on them" in page.text
    refused = rita.post(f"/cases/{CHARGE.id}/acknowledge", {"csrf": rita.csrf()})
    assert refused.status_code == 403
    assert error_of(refused) == "rita is a reader: only an operator can act on cases"
    assert site.events(CHARGE.id) == [OPENED]


def test_acting_without_a_session_sends_to_sign_in(site):
    visitor = site.visitor()
    refused = visitor.post(f"/cases/{CHARGE.id}/acknowledge", {"csrf": visitor.csrf("/signin")})
    assert refused.status_code == 303 and refused.headers["location"] == "/signin"
    assert site.events(CHARGE.id) == [OPENED]


def test_unknown_actions_and_cases_are_404(site):
    alice = site.visitor("alice")
    token = alice.csrf()
    assert alice.post(f"/cases/{CHARGE.id}/delete", {"csrf": token}).status_code == 404
    missing = alice.post("/cases/ffffffffffff/acknowledge", {"csrf": token})
    assert missing.status_code == 404


def test_a_form_that_is_not_url_encoded_is_refused(site):
    alice = site.visitor("alice")
    refused = alice.http.post(f"/cases/{CHARGE.id}/acknowledge", json={"csrf": alice.csrf()})
    assert refused.status_code == 415
    assert site.events(CHARGE.id) == [OPENED]
