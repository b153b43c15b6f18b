-- duplicate_analytics_event of the business date: more than one checkout_started, or more than
-- one checkout_completed, reported by the client for one checkout (one row for each event name).
-- The checkout's ID and its completions' currency are looked up for the few found.
with repeated_events as (
    select client.*
    from int_client_events as client
    inner join int_checkouts_of_day as checkouts on client.checkout_key = checkouts.checkout_key
    where client.start_events > 1 or client.completion_events > 1
),

checkout_ids as (
    select
        events.checkout_key,
        min(events.checkout_id) as checkout_id,
        max(events.currency) filter (where events.event_name = 'checkout_completed')
            as client_currency
    from stg_analytics_events as events
    where
        -- each has two of these: the scan hashes the IDs of starts and completions only
        events.event_name in ('checkout_started', 'checkout_completed')
        and events.checkout_key in (select repeated_events.checkout_key from repeated_events)
    group by events.checkout_key
),

repeated as (
    select checkout_ids.checkout_id, checkout_ids.client_currency, repeated_events.*
    from repeated_events
    inner join checkout_ids on repeated_events.checkout_key = checkout_ids.checkout_key
)

select
    repeated.checkout_id,
    'duplicate_analytics_event' as type,
    concat(repeated.checkout_id, ':checkout_started') as subject_id,
    cast(null as bigint) as amount_minor,
    cast(null as varchar) as currency,
    cast(to_json(struct_pack(
        event_name := 'checkout_started', events := repeated.start_events
    )) as varchar) as details
from repeated
where repeated.start_events > 1

union all

select
    repeated.checkout_id,
    'duplicate_analytics_event' as type,
    concat(repeated.checkout_id, ':checkout_completed') as subject_id,
    repeated.client_revenue_minor * (repeated.completion_events - 1) as amount_minor,
    repeated.client_currency as currency,
    cast(to_json(struct_pack(
        event_name := 'checkout_completed', events := repeated.completion_events
    )) as varchar) as details
from repeated
where repeated.completion_events > 1
