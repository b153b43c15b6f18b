"""Tax quotes: a deterministic rate per country, else per currency, in basis points.

Amounts are integers: tax = subtotal × rate / 10 000, rounded half up to the minor unit.
"""

from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Column, Integer, String, insert
from sqlalchemy.engine import Connection

from checkout_service.db import UTCDateTime, step_table
from checkout_service.idempotency import Outcome, key_responses, service_metadata
from checkout_service.services.fields import CheckoutId, Currency, NonNegativeMinor, iso
from checkout_service.services.runtime import KeyedCallDep, app_factory, service_router

SERVICE = "tax"

RATES_BY_COUNTRY_BP = {"DE": 1900, "FR": 2000, "GB": 2000, "NL": 2100, "IT": 2200, "US": 0}
RATES_BY_CURRENCY_BP = {"EUR": 2000, "GBP": 2000, "USD": 0, "JPY": 1000}
DEFAULT_RATE_BP = 0

metadata, keys = service_metadata()
quotes = step_table(
    "tax_quotes",
    metadata,
    "quote_id",
    Column("country", String(2)),
    Column("currency", String(3), nullable=False),
    Column("rate_bp", Integer, nullable=False),
    Column("subtotal_minor", Integer, nullable=False),
    Column("tax_minor", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
# Built once, so a request only binds its values (see `checkout_service.orchestrator.store`).
_INSERT = insert(quotes)


class QuoteRequest(BaseModel):
    checkout_id: CheckoutId
    currency: Currency
    subtotal_minor: NonNegativeMinor
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


def rate_bp(country: str | None, currency: str) -> int:
    if country in RATES_BY_COUNTRY_BP:
        return RATES_BY_COUNTRY_BP[country]
    return RATES_BY_CURRENCY_BP.get(currency, DEFAULT_RATE_BP)


def tax_minor(subtotal_minor: int, rate: int) -> int:
    return (subtotal_minor * rate + 5_000) // 10_000


router = service_router()
create_app = app_factory(SERVICE, metadata, keys, "Tax service", router)


@router.post("/v1/quotes", status_code=201, responses=key_responses())
def quote(body: QuoteRequest, call: KeyedCallDep) -> Response:
    def handler(conn: Connection) -> Outcome:
        rate = rate_bp(body.country, body.currency)
        row = {
            "quote_id": call.runtime.new_id("txq"),
            "checkout_id": body.checkout_id,
            "idempotency_key": call.key,
            "country": body.country,
            "currency": body.currency,
            "rate_bp": rate,
            "subtotal_minor": body.subtotal_minor,
            "tax_minor": tax_minor(body.subtotal_minor, rate),
            "created_at": call.runtime.clock(),
        }
        conn.execute(_INSERT, row)
        return Outcome(201, iso(row))

    return call.execute(body, handler)
