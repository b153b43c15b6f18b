"""RFC 9457 problem details: the error body of every service."""

import json
from collections.abc import Callable, Coroutine, Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_PREFIX = "urn:checkout-recon:problem:"


class Problem(BaseModel):
    """The documented shape of every error body; problems may carry more members."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: these statuses answer a problem+json body."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
        }
        for status in statuses
    }


def problem_body(status: int, slug: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": _TYPE_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }


def render_json(body: Any) -> bytes:
    # One rendering for the first response and its replays, so both are byte-identical.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def problem_response(
    status: int, slug: str, title: str, detail: str, headers: dict[str, str] | None = None, **extra
) -> Response:
    return Response(
        content=render_json(problem_body(status, slug, title, detail, **extra)),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


class ProblemError(Exception):
    """Raised anywhere in a request to answer with a problem body (nothing is stored)."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers
        self.extra = extra

    def response(self) -> Response:
        return problem_response(
            self.status, self.slug, self.title, self.detail, headers=self.headers, **self.extra
        )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _storable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


class _TextRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            value = await super().json()
            if not all(_storable(text) for text in _strings(value)):
                # `"\ud800"` and `"\u0000"` are valid JSON but not text a database holds (no
                # UTF-8 for a lone surrogate; PostgreSQL refuses NUL): refused like a body that
                # does not parse, before anything is executed (FastAPI re-raises this).
                raise HTTPException(
                    400, "The body holds a lone surrogate or a NUL character: not storable text."
                )
        return self._json


class TextRoute(APIRoute):
    """Routes whose JSON bodies must be Unicode text throughout."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            return await handler(_TextRequest(request.scope, request.receive))

        return route_handler


def install_problem_handler(app: FastAPI) -> None:
    """Problem bodies for `ProblemError`, for request validation (422, never stored: the
    request did not start executing, so a corrected retry with the same key is accepted) and
    for the framework's HTTP errors; and the routes added after it refuse JSON bodies that are not
    Unicode text (`TextRoute`)."""

    async def _problem(_request: Request, error: Exception) -> Response:
        assert isinstance(error, ProblemError)
        return error.response()

    async def _invalid(_request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return problem_response(
            422,
            "validation-error",
            "Invalid request",
            "The request body or parameters failed validation.",
            errors=jsonable_encoder(error.errors(), custom_encoder={Exception: str}),
        )

    async def _http(_request: Request, error: Exception) -> Response:
        # The framework's own refusals (a body that is not JSON, an unknown path, a wrong
        # method) answer a problem body like every other error, not FastAPI's `{"detail": ...}`.
        assert isinstance(error, HTTPException)
        status = HTTPStatus(error.status_code)
        detail = error.detail if isinstance(error.detail, str) else status.description
        return problem_response(
            status.value,
            status.phrase.lower().replace(" ", "-"),
            status.phrase,
            detail,
            headers=dict(error.headers) if error.headers else None,
        )

    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    # Routes added from here on refuse bodies that are not text with a 400 problem, instead of
    # failing later (fingerprint, insert, response) with a 500.
    app.router.route_class = TextRoute
    _document_problems(app)


def _document_problems(app: FastAPI) -> None:
    """The OpenAPI document says what the handlers answer: FastAPI's default 422 (a JSON
    `HTTPValidationError`) becomes the problem+json 422 `_invalid` sends, a body that does not
    parse is a 400 problem, and `Problem` is a component for the routes' `problem_responses`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=None
            )
            for path_item in document.get("paths", {}).values():
                for operation in path_item.values():
                    responses = operation.get("responses", {})
                    if "422" in responses:
                        responses["422"] = problem_responses(422)[422]
                    if "requestBody" in operation:
                        # A body that is not JSON at all is refused by `_http` before validation.
                        responses.setdefault("400", problem_responses(400)[400])
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            schemas["Problem"] = Problem.model_json_schema()
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
