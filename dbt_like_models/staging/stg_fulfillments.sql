-- One row per fulfillment: its latest status (greatest updated_at) wins.
-- Almost every fulfillment has one version: only the IDs seen more than once go through the window
-- that picks their latest version (a window over every row cost twice as much). Each CTE reads the
-- raw table itself and values are normalised last: a CTE read twice is materialised, which spilled
-- gigabytes at 10M.
with versioned_ids as (
    select
        fulfillment_id,
        count(*) as source_rows
    from raw.fulfillments
    group by fulfillment_id
    having count(*) > 1
),

single_versions as (
    select
        landed.*,
        1 as source_rows
    from raw.fulfillments as landed
    where not exists (
        select 1 from versioned_ids where versioned_ids.fulfillment_id = landed.fulfillment_id
    )
),

ranked_versions as (
    select
        landed.*,
        versioned_ids.source_rows,
        row_number() over (
            partition by landed.fulfillment_id
            order by
                landed.updated_at desc,
                landed._landing_date desc,
                landed._source_file desc,
                landed._line desc
        ) as version_rank
    from raw.fulfillments as landed
    inner join versioned_ids on versioned_ids.fulfillment_id = landed.fulfillment_id
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
    fulfillment_id,
    checkout_id,
    order_id,
    lower(status) as status,
    created_at,
    updated_at,
    source_rows
from deduplicated
