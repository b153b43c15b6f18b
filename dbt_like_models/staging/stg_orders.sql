-- materialized: ephemeral
-- One row per order: its latest version (greatest updated_at) wins, so a cancellation exported
-- after the order supersedes it. Status lower-cased, currency upper-cased.
-- Text arrives trimmed, blanks as null (ingestion stores it so, and reads a file in place only
-- when trim() would change none of its values), so staging trims nothing.
-- deduplicated: raw.orders by order_id, kept rows from stg_order_versions
select
    order_id,
    checkout_id,
    surrogate_key(checkout_id) as checkout_key,
    idempotency_key,
    customer_id,
    lower(status) as status,
    upper(currency) as currency,
    subtotal_minor,
    tax_minor,
    total_minor,
    created_at,
    updated_at,
    utm_source,
    utm_medium,
    utm_campaign,
    referrer,
    source_rows
from deduplicated
