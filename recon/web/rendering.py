"""The pages' Jinja2 templates (autoescaped) and the filters that spell times, ages and money
as the command line does."""

from datetime import UTC, datetime
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

from recon.cases.display import age_text, status_text
from recon.currencies import format_money

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("recon.web", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def money(state: Any) -> str:
    """A case state's amount, as `format_money` spells it."""
    return format_money(state.amount_minor, state.currency)


_ENV.filters.update(when=when, age=age_text, money=money, status=status_text)


_DEFAULTS = {"viewer": None, "message": None, "error": None}


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page; `viewer` (who is signed in), `message` and `error` are optional."""
    html = _ENV.get_template(template).render(**(_DEFAULTS | context))
    return HTMLResponse(html, status_code=status_code)


def stylesheet() -> str:
    return _ENV.loader.get_source(_ENV, "style.css")[0]
