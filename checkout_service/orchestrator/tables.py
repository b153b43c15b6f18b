"""The orchestrator's database: idempotency keys, the saga's checkouts and recovery points,
registered compensations, the outbox and the handled event IDs."""

from sqlalchemy import Column, Index, Integer, String, Table, Text, UniqueConstraint

from checkout_service.db import UTCDateTime, record_id, timestamps
from checkout_service.idempotency import service_metadata

metadata, keys = service_metadata()

checkouts = Table(
    "checkouts",
    metadata,
    record_id("checkout_id"),
    Column("scope", String(255), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("merchant_id", String(255), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("currency", String(3), nullable=False),
    # The business request as JSON: what a resumed saga needs to call the next step.
    Column("request_json", Text, nullable=False),
    Column("utm_source", String(2048)),
    Column("utm_medium", String(2048)),
    Column("utm_campaign", String(2048)),
    Column("utm_term", String(2048)),
    Column("utm_content", String(2048)),
    Column("referrer", String(2048)),
    # pending | compensating | completed | failed | cancelled
    Column("status", String(16), nullable=False),
    Column("recovery_point", String(32), nullable=False),
    Column("subtotal_minor", Integer, nullable=False),
    Column("tax_minor", Integer),
    Column("total_minor", Integer),
    Column("reservation_id", String(64)),
    Column("payment_id", String(64)),
    Column("order_id", String(64)),
    Column("fulfillment_id", String(64)),
    # The answer of the POST, set when the saga is decided (before compensating), served once
    # the saga is terminal, so a resumed saga gives the answer the first attempt would have.
    Column("response_status", Integer),
    Column("response_body", Text),
    Column("lease_token", String(36)),
    Column("lease_until", UTCDateTime),
    *timestamps(),
    UniqueConstraint("scope", "idempotency_key", name="uq_checkouts_scope_key"),
    Index("ix_checkouts_status_lease", "status", "lease_until"),
)

# One row per step that answered: the record of what each downstream call did.
step_results = Table(
    "step_results",
    metadata,
    Column("checkout_id", String(64), primary_key=True),
    Column("step", String(32), primary_key=True),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

compensations = Table(
    "compensations",
    metadata,
    Column("checkout_id", String(64), primary_key=True),
    # The undo step (`payment.void`...), also the suffix of its idempotency key.
    Column("step", String(32), primary_key=True),
    Column("forward_step", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    # registered | done | nothing_to_undo | refused
    Column("state", String(16), nullable=False),
    Column("detail", Text),
    *timestamps(),
)

outbox = Table(
    "outbox",
    metadata,
    # `{checkout_id}:{step}:{event}`
    Column("event_id", String(320), primary_key=True),
    Column("checkout_id", String(64), nullable=False),
    Column("step", String(32), nullable=False),
    Column("event", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index("ix_outbox_delivered_at", "delivered_at", "created_at"),
)

handled_events = Table(
    "handled_events",
    metadata,
    Column("event_id", String(320), primary_key=True),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("handled_at", UTCDateTime, nullable=False),
)
