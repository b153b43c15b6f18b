"""`create_app`: the web app over a warehouse and a users file. `recon web` serves it."""

import logging
import secrets
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, SecretBytes
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from recon.cases.errors import AmbiguousCase, CaseError, UnknownCase
from recon.web import case_forms, case_pages, signin
from recon.web.auth import ApiKeys, BadApiKey, Forbidden, Gate, NotSignedIn
from recon.web.config import WebConfig
from recon.web.listing import PAGE_SIZE
from recon.web.rendering import render, stylesheet
from recon.web.sessions import SessionSigner
from recon.web.state import WebState, state_of
from recon.web.warehouse import Warehouse, WarehouseBusy

log = logging.getLogger(__name__)

# No script, no frames, no other origin: the pages are plain HTML forms and one stylesheet.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Pages carry case data and a CSRF token: no cache keeps them.
    "Cache-Control": "no-store",
}


class WebSettings(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    warehouse: Path
    config: WebConfig
    # None: a random one for this process (sessions end when it stops).
    session_secret: SecretBytes | None = None
    lock_wait_seconds: float = Field(5.0, ge=0)
    page_size: int = Field(PAGE_SIZE, ge=1)


def create_app(settings: WebSettings) -> FastAPI:
    secret = settings.session_secret
    signer = SessionSigner(
        secret.get_secret_value() if secret else secrets.token_bytes(32),
        timedelta(hours=settings.config.session_hours),
    )
    app = FastAPI(title="recon web", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = WebState(
        gate=Gate(settings.config, signer, ApiKeys(settings.config)),
        warehouse=Warehouse(settings.warehouse, settings.lock_wait_seconds),
        page_size=settings.page_size,
    )
    for module in (signin, case_pages, case_forms):
        app.include_router(module.router)
    _add_assets(app)
    _add_error_pages(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


def _add_assets(app: FastAPI) -> None:
    css = stylesheet()

    @app.get("/style.css", include_in_schema=False)
    def style() -> Response:
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)


def _error(request: Request, status_code: int, text: str, **headers: str) -> Response:
    viewer = None
    with suppress(NotSignedIn, BadApiKey):  # an error page for anyone, signed in or not
        viewer = state_of(request).gate.viewer(request)
    response = render("error.html", status_code, title=text, viewer=viewer, error=text)
    response.headers.update(headers)
    return response


def _add_error_pages(app: FastAPI) -> None:
    # Every refusal is a page that says why, with its 4xx (or 503) status: never a traceback.
    @app.exception_handler(NotSignedIn)
    def not_signed_in(request: Request, _error_: NotSignedIn) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        where = target if request.method == "GET" else ""
        query = f"?next={quote(where, safe='/')}" if where else ""
        return RedirectResponse(f"/signin{query}", status_code=303)

    @app.exception_handler(BadApiKey)
    def bad_key(request: Request, error: BadApiKey) -> Response:
        return _error(request, 401, str(error), **{"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, error: Forbidden) -> Response:
        return _error(request, 403, str(error))

    @app.exception_handler(WarehouseBusy)
    def busy(request: Request, error: WarehouseBusy) -> Response:
        log.warning("%s", error)
        return _error(request, 503, str(error), **{"Retry-After": "30"})

    @app.exception_handler(CaseError)
    def case_error(request: Request, error: CaseError) -> Response:
        status = (
            404
            if isinstance(error, UnknownCase)
            else 400
            if isinstance(error, AmbiguousCase)
            else 409
        )
        return _error(request, status, str(error))

    @app.exception_handler(HTTPException)
    def http_error(request: Request, error: HTTPException) -> Response:
        text = error.detail if isinstance(error.detail, str) else "request refused"
        return _error(request, error.status_code, text)
