-- One row per order: its latest version (greatest updated_at) wins, so a cancellation exported
-- after the order supersedes it. Status lower-cased, currency upper-cased, empty attribution null.
-- Almost every order has one version: only the IDs seen more than once go through the window that
-- picks their latest version (a window over every row cost twice as much). Each CTE reads the raw
-- table itself and values are normalised last: a CTE read twice is materialised, which spilled
-- gigabytes at 10M.
with versioned_ids as (
    select
        order_id,
        count(*) as source_rows
    from raw.orders
    group by order_id
    having count(*) > 1
),

single_versions as (
    select
        landed.*,
        1 as source_rows
    from raw.orders as landed
    where not exists (
        select 1 from versioned_ids where versioned_ids.order_id = landed.order_id
    )
),

ranked_versions as (
    select
        landed.*,
        versioned_ids.source_rows,
        row_number() over (
            partition by landed.order_id
            order by
                landed.updated_at desc,
                landed._landing_date desc,
                landed._source_file desc,
                landed._line desc
        ) as version_rank
    from raw.orders as landed
    inner join versioned_ids on versioned_ids.order_id = landed.order_id
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
    source_rows
from deduplicated
