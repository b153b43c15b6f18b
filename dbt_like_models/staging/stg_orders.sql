-- materialized: ephemeral
-- One row per order: its latest version (greatest updated_at) wins, so a cancellation exported
-- after the order supersedes it. Status lower-cased, currency upper-cased.
-- Never stored: each model reading it reads the landed rows of IDs that landed once, and the
-- version stg_order_versions names of the others, an anti-join that costs next to nothing
-- when none repeats (a left join of every row to it, then a filter, misled the planner into
-- running out of memory at 10M).
-- Text arrives trimmed, blanks as null (ingestion stores it so, and reads a file in place only
-- when trim() would change none of its values), so staging trims nothing.
with single_rows as (
    select landed.*, 1 as source_rows
    from raw.orders as landed
    anti join stg_order_versions as versions on landed.order_id = versions.order_id
),

kept_versions as (
    select landed.*, versions.source_rows
    from raw.orders as landed
    inner join stg_order_versions as versions
        on
            landed.order_id = versions.order_id
            and landed._source_file = versions.kept_source_file
            and landed._line = versions.kept_line
),

deduplicated as (
    select * from single_rows
    union all
    select * from kept_versions
)

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
