"""The pages that read: the work list and a case with its evidence and history."""

from datetime import UTC, datetime

import duckdb
from fastapi import APIRouter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from recon.cases.actions import ALLOWED_FROM
from recon.cases.queries import find_case, get_case
from recon.cases.vocabulary import RESOLUTIONS, STATUSES
from recon.discrepancy_types import SEVERITIES, type_names
from recon.web.auth import Viewer
from recon.web.config import describe
from recon.web.evidence import evidence_of
from recon.web.listing import UNASSIGNED, CaseFilters, Listing, list_page
from recon.web.rendering import render
from recon.web.state import state_of

router = APIRouter()

# The forms of a case page, each with the event it appends (whose allowed statuses decide
# whether the form shows) and its button.
FORMS = {
    "acknowledge": ("acknowledged", "Acknowledge"),
    "assign": ("assigned", "Assign"),
    "resolve": ("resolved", "Resolve"),
    "reopen": ("reopened", "Reopen"),
    "note": ("noted", "Add note"),
}
DONE = {
    "acknowledge": "Acknowledged.",
    "assign": "Assigned.",
    "resolve": "Resolved.",
    "reopen": "Reopened.",
    "note": "Note added.",
}


@router.get("/")
def home() -> Response:
    return RedirectResponse("/cases", status_code=303)


@router.get("/cases")
def case_list(request: Request) -> Response:
    state = state_of(request)
    viewer = state.gate.viewer(request)
    now = datetime.now(UTC)
    try:
        filters = CaseFilters.from_query(request.query_params)
    except ValidationError as error:
        empty = Listing([], 0, 1, 1, 1, [])
        return _list(viewer, CaseFilters(), empty, now, 400, error=describe(error))
    with state.warehouse.reading() as con:
        listing = list_page(con, filters, now, state.page_size)
    return _list(viewer, filters, listing, now)


def _list(
    viewer: Viewer,
    filters: CaseFilters,
    listing: Listing,
    now: datetime,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    return render(
        "cases.html",
        status_code,
        title="Cases",
        viewer=viewer,
        error=error,
        filters=filters,
        listing=listing,
        now=now,
        statuses=STATUSES,
        severities=SEVERITIES,
        types=type_names(),
        unassigned=UNASSIGNED,
    )


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str, done: str | None = None) -> Response:
    state = state_of(request)
    viewer = state.gate.viewer(request)
    with state.warehouse.reading() as con:
        full_id = find_case(con, case_id)  # a prefix names the case too
        if full_id != case_id:
            return RedirectResponse(f"/cases/{full_id}", status_code=303)
        return case_response(con, viewer, full_id, message=DONE.get(done or ""))


def case_response(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    case_id: str,
    status_code: int = 200,
    message: str | None = None,
    error: str | None = None,
) -> Response:
    """The case page; the forms only for an operator, and only those its status allows."""
    case, events = get_case(con, case_id)
    status = case.state.status
    forms = [name for name, (event, _) in FORMS.items() if status in ALLOWED_FROM[event]]
    return render(
        "case.html",
        status_code,
        title=f"Case {case_id[:12]}",
        viewer=viewer,
        message=message,
        error=error,
        case=case,
        events=events,
        evidence=evidence_of(con, case_id),
        forms=forms if viewer.can_act else [],
        labels={name: label for name, (_, label) in FORMS.items()},
        resolutions=RESOLUTIONS,
        now=datetime.now(UTC),
    )
