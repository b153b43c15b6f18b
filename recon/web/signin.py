"""Signing in (name and password from the users file) and out."""

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from recon.web.auth import Forbidden
from recon.web.form_body import PostedForm
from recon.web.passwords import DUMMY, verify_secret
from recon.web.rendering import render
from recon.web.sessions import Session, same_token
from recon.web.state import state_of

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never `//elsewhere`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/cases"
    return target


@router.get("/signin")
def signin_page(request: Request, next: str | None = None) -> Response:
    state = state_of(request)
    session = state.gate.session(request)
    if state.gate.signed_in(session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    if session is None or session.user is not None:
        session = Session.anonymous(datetime.now(UTC))
    response = render(
        "signin.html", title="Sign in", csrf=session.csrf, next=safe_next(next), name=""
    )
    state.set_session(response, request, session)
    return response


@router.post("/signin")
def signin(request: Request, form: PostedForm) -> Response:
    state = state_of(request)
    session = state.gate.session(request)
    if not same_token(form.get("csrf"), session):
        raise Forbidden(
            "the sign-in form is out of date, or this browser refuses this site's cookie: "
            "reload the page and sign in again"
        )
    name, password = form.get("name", "").strip(), form.get("password", "")
    user = state.gate.config.user(name)
    stored = user.password_hash if user is not None and user.password_hash is not None else None
    # The dummy hash when there is no such user: a wrong name takes as long as a wrong password.
    matches = verify_secret(password, stored or DUMMY) and stored is not None
    if not matches:
        return render(
            "signin.html",
            401,
            title="Sign in",
            error="wrong name or password",
            csrf=session.csrf,
            next=safe_next(form.get("next")),
            name=name,
        )
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    signed = Session.signed_in(user.name, user.fingerprint(), datetime.now(UTC))
    state.set_session(response, request, signed)
    return response


@router.post("/signout")
def signout(request: Request, form: PostedForm) -> Response:
    state = state_of(request)
    if not same_token(form.get("csrf"), state.gate.session(request)):
        raise Forbidden("this form is out of date: reload the page and try again")
    response = RedirectResponse("/signin", status_code=303)
    state.set_session(response, request, Session.anonymous(datetime.now(UTC)))
    return response
