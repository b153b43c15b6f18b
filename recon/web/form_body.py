"""Reading a posted HTML form (application/x-www-form-urlencoded) with the standard library:
FastAPI's `Form` needs python-multipart, which the project does not install."""

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends
from starlette.exceptions import HTTPException
from starlette.requests import Request

MAX_BYTES = 64 * 1024  # a note is at most 2,000 characters; nothing legitimate comes near this


async def form_fields(request: Request) -> dict[str, str]:
    """The form's fields (the last value of a repeated one). A FastAPI dependency: it reads the
    body here, so the route itself can be a plain function run in the thread pool."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # No type at all is an empty post: it reaches the token check, which refuses it (403).
    if kind not in ("", "application/x-www-form-urlencoded"):
        raise HTTPException(415, "post the page's form (application/x-www-form-urlencoded)")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BYTES:
            raise HTTPException(413, "the form is too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as error:
        raise HTTPException(400, "the form could not be read") from error
    return dict(pairs)


# A route's parameter `form: PostedForm` is the posted form's fields.
PostedForm = Annotated[dict[str, str], Depends(form_fields)]
