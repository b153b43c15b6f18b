-- One row per client event_id (the same event delivered twice by the collector counts once; two
-- events with different IDs are kept: that is what duplicate_analytics_event looks for).
with copies as (
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
        row_number() over (
            partition by event_id
            order by _landing_date, _source_file, _line
        ) as copy_rank,
        count(*) over (partition by event_id) as source_rows
    from raw.analytics_events
)

select
    event_id,
    event_name,
    anonymous_id,
    session_id,
    checkout_id,
    occurred_at,
    received_at,
    utm_source,
    utm_medium,
    utm_campaign,
    referrer,
    revenue_minor,
    currency,
    source_rows
from copies
where copy_rank = 1
