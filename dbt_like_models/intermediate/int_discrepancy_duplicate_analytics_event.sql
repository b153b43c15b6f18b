-- duplicate_analytics_event of the business date: more than one checkout_started, or more than
-- one checkout_completed, reported by the client for one checkout (one row for each event name).
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
),

repeated as (
    select client.*
    from int_client_events as client
    inner join checkouts on client.checkout_id = checkouts.checkout_id
    where client.start_events > 1 or client.completion_events > 1
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
