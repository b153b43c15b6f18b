-- materialized: ephemeral
-- Every landed row of the seven sources in one shape, with its address in the landing files: what
-- a finding's evidence lists (marts/discrepancy_evidence.sql). Not deduplicated: a row delivered
-- twice is evidence twice, at both addresses. Columns a source does not have are null; kind holds
-- the payment's or move's kind and the event's name, related_id what the row points at (a refund's
-- parent payment, a move's reservation, a fulfillment's order, a settlement line's payout), and
-- psp_reference the provider's reference that ties a payment to its settlement lines.
select
    'orders' as source,
    _source_file as source_file,
    _line as line,
    order_id as record_id,
    checkout_id,
    idempotency_key,
    cast(null as varchar) as kind,
    lower(status) as status,
    total_minor as amount_minor,
    upper(currency) as currency,
    utm_source,
    cast(null as varchar) as related_id,
    cast(null as varchar) as psp_reference,
    updated_at as recorded_at
from raw.orders
union all
select
    'payments' as source,
    _source_file as source_file,
    _line as line,
    payment_id as record_id,
    checkout_id,
    idempotency_key,
    lower(kind) as kind,
    lower(status) as status,
    amount_minor,
    upper(currency) as currency,
    cast(null as varchar) as utm_source,
    parent_payment_id as related_id,
    psp_reference,
    created_at as recorded_at
from raw.payments
union all
select
    'inventory_moves' as source,
    _source_file as source_file,
    _line as line,
    move_id as record_id,
    checkout_id,
    idempotency_key,
    lower(kind) as kind,
    cast(null as varchar) as status,
    cast(null as bigint) as amount_minor,
    cast(null as varchar) as currency,
    cast(null as varchar) as utm_source,
    reservation_id as related_id,
    cast(null as varchar) as psp_reference,
    created_at as recorded_at
from raw.inventory_moves
union all
select
    'fulfillments' as source,
    _source_file as source_file,
    _line as line,
    fulfillment_id as record_id,
    checkout_id,
    cast(null as varchar) as idempotency_key,
    cast(null as varchar) as kind,
    lower(status) as status,
    cast(null as bigint) as amount_minor,
    cast(null as varchar) as currency,
    cast(null as varchar) as utm_source,
    order_id as related_id,
    cast(null as varchar) as psp_reference,
    updated_at as recorded_at
from raw.fulfillments
union all
select
    'analytics_events' as source,
    _source_file as source_file,
    _line as line,
    event_id as record_id,
    checkout_id,
    cast(null as varchar) as idempotency_key,
    lower(event_name) as kind,
    cast(null as varchar) as status,
    revenue_minor as amount_minor,
    upper(currency) as currency,
    utm_source,
    cast(null as varchar) as related_id,
    cast(null as varchar) as psp_reference,
    received_at as recorded_at
from raw.analytics_events
where checkout_id is not null
union all
select
    'settlements' as source,
    _source_file as source_file,
    _line as line,
    settlement_line_id as record_id,
    cast(null as varchar) as checkout_id,
    cast(null as varchar) as idempotency_key,
    lower(line_type) as kind,
    cast(null as varchar) as status,
    gross_minor as amount_minor,
    upper(currency) as currency,
    cast(null as varchar) as utm_source,
    payout_id as related_id,
    psp_reference,
    settled_at as recorded_at
from raw.settlements
union all
select
    'payouts' as source,
    _source_file as source_file,
    _line as line,
    payout_id as record_id,
    cast(null as varchar) as checkout_id,
    cast(null as varchar) as idempotency_key,
    cast(null as varchar) as kind,
    lower(status) as status,
    amount_minor,
    upper(currency) as currency,
    cast(null as varchar) as utm_source,
    cast(null as varchar) as related_id,
    cast(null as varchar) as psp_reference,
    created_at as recorded_at
from raw.payouts
