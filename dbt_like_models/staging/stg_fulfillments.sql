-- materialized: ephemeral
-- One row per fulfillment: its latest status (greatest updated_at) wins.
-- Never stored: each model reading it reads the landed rows of IDs that landed once, and the
-- version stg_fulfillment_versions names of the others, an anti-join that costs next to nothing
-- when none repeats (a left join of every row to it, then a filter, misled the planner into
-- running out of memory at 10M).
with single_rows as (
    select landed.*, 1 as source_rows
    from raw.fulfillments as landed
    anti join stg_fulfillment_versions as versions on landed.fulfillment_id = versions.fulfillment_id
),

kept_versions as (
    select landed.*, versions.source_rows
    from raw.fulfillments as landed
    inner join stg_fulfillment_versions as versions
        on
            landed.fulfillment_id = versions.fulfillment_id
            and landed._source_file = versions.kept_source_file
            and landed._line = versions.kept_line
),

deduplicated as (
    select * from single_rows
    union all
    select * from kept_versions
)

select
    fulfillment_id,
    checkout_id,
    surrogate_key(checkout_id) as checkout_key,
    order_id,
    lower(status) as status,
    created_at,
    updated_at,
    source_rows
from deduplicated
