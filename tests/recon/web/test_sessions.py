"""The session cookie: only this server's, unaltered and unexpired, is a session."""

from datetime import UTC, datetime, timedelta

import pytest

from recon.web.sessions import Session, SessionSigner, same_token

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
SECRET = b"k" * 32


def test_a_signed_session_reads_back_until_it_expires():
    signer = SessionSigner(SECRET, timedelta(hours=12))
    session = Session.signed_in("alice", "f1", NOW)
    cookie = signer.dump(session)
    assert signer.load(cookie, NOW + timedelta(hours=11)) == session
    assert signer.load(cookie, NOW + timedelta(hours=13)) is None


def test_an_altered_or_foreign_cookie_is_no_session():
    signer = SessionSigner(SECRET, timedelta(hours=12))
    cookie = signer.dump(Session.signed_in("rita", "f1", NOW))
    payload, signature = cookie.split(".")
    forged = signer.dump(Session.signed_in("alice", "f1", NOW)).split(".")[0]
    assert signer.load(f"{forged}.{signature}", NOW) is None
    assert signer.load(f"{payload}.{signature[:-2]}", NOW) is None
    assert signer.load("garbage", NOW) is None
    other = SessionSigner(b"o" * 32, timedelta(hours=12))
    assert other.load(cookie, NOW) is None


def test_each_session_has_its_own_csrf_token():
    one, two = Session.signed_in("alice", "f", NOW), Session.signed_in("alice", "f", NOW)
    assert one.csrf != two.csrf and len(one.csrf) >= 32
    assert same_token(one.csrf, one)
    assert not same_token(two.csrf, one)
    assert not same_token("", one) and not same_token(None, one)
    assert not same_token(one.csrf, None)


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        SessionSigner(b"short", timedelta(hours=1))
