-- One row per order: its latest version (greatest updated_at) wins, so a cancellation exported
-- after the order supersedes it. Status lower-cased, currency upper-cased, empty attribution null.
with versions as (
    select
        order_id,
        checkout_id,
        idempotency_key,
        customer_id,
        lower(status) as status,
        upper(currency) as currency,
        subtotal_minor,
        tax_minor,
        total_minor,
        created_at,
        updated_at,
        nullif(trim(utm_source), '') as utm_source,
        nullif(trim(utm_medium), '') as utm_medium,
        nullif(trim(utm_campaign), '') as utm_campaign,
        nullif(trim(referrer), '') as referrer,
        row_number() over (
            partition by order_id
            order by updated_at desc, _landing_date desc, _source_file desc, _line desc
        ) as version_rank,
        count(*) over (partition by order_id) as source_rows
    from raw.orders
)

select
    order_id,
    checkout_id,
    idempotency_key,
    customer_id,
    status,
    currency,
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
from versions
where version_rank = 1
