-- phantom_completion of the business date: a client checkout_completed event for a checkout with
-- no order at all (a later-cancelled order is not a phantom).
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
),

orderless as (
    select client.checkout_id, client.client_revenue_minor, client.client_currency,
        client.completion_events
    from int_client_events as client
    where
        client.completion_events > 0
        and not exists (
            select 1
            from int_checkout_orders as orders
            where orders.checkout_id = client.checkout_id
        )
)

select
    orderless.checkout_id,
    'phantom_completion' as type,
    orderless.checkout_id as subject_id,
    orderless.client_revenue_minor as amount_minor,
    orderless.client_currency as currency,
    cast(to_json(struct_pack(completion_events := orderless.completion_events)) as varchar)
        as details
from orderless
inner join checkouts on orderless.checkout_id = checkouts.checkout_id
