"""What the routes share, kept on the app (`app.state.web`): one per `create_app`."""

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from recon.web.auth import Gate
from recon.web.sessions import COOKIE, Session
from recon.web.warehouse import Warehouse


@dataclass(frozen=True)
class WebState:
    gate: Gate
    warehouse: Warehouse
    page_size: int

    def set_session(self, response: Response, request: Request, session: Session) -> None:
        # HttpOnly: no script reads it; Lax: another site's form post does not carry it; Secure
        # when the page came over HTTPS (a TLS proxy in front sets X-Forwarded-Proto).
        response.set_cookie(
            COOKIE,
            self.gate.signer.dump(session),
            max_age=int(self.gate.signer.max_age.total_seconds()),
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )


def state_of(request: Request) -> WebState:
    return request.app.state.web
