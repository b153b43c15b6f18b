-- materialized: ephemeral
-- One row per order: its latest version (greatest updated_at) wins, so a cancellation exported
-- after the order supersedes it. Status lower-cased, currency upper-cased, empty attribution null.
-- Never stored: each model reading it reads the landed rows once, keeping for a repeated ID only
-- the version stg_order_versions names.
select
    landed.order_id,
    landed.checkout_id,
    landed.idempotency_key,
    landed.customer_id,
    lower(landed.status) as status,
    upper(landed.currency) as currency,
    landed.subtotal_minor,
    landed.tax_minor,
    landed.total_minor,
    landed.created_at,
    landed.updated_at,
    nullif(trim(landed.utm_source), '') as utm_source,
    nullif(trim(landed.utm_medium), '') as utm_medium,
    nullif(trim(landed.utm_campaign), '') as utm_campaign,
    nullif(trim(landed.referrer), '') as referrer,
    coalesce(versions.source_rows, 1) as source_rows
from raw.orders as landed
left join stg_order_versions as versions on landed.order_id = versions.order_id
where
    versions.order_id is null
    or (landed._source_file = versions.kept_source_file and landed._line = versions.kept_line)
