-- materialized: ephemeral
-- One row per client event_id (the same event delivered twice by the collector counts once; two
-- events with different IDs are kept: that is what duplicate_analytics_event looks for).
-- Never stored: each model reading it reads the landed rows of IDs that landed once, and the
-- copy stg_analytics_event_copies names of the others, an anti-join that costs next to nothing
-- when none repeats (a left join of every row to it, then a filter, misled the planner into
-- running out of memory at 10M).
with single_rows as (
    select landed.*, 1 as source_rows
    from raw.analytics_events as landed
    anti join stg_analytics_event_copies as copies on landed.event_id = copies.event_id
),

kept_copies as (
    select landed.*, copies.source_rows
    from raw.analytics_events as landed
    inner join stg_analytics_event_copies as copies
        on
            landed.event_id = copies.event_id
            and landed._source_file = copies.kept_source_file
            and landed._line = copies.kept_line
),

deduplicated as (
    select * from single_rows
    union all
    select * from kept_copies
)

select
    event_id,
    lower(event_name) as event_name,
    anonymous_id,
    session_id,
    nullif(trim(checkout_id), '') as checkout_id,
    surrogate_key(nullif(trim(checkout_id), '')) as checkout_key,
    occurred_at,
    received_at,
    nullif(trim(utm_source), '') as utm_source,
    nullif(trim(utm_medium), '') as utm_medium,
    nullif(trim(utm_campaign), '') as utm_campaign,
    nullif(trim(referrer), '') as referrer,
    revenue_minor,
    upper(currency) as currency,
    source_rows
from deduplicated
