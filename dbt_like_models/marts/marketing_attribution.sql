-- Revenue by campaign as each side attributes it, per currency: the client side from each
-- checkout's first completion event, the server side from open orders' own attribution. The gap
-- is what marketing's numbers miss or invent; '(none)' holds revenue with no campaign.
with context as (
    select business_date from int_run_context
),

-- Which completion is a checkout's first matters only where it reported more than one.
repeated_completers as (
    select checkout_key from int_client_events where completion_events > 1
),

single_completions as (
    select
        events.currency,
        events.revenue_minor,
        coalesce(events.utm_source, '(none)') as utm_source,
        coalesce(events.utm_campaign, '(none)') as utm_campaign,
        1 as event_rank
    from stg_analytics_events as events
    inner join int_checkouts_of_day as checkouts on events.checkout_key = checkouts.checkout_key
    anti join repeated_completers on events.checkout_key = repeated_completers.checkout_key
    where events.event_name = 'checkout_completed'
),

repeated_completions as (
    select
        events.currency,
        events.revenue_minor,
        coalesce(events.utm_source, '(none)') as utm_source,
        coalesce(events.utm_campaign, '(none)') as utm_campaign,
        row_number() over (
            partition by events.checkout_key order by events.received_at, events.event_id
        ) as event_rank
    from stg_analytics_events as events
    inner join int_checkouts_of_day as checkouts on events.checkout_key = checkouts.checkout_key
    inner join repeated_completers on events.checkout_key = repeated_completers.checkout_key
    where events.event_name = 'checkout_completed'
),

first_completions as (
    select * from single_completions
    union all
    select * from repeated_completions
),

client as (
    select
        currency,
        utm_source,
        utm_campaign,
        count(*) as client_checkouts,
        sum(revenue_minor) as client_revenue_minor
    from first_completions
    where event_rank = 1
    group by currency, utm_source, utm_campaign
),

server as (
    select
        o.currency,
        coalesce(o.utm_source, '(none)') as utm_source,
        coalesce(o.utm_campaign, '(none)') as utm_campaign,
        count(*) as server_orders,
        sum(o.total_minor) as server_revenue_minor
    from stg_orders as o
    inner join int_checkouts_of_day as checkouts on o.checkout_key = checkouts.checkout_key
    where o.status = 'placed'
    group by o.currency, coalesce(o.utm_source, '(none)'), coalesce(o.utm_campaign, '(none)')
),

channels as (
    select currency, utm_source, utm_campaign from client
    union
    select currency, utm_source, utm_campaign from server
)

select
    context.business_date,
    channels.currency,
    channels.utm_source,
    channels.utm_campaign,
    coalesce(client.client_checkouts, 0) as client_checkouts,
    coalesce(client.client_revenue_minor, 0) as client_revenue_minor,
    coalesce(server.server_orders, 0) as server_orders,
    coalesce(server.server_revenue_minor, 0) as server_revenue_minor,
    coalesce(server.server_revenue_minor, 0) - coalesce(client.client_revenue_minor, 0)
        as gap_minor
from channels
cross join context
left join client
    on
        channels.currency = client.currency
        and channels.utm_source = client.utm_source
        and channels.utm_campaign = client.utm_campaign
left join server
    on
        channels.currency = server.currency
        and channels.utm_source = server.utm_source
        and channels.utm_campaign = server.utm_campaign
