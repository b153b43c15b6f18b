-- One row per client event_id (the same event delivered twice by the collector counts once; two
-- events with different IDs are kept: that is what duplicate_analytics_event looks for).
-- Almost every event arrives once: only the IDs seen more than once go through the window that
-- picks their first copy (a window over every row cost twice as much). Each CTE reads the raw table
-- itself and values are normalised last: a CTE read twice is materialised, which spilled gigabytes
-- at 10M.
with repeated_ids as (
    select
        event_id,
        count(*) as source_rows
    from raw.analytics_events
    group by event_id
    having count(*) > 1
),

single_copies as (
    select
        landed.*,
        1 as source_rows
    from raw.analytics_events as landed
    where not exists (
        select 1 from repeated_ids where repeated_ids.event_id = landed.event_id
    )
),

ranked_copies as (
    select
        landed.*,
        repeated_ids.source_rows,
        row_number() over (
            partition by landed.event_id
            order by landed._landing_date, landed._source_file, landed._line
        ) as copy_rank
    from raw.analytics_events as landed
    inner join repeated_ids on repeated_ids.event_id = landed.event_id
),

first_copies as (
    select * exclude (copy_rank) from ranked_copies where copy_rank = 1
),

deduplicated as (
    select * from single_copies
    union all
    select * from first_copies
)

select
    event_id,
    lower(event_name) as event_name,
    anonymous_id,
    session_id,
    nullif(trim(checkout_id), '') as checkout_id,
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
