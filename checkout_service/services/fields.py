"""Field types shared by the services' request bodies."""

from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

# The largest amount or quantity a request may carry: what an INTEGER column holds on every
# backend (PostgreSQL's INTEGER is 32 bits). Larger values are refused as invalid (422) at the
# edge instead of failing the insert (500) after the request started executing.
MAX_MINOR = 2**31 - 1


def _json_integer(value: Any) -> Any:
    """What JSON Schema calls an integer: `12` or `12.0`; never `true` or `"12"`, which
    pydantic's lax mode would read as 1 and 12 (strict mode would refuse `12.0` as well)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


# Last in an `Annotated[int, Field(...), ...]`, so it runs before the bounds and the JSON Schema
# keeps them as `minimum`/`maximum` (placed first, pydantic emits them as unknown keywords).
JSON_INTEGER = BeforeValidator(_json_integer)

CheckoutId = Annotated[str, Field(min_length=1, max_length=255)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO-4217 code")]
PositiveMinor = Annotated[
    int, Field(gt=0, le=MAX_MINOR, description="integer amount in minor units"), JSON_INTEGER
]
NonNegativeMinor = Annotated[
    int, Field(ge=0, le=MAX_MINOR, description="integer amount in minor units"), JSON_INTEGER
]
Sku = Annotated[str, Field(min_length=1, max_length=255)]
# Strings as wide as the columns that keep them (PostgreSQL refuses longer ones with an error).
ShortText = Annotated[str, Field(max_length=255)]
RecordId = Annotated[str, Field(min_length=1, max_length=64)]
AttributionText = Annotated[str, Field(max_length=2048)]


def iso(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON-ready data: timestamps as ISO-8601 text."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
