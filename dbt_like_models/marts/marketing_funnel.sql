-- Marketing's funnel for the business date: checkout views, starts and completions (each
-- checkout counted once, with the raw event counts beside them), server-side orders, and the
-- conversion rates from start.
with context as (
    select business_date from int_run_context
),

views as (
    -- A view may precede any checkout: those count on the day the collector received them.
    select count(*) as view_events
    from stg_analytics_events as events
    cross join context
    left join int_checkouts_of_day as checkouts on events.checkout_key = checkouts.checkout_key
    where
        events.event_name = 'checkout_viewed'
        and (
            checkouts.checkout_key is not null
            or (
                events.checkout_key is null
                and cast(events.received_at as date) = context.business_date
            )
        )
),

per_checkout as (
    select
        sum(case when client.start_events > 0 then 1 else 0 end) as starts,
        sum(client.start_events) as start_events,
        sum(case when client.completion_events > 0 then 1 else 0 end) as completions,
        sum(client.completion_events) as completion_events
    from int_client_events as client
    inner join int_checkouts_of_day as checkouts on client.checkout_key = checkouts.checkout_key
),

orders as (
    select count(*) as orders
    from int_checkout_orders as o
    inner join int_checkouts_of_day as checkouts on o.checkout_key = checkouts.checkout_key
    where o.open_order_count > 0
)

select
    context.business_date,
    views.view_events as views,
    coalesce(per_checkout.starts, 0) as starts,
    coalesce(per_checkout.start_events, 0) as start_events,
    coalesce(per_checkout.completions, 0) as completions,
    coalesce(per_checkout.completion_events, 0) as completion_events,
    orders.orders,
    cast(per_checkout.completions as double) / nullif(per_checkout.starts, 0)
        as client_conversion,
    cast(orders.orders as double) / nullif(per_checkout.starts, 0) as server_conversion
from context
cross join views
cross join per_checkout
cross join orders
