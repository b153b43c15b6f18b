"""The forms that act on a case: each goes through `recon.cases.actions`, so it lands in the
same hash-chained log as the command line's, with the signed-in user as the actor."""

from collections.abc import Callable

import duckdb
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from recon.cases import actions
from recon.cases.errors import TransitionRefused
from recon.cases.queries import find_case
from recon.cases.vocabulary import RESOLUTIONS
from recon.web.case_pages import case_response
from recon.web.config import describe
from recon.web.form_body import PostedForm
from recon.web.state import state_of

router = APIRouter()


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    note: str | None = Field(None, max_length=2000)

    @field_validator("note")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class AssignForm(_Form):
    to: str = Field(max_length=64)

    @field_validator("to")
    @classmethod
    def _someone(cls, value: str) -> str:
        if not value:
            raise ValueError("say who the case goes to")
        return value


class ResolveForm(_Form):
    resolution: str

    @field_validator("resolution")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in RESOLUTIONS:
            raise ValueError(f"choose a resolution: {', '.join(RESOLUTIONS)}")
        return value


class NoteForm(_Form):
    @field_validator("note")
    @classmethod
    def _required(cls, value: str | None) -> str:
        if not value:
            raise ValueError("write the note")
        return value


Act = Callable[[duckdb.DuckDBPyConnection, str, str, BaseModel], object]

# Each form: its fields, and the action it runs for whom (`by`).
ACTIONS: dict[str, tuple[type[_Form], Act]] = {
    "acknowledge": (_Form, lambda con, id, by, f: actions.acknowledge(con, id, by=by, note=f.note)),
    "assign": (
        AssignForm,
        lambda con, id, by, f: actions.assign(con, id, to=f.to, by=by, note=f.note),
    ),
    "resolve": (
        ResolveForm,
        lambda con, id, by, f: actions.resolve(
            con, id, resolution=f.resolution, by=by, note=f.note
        ),
    ),
    "reopen": (_Form, lambda con, id, by, f: actions.reopen(con, id, by=by, note=f.note)),
    "note": (NoteForm, lambda con, id, by, f: actions.note(con, id, text=f.note, by=by)),
}


@router.post("/cases/{case_id}/{action}")
def act(request: Request, case_id: str, action: str, form: PostedForm) -> Response:
    """Run the action, then back to the case page (post/redirect/get); a refusal shows the case
    page again with the reason: 409 for a status that does not allow it, 422 for a bad field."""
    if action not in ACTIONS:
        raise HTTPException(404, f"no action {action!r}: {', '.join(ACTIONS)}")
    state = state_of(request)
    viewer = state.gate.operator(request, form)
    fields_of, run = ACTIONS[action]
    with state.warehouse.writing() as con:
        full_id = find_case(con, case_id)
        try:
            run(con, full_id, viewer.name, fields_of.model_validate(form))
        except ValidationError as error:
            return case_response(con, viewer, full_id, 422, error=describe(error))
        except TransitionRefused as error:
            return case_response(con, viewer, full_id, 409, error=str(error))
        except ValueError as error:  # what `actions` refuses of a field
            return case_response(con, viewer, full_id, 422, error=str(error))
    return RedirectResponse(f"/cases/{full_id}?done={action}", status_code=303)
