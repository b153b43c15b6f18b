"""The session cookie: who signed in, when, and the session's CSRF token, signed with
HMAC-SHA256 (the standard library; no session store, so a restart with the same secret keeps
everyone signed in). Every visitor of the sign-in page gets a session, signed in or not: its
token guards the sign-in form too."""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

COOKIE = "recon_session"


@dataclass(frozen=True)
class Session:
    csrf: str
    user: str | None = None  # None: not signed in (yet)
    fingerprint: str | None = None  # the user's `WebUser.fingerprint()` at sign-in
    issued: int = 0  # Unix seconds

    @classmethod
    def anonymous(cls, now: datetime) -> "Session":
        return cls(csrf=secrets.token_urlsafe(32), issued=int(now.timestamp()))

    @classmethod
    def signed_in(cls, user: str, fingerprint: str, now: datetime) -> "Session":
        # A new token at sign-in: one planted before it (session fixation) is worth nothing.
        return cls(secrets.token_urlsafe(32), user, fingerprint, int(now.timestamp()))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, secret: bytes, max_age: timedelta):
        if len(secret) < 32:
            raise ValueError("the session secret must be at least 32 bytes")
        # A key of its own for cookies, should the secret ever sign anything else.
        self._key = hmac.new(secret, b"recon web session", hashlib.sha256).digest()
        self.max_age = max_age

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def dump(self, session: Session) -> str:
        body = {"c": session.csrf, "u": session.user, "f": session.fingerprint, "t": session.issued}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._signature(payload)}"

    def load(self, cookie: str | None, now: datetime | None = None) -> Session | None:
        """The session of a cookie this signer made and that has not expired; else None."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._signature(payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
            session = Session(str(body["c"]), body["u"], body["f"], int(body["t"]))
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None
        age = (now or datetime.now(UTC)).timestamp() - session.issued
        return session if 0 <= age <= self.max_age.total_seconds() else None


def same_token(given: str | None, session: Session | None) -> bool:
    """Whether a form's CSRF token is its session's (constant time)."""
    if session is None or not given:
        return False
    return hmac.compare_digest(given.encode(), session.csrf.encode())
