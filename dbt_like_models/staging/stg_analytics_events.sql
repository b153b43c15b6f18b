-- materialized: ephemeral
-- One row per client event_id (the same event delivered twice by the collector counts once; two
-- events with different IDs are kept: that is what duplicate_analytics_event looks for).
-- Never stored: each model reading it reads the landed rows of IDs that landed once, and the
-- copy stg_analytics_event_copies names of the others, an anti-join that costs next to nothing
-- when none repeats (a left join of every row to it, then a filter, misled the planner into
-- running out of memory at 10M).
-- Text arrives trimmed, blanks as null (ingestion stores it so, and reads a file in place only
-- when trim() would change none of its values), so staging trims nothing.
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
    checkout_id,
    surrogate_key(checkout_id) as checkout_key,
    occurred_at,
    received_at,
    utm_source,
    utm_medium,
    utm_campaign,
    referrer,
    revenue_minor,
    upper(currency) as currency,
    source_rows
from deduplicated
