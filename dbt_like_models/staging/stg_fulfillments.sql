-- One row per fulfillment: its latest status (greatest updated_at) wins.
-- Most fulfillments have one version: only those with several go through the window that ranks
-- them (a window over every row cost twice as much).
with versioned_ids as (
    select
        fulfillment_id,
        count(*) as source_rows
    from raw.fulfillments
    group by fulfillment_id
    having count(*) > 1
),

fulfillments as (
    select
        fulfillment_id,
        checkout_id,
        order_id,
        lower(status) as status,
        created_at,
        updated_at,
        _landing_date,
        _source_file,
        _line
    from raw.fulfillments
),

single_versions as (
    select
        fulfillments.*,
        1 as source_rows
    from fulfillments
    where not exists (
        select 1 from versioned_ids
        where versioned_ids.fulfillment_id = fulfillments.fulfillment_id
    )
),

ranked_versions as (
    select
        fulfillments.*,
        versioned_ids.source_rows,
        row_number() over (
            partition by fulfillments.fulfillment_id
            order by
                fulfillments.updated_at desc,
                fulfillments._landing_date desc,
                fulfillments._source_file desc,
                fulfillments._line desc
        ) as version_rank
    from fulfillments
    inner join versioned_ids on versioned_ids.fulfillment_id = fulfillments.fulfillment_id
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
    status,
    created_at,
    updated_at,
    source_rows
from deduplicated
