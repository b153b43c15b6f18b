-- materialized: ephemeral
-- One row per client event_id (the same event delivered twice by the collector counts once; two
-- events with different IDs are kept: that is what duplicate_analytics_event looks for).
-- Never stored: each model reading it reads the landed rows once, keeping for a repeated ID only
-- the copy stg_analytics_event_copies names.
select
    landed.event_id,
    lower(landed.event_name) as event_name,
    landed.anonymous_id,
    landed.session_id,
    nullif(trim(landed.checkout_id), '') as checkout_id,
    landed.occurred_at,
    landed.received_at,
    nullif(trim(landed.utm_source), '') as utm_source,
    nullif(trim(landed.utm_medium), '') as utm_medium,
    nullif(trim(landed.utm_campaign), '') as utm_campaign,
    nullif(trim(landed.referrer), '') as referrer,
    landed.revenue_minor,
    upper(landed.currency) as currency,
    coalesce(copies.source_rows, 1) as source_rows
from raw.analytics_events as landed
left join stg_analytics_event_copies as copies on landed.event_id = copies.event_id
where
    copies.event_id is null
    or (landed._source_file = copies.kept_source_file and landed._line = copies.kept_line)
