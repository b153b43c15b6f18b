"""Who is asking, and what they may do: a signed-in person (session cookie) or a script with an
API key (`Authorization: Bearer <key>`, reads only). Roles: a reader looks, an operator acts."""

import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request

from recon.web.config import WebConfig, WebUser
from recon.web.passwords import verify_secret
from recon.web.sessions import COOKIE, Session, SessionSigner, same_token


class NotSignedIn(Exception):
    """No valid session: a person is sent to the sign-in page."""


class BadApiKey(Exception):
    """An `Authorization` header that names no user: 401."""


class Forbidden(Exception):
    """Signed in, but not allowed this (a reader acting, a form without its token): 403."""


@dataclass(frozen=True)
class Viewer:
    user: WebUser
    session: Session | None  # None: an API key

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def can_act(self) -> bool:
        # An API key never acts: the actions are forms, and forms need a session's CSRF token.
        return self.session is not None and self.user.can_act

    @property
    def csrf(self) -> str | None:
        return self.session.csrf if self.session else None


class ApiKeys:
    """Finds the user of an API key. scrypt makes each check cost ~50 ms, so a key that matched
    once is remembered (by an HMAC of it under a key of this process, never the key itself)."""

    def __init__(self, config: WebConfig):
        self._users = [user for user in config.users if user.api_key_hash is not None]
        self._pepper = secrets.token_bytes(32)
        self._known: dict[bytes, WebUser] = {}
        self._lock = threading.Lock()

    def find(self, key: str) -> WebUser | None:
        tag = hmac.new(self._pepper, key.encode(), hashlib.sha256).digest()
        with self._lock:
            if tag in self._known:
                return self._known[tag]
        for user in self._users:
            if verify_secret(key, user.api_key_hash):
                with self._lock:
                    self._known[tag] = user
                return user
        return None


@dataclass(frozen=True)
class Gate:
    """What the routes ask about people; one per app (see `app.create_app`)."""

    config: WebConfig
    signer: SessionSigner
    api_keys: ApiKeys

    def session(self, request: Request) -> Session | None:
        return self.signer.load(request.cookies.get(COOKIE))

    def signed_in(self, session: Session | None) -> WebUser | None:
        """The user of a signed-in session, while their password and role are as they were."""
        if session is None or session.user is None:
            return None
        user = self.config.user(session.user)
        if user is None or user.password_hash is None or user.fingerprint() != session.fingerprint:
            return None
        return user

    def viewer(self, request: Request) -> Viewer:
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, key = header.partition(" ")
            user = self.api_keys.find(key.strip()) if scheme.lower() == "bearer" else None
            if user is None:
                raise BadApiKey("an Authorization header must be `Bearer <API key>` of a user")
            return Viewer(user, None)
        session = self.session(request)
        user = self.signed_in(session)
        if user is None:
            raise NotSignedIn()
        return Viewer(user, session)

    def operator(self, request: Request, form: Mapping[str, str]) -> Viewer:
        """The viewer of a form that acts: signed in with a session, the form carrying that
        session's CSRF token, and an operator."""
        viewer = self.viewer(request)
        if viewer.session is None:
            raise Forbidden("an API key only reads: sign in to act on cases")
        if not same_token(form.get("csrf"), viewer.session):
            raise Forbidden(
                "this form is out of date or did not come from this site: reload the page and "
                "try again"
            )
        if not viewer.user.can_act:
            raise Forbidden(f"{viewer.name} is a reader: only an operator can act on cases")
        return viewer
