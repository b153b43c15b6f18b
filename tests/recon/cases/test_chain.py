"""The hash chain: its exact format, and `verify` finding an edited, deleted or reordered event,
and a recorded head that is no longer in the log."""

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from recon.cases.actions import acknowledge, assign, note, resolve
from recon.cases.chain import GENESIS, HASHED_COLUMNS, canonical, canonical_sql, verify
from tests.recon.cases.conftest import (
    CHARGE,
    DAY,
    MISMATCH,
    NOW,
    RESERVATION,
    Shop,
    copied,
    open_shop,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Six events: three opened (1-3), then an acknowledgement, an assignment, a resolution."""
    path = tmp_path_factory.mktemp("chain") / "warehouse.duckdb"
    with open_shop(path) as shop:
        shop.reconciled(DAY, CHARGE, MISMATCH, RESERVATION)
        shop.sync()
        acknowledge(shop.con, CHARGE.id, by="alice", note="on it", now=NOW)
        assign(shop.con, CHARGE.id, to="bob", by="alice", now=NOW)
        resolve(shop.con, CHARGE.id, resolution="refunded", by="bob", now=NOW)
    return path


@pytest.fixture
def log(template, tmp_path) -> Iterator[Shop]:
    with open_shop(copied(template, tmp_path)) as shop:
        yield shop


def test_each_hash_is_sha256_of_the_previous_hash_and_the_canonical_json(log):
    events = log.events()
    previous = GENESIS
    for event in events:
        assert event["prev_hash"] == previous
        content = {k: v for k, v in event.items() if k not in ("prev_hash", "hash")}
        content["at"] = "2026-02-11T06:00:00.000000Z"  # UTC, microseconds, Z: one spelling
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        assert event["hash"] == hashlib.sha256((previous + text).encode()).hexdigest()
        previous = event["hash"]


def test_the_canonical_json_is_spelled_out(log):
    [opened] = [e for e in log.events(CHARGE.id) if e["action"] == "opened"]
    values = {k: v for k, v in opened.items() if k not in ("prev_hash", "hash")}
    assert canonical(values) == (
        '{"action":"opened","actor":"recon","amount_minor":5000,"assignee":null,'
        f'"at":"2026-02-11T06:00:00.000000Z","case_id":"{CHARGE.id}","currency":"USD",'
        f'"event_no":{opened["event_no"]},"note":null,"resolution":null,"status":"open"}}'
    )


# Strings json.dumps escapes each its own way: quotes, backslashes, short escapes, other control
# characters, DEL, accents, a combining mark, CJK, beyond the BMP (a surrogate pair).
AWKWARD = [
    'say "hi"',
    "C:\\temp\\",
    "two\nlines\ttab\r\b\f",
    "\x00\x1f\x7f\x80",
    "Zoë, Ångström",
    "e\u0301",
    "退款",
    "refund 💸 ok",
    "<&'/>",
    "",
]


@pytest.mark.parametrize("text", [*AWKWARD, None])
def test_the_writers_sql_spells_every_event_as_the_verifiers_python_does(text):
    values = {
        "event_no": 9_007_199_254_740_993,  # past a double's precision: printed as an integer
        "case_id": "68bfa65dd88891301cc124f87e4a7193",
        # Another offset, in a session of yet another zone: the text is UTC all the same.
        "at": datetime(2026, 2, 11, 7, 0, 0, 5, tzinfo=timezone(timedelta(hours=1))),
        "actor": text,
        "action": "noted",
        "status": "open",
        "assignee": text,
        "resolution": None,
        "amount_minor": -1234,
        "currency": text,
        "note": text,
    }
    assert list(values) == list(HASHED_COLUMNS)
    with duckdb.connect() as con:
        con.execute("set timezone = 'America/New_York'")
        casts = {"at": "::timestamptz", "event_no": "::bigint", "amount_minor": "::bigint"}
        row = ", ".join(f'?{casts.get(name, "::varchar")} as "{name}"' for name in values)
        [(written,)] = con.execute(
            f"select {canonical_sql()} from (select {row})", list(values.values())
        ).fetchall()
    assert written == canonical(values)
    assert written.isascii() and '"at":"2026-02-11T06:00:00.000005Z"' in written


def test_awkward_notes_and_names_verify(log):
    for text in AWKWARD[:-1]:
        note(log.con, CHARGE.id, text=text, by=text, now=NOW.astimezone(UTC))
    # Actions trim what people type; the rest is kept as it is.
    assert [e["note"] for e in log.events()[6:]] == [text.strip() for text in AWKWARD[:-1]]
    assert verify(log.con).ok


def test_an_intact_log_verifies_with_its_count_and_head(log):
    report = verify(log.con)
    assert report.ok and report.events == 6
    assert report.head == log.events()[-1]["hash"]
    assert report.describe() == f"cases log OK: 6 event(s), head {report.head}"


def test_an_empty_or_missing_log_is_intact(shop):
    report = verify(shop.con)
    assert (report.ok, report.events, report.head) == (True, 0, GENESIS)
    assert verify(shop.con, GENESIS).ok


def test_an_edited_note_is_named(log):
    log.con.execute("update cases.events set note = 'nothing to see' where event_no = 4")

    report = verify(log.con)

    assert not report.ok
    assert report.broken.event_no == 4 and report.broken.case_id == CHARGE.id
    assert report.describe() == (
        f"cases log BROKEN: event 4 (case {CHARGE.id}): its content does not match its hash: "
        "edited after it was written"
    )


def test_an_edited_state_is_named_even_with_a_recomputed_hash_of_its_own(log):
    # Rewriting an event and its own hash still breaks the link to the next event.
    event = log.events()[4]
    forged = {k: v for k, v in event.items() if k not in ("prev_hash", "hash")}
    forged["assignee"] = "mallory"
    forged["at"] = "2026-02-11T06:00:00.000000Z"
    text = json.dumps(forged, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256((event["prev_hash"] + text).encode()).hexdigest()
    log.con.execute(
        "update cases.events set assignee = 'mallory', hash = ? where event_no = 5", [digest]
    )

    report = verify(log.con)

    assert report.broken.event_no == 6
    assert "prev_hash" in report.broken.reason and "deleted, inserted or reordered" in (
        report.broken.reason
    )


def test_a_deleted_middle_event_is_named(log):
    log.con.execute("delete from cases.events where event_no = 3")

    report = verify(log.con)

    assert report.broken.event_no == 4
    assert report.broken.reason == (
        "event 3 is missing: deleted (or renumbered) after it was written"
    )
    assert report.events == 5


def test_reordered_events_are_named(log):
    log.con.execute(
        "update cases.events set event_no = case event_no when 4 then 5 else 4 end "
        "where event_no in (4, 5)"
    )

    report = verify(log.con)

    assert report.broken.event_no == 4
    assert "is not the hash of the event before it" in report.broken.reason


def test_deleted_last_events_need_a_recorded_head(log):
    recorded = verify(log.con).head
    note(log.con, CHARGE.id, text="later", by="bob", now=NOW)
    # A head recorded earlier is still in the chain: events were only appended since.
    later = verify(log.con, recorded)
    assert later.ok and later.expected_head_at == 6
    assert later.describe().endswith("the recorded head is event 6: 1 event(s) appended since")

    log.con.execute("delete from cases.events where event_no >= 6")
    assert verify(log.con).ok  # a shorter chain is still a chain

    report = verify(log.con, recorded.upper())
    assert not report.ok
    assert report.broken.event_no is None
    assert report.describe() == (
        f"cases log BROKEN: the recorded head {recorded} is not in the log (it has 5 event(s), "
        f"head {log.events()[-1]['hash']}): events up to it were deleted or the log was rewritten"
    )


def test_a_malformed_head_is_refused(log):
    with pytest.raises(ValueError, match="not a head hash"):
        verify(log.con, "abc")
