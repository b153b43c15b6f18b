-- One row per order: its latest version (greatest updated_at) wins, so a cancellation exported
-- after the order supersedes it. Status lower-cased, currency upper-cased, empty attribution null.
-- Most orders have one version: only the orders with several go through the window that ranks
-- them (a window over every row cost twice as much).
with versioned_ids as (
    select
        order_id,
        count(*) as source_rows
    from raw.orders
    group by order_id
    having count(*) > 1
),

orders as (
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
        _landing_date,
        _source_file,
        _line
    from raw.orders
),

single_versions as (
    select
        orders.*,
        1 as source_rows
    from orders
    where not exists (
        select 1 from versioned_ids where versioned_ids.order_id = orders.order_id
    )
),

ranked_versions as (
    select
        orders.*,
        versioned_ids.source_rows,
        row_number() over (
            partition by orders.order_id
            order by
                orders.updated_at desc,
                orders._landing_date desc,
                orders._source_file desc,
                orders._line desc
        ) as version_rank
    from orders
    inner join versioned_ids on versioned_ids.order_id = orders.order_id
),

latest_versions as (
    select * exclude (version_rank) from ranked_versions where version_rank = 1
),

deduplicated as (
    select * from single_versions
    union all
    select * from latest_versions
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
from deduplicated
