"""The public API's request bodies (pydantic at the edge)."""

from typing import ClassVar

from pydantic import BaseModel, Field, model_validator

from checkout_service.services.fields import (
    MAX_MINOR,
    AttributionText,
    Currency,
    PositiveMinor,
    ShortText,
    Sku,
)

# The subtotal leaves room for tax (any rate up to 100%), so the total the payment and order
# services store is within MAX_MINOR too.
MAX_SUBTOTAL_MINOR = MAX_MINOR // 2


class CartLine(BaseModel):
    sku: Sku
    quantity: PositiveMinor
    unit_price_minor: PositiveMinor


class Customer(BaseModel):
    id: str = Field(min_length=1, max_length=255)
    email: ShortText | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class ClientContext(BaseModel):
    utm_source: AttributionText | None = None
    utm_medium: AttributionText | None = None
    utm_campaign: AttributionText | None = None
    utm_term: AttributionText | None = None
    utm_content: AttributionText | None = None
    referrer: AttributionText | None = None


class CheckoutRequest(BaseModel):
    # A retry that lost its UTM parameters (or gained others) is still the same checkout.
    fingerprint_exclude: ClassVar[frozenset[str]] = frozenset({"client_context"})

    lines: list[CartLine] = Field(min_length=1)
    customer: Customer
    currency: Currency
    payment_token: str = Field(min_length=1, max_length=255)
    client_context: ClientContext | None = None

    @property
    def subtotal_minor(self) -> int:
        return sum(line.quantity * line.unit_price_minor for line in self.lines)

    @model_validator(mode="after")
    def _subtotal_fits(self) -> "CheckoutRequest":
        if self.subtotal_minor > MAX_SUBTOTAL_MINOR:
            raise ValueError(f"the subtotal must be at most {MAX_SUBTOTAL_MINOR} minor units")
        return self


class CancelRequest(BaseModel):
    reason: ShortText | None = None
