"""Field types shared by the services' request bodies."""

from typing import Annotated, Any

from pydantic import Field

CheckoutId = Annotated[str, Field(min_length=1, max_length=255)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO-4217 code")]
PositiveMinor = Annotated[int, Field(gt=0, description="integer amount in minor units")]
NonNegativeMinor = Annotated[int, Field(ge=0, description="integer amount in minor units")]
Sku = Annotated[str, Field(min_length=1, max_length=255)]


def iso(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON-ready data: timestamps as ISO-8601 text."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
