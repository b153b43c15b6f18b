"""What the orchestrator is configured with."""

from datetime import timedelta

from pydantic import BaseModel, Field

from checkout_service.db import DatabaseSettings
from checkout_service.idempotency import DEFAULT_LOCK_TIMEOUT, DEFAULT_RETENTION

SERVICE = "orchestrator"
DOWNSTREAM = ("fraud", "tax", "inventory", "payment", "order", "fulfillment")


class OrchestratorSettings(BaseModel):
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    # Base URL of each downstream service, by name (see DOWNSTREAM).
    service_urls: dict[str, str] = Field(
        default_factory=lambda: {
            name: f"http://127.0.0.1:{8101 + i}" for i, name in enumerate(DOWNSTREAM)
        }
    )
    # API key → merchant ID. The key authenticates the caller and scopes its idempotency keys.
    api_keys: dict[str, str] = Field(default_factory=lambda: {"sk_test_default": "mer_default"})
    idempotency_retention: timedelta = DEFAULT_RETENTION
    lock_timeout: timedelta = DEFAULT_LOCK_TIMEOUT
    # How long a saga runner owns a checkout; past it, `recover` may take the saga over.
    saga_lease: timedelta = timedelta(seconds=60)
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    # Attempts per downstream call (same key each time) before the outcome counts as unknown.
    call_attempts: int = Field(default=3, ge=1)
