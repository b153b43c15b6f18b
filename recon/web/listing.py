"""The work list: its filters (the page's query string) and one page of it."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import Literal
from urllib.parse import urlencode

import duckdb
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.datastructures import QueryParams

from recon.cases.queries import NOBODY, Case, CaseList, assignees, list_cases
from recon.cases.vocabulary import STATUSES
from recon.discrepancy_types import SEVERITIES, type_names

PAGE_SIZE = 50
UNASSIGNED = "-"  # the assignee filter's value for cases nobody has (the CLI shows "-" too)
_SINGLE = ("older_than", "assignee", "page")


class CaseFilters(BaseModel):
    """The list's GET parameters; an empty filter matches all."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: tuple[Literal[STATUSES], ...] = ()
    type: tuple[str, ...] = ()
    severity: tuple[Literal[SEVERITIES], ...] = ()
    older_than: float | None = Field(None, ge=0, description="days since the case was opened")
    assignee: str | None = None
    page: int = Field(1, ge=1)

    @field_validator("type")
    @classmethod
    def _known_types(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [value for value in values if value not in type_names()]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a discrepancy type")
        return values

    @classmethod
    def from_query(cls, params: QueryParams) -> "CaseFilters":
        """From a query string; empty values (a form's untouched fields) are no filter."""
        given: dict[str, list[str]] = {}
        for name, value in params.multi_items():
            if value.strip():
                given.setdefault(name, []).append(value.strip())
        return cls.model_validate(
            {name: values[-1] if name in _SINGLE else values for name, values in given.items()}
        )

    def query(self, **changes: object) -> str:
        """This filter's query string, with `changes` (a page link)."""
        fields = self.model_dump() | changes
        pairs = [
            (name, value)
            for name, values in fields.items()
            for value in (values if isinstance(values, tuple) else (values,))
            if value is not None and not (name == "page" and value == 1)
        ]
        return urlencode(pairs)

    @property
    def any(self) -> bool:
        return bool(self.status or self.type or self.severity or self.assignee) or (
            self.older_than is not None
        )


@dataclass(frozen=True)
class Listing:
    cases: list[Case]  # this page's
    total: int  # all pages'
    page: int
    pages: int
    first: int  # the 1-based position of this page's first case
    assignees: list[str]  # whoever holds a case under the other filters: the assignee choices


def list_page(
    con: duckdb.DuckDBPyConnection,
    filters: CaseFilters,
    now: datetime,
    page_size: int = PAGE_SIZE,
) -> Listing:
    """One page of the cases matching `filters`, most severe and then oldest first: filtered,
    counted and paged by the query, whatever the number of cases (a day at 1M checkouts opens
    over 100,000)."""
    matching = {
        "statuses": filters.status,
        "types": filters.type,
        "severities": filters.severity,
        "older_than": None if filters.older_than is None else timedelta(days=filters.older_than),
        "now": now,
    }
    assignee = NOBODY if filters.assignee == UNASSIGNED else filters.assignee
    page = filters.page

    def fetch(page: int) -> CaseList:
        return list_cases(
            con, **matching, assignee=assignee, limit=page_size, offset=(page - 1) * page_size
        )

    found = fetch(page)
    pages = max(1, ceil(found.total / page_size))
    if page > pages:  # past the end (a stale link): the last page
        page = pages
        found = fetch(page)
    choices = set(assignees(con, **matching))
    if filters.assignee not in (None, UNASSIGNED):
        choices.add(filters.assignee)  # chosen, it stays a choice even when it matches none
    start = (page - 1) * page_size
    return Listing(found.cases, found.total, page, pages, start + 1, sorted(choices))
