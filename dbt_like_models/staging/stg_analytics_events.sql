-- materialized: ephemeral
-- One row per client event_id (the same event delivered twice by the collector counts once; two
-- events with different IDs are kept: that is what duplicate_analytics_event looks for).
-- Text arrives trimmed, blanks as null (ingestion stores it so, and reads a file in place only
-- when trim() would change none of its values), so staging trims nothing.
-- deduplicated: raw.analytics_events by event_id, kept rows from stg_analytics_event_copies
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
