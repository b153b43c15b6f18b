-- phantom_completion of the business date: a client checkout_completed event for a checkout with
-- no order at all (a later-cancelled order is not a phantom). The checkout's ID and its
-- completions' currency are looked up for the few found.
with orderless as (
    select client.checkout_key, client.client_revenue_minor, client.completion_events
    from int_client_events as client
    anti join int_checkout_orders as orders on client.checkout_key = orders.checkout_key
    where client.completion_events > 0
),

checkout_ids as (
    select
        events.checkout_key,
        min(events.checkout_id) as checkout_id,
        max(events.currency) as client_currency
    from stg_analytics_events as events
    where
        -- each has one: the scan hashes the IDs of completions only
        events.event_name = 'checkout_completed'
        and events.checkout_key in (select orderless.checkout_key from orderless)
    group by events.checkout_key
)

select
    checkout_ids.checkout_id,
    'phantom_completion' as type,
    checkout_ids.checkout_id as subject_id,
    orderless.client_revenue_minor as amount_minor,
    checkout_ids.client_currency as currency,
    cast(to_json(struct_pack(completion_events := orderless.completion_events)) as varchar)
        as details
from orderless
inner join int_checkouts_of_day as checkouts on orderless.checkout_key = checkouts.checkout_key
inner join checkout_ids on orderless.checkout_key = checkout_ids.checkout_key
