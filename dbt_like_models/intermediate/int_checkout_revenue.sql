-- Revenue per checkout and currency as each side sees it: client completion events (first and
-- duplicates, with or without a campaign), open order totals, captures and refunds, plus the
-- checkout-level facts that decide which revenue-bridge line a difference belongs to.
with completions as (
    select
        checkout_id,
        currency,
        revenue_minor,
        utm_source,
        row_number() over (partition by checkout_id order by received_at, event_id) as event_rank
    from stg_analytics_events
    where event_name = 'checkout_completed' and checkout_id is not null
),

client as (
    select
        checkout_id,
        currency,
        sum(revenue_minor) as client_revenue_minor,
        sum(case when event_rank = 1 then revenue_minor else 0 end) as first_event_minor,
        sum(case when event_rank > 1 then revenue_minor else 0 end) as duplicate_event_minor,
        sum(case when utm_source is not null then revenue_minor else 0 end)
            as attributed_event_minor
    from completions
    group by checkout_id, currency
),

orders as (
    select
        checkout_id,
        currency,
        sum(case when status = 'placed' then total_minor else 0 end) as open_order_minor
    from stg_orders
    group by checkout_id, currency
),

money as (
    select checkout_id, currency, captured_minor, refunded_minor
    from int_payment_ledger
),

keys as (
    select checkout_id, currency from client
    union
    select checkout_id, currency from orders
    union
    select checkout_id, currency from money
),

server_attribution as (
    select checkout_id, max(case when utm_source is not null then 1 else 0 end) = 1 as has_utm
    from stg_orders
    where status = 'placed'
    group by checkout_id
),

captures as (
    select checkout_id, sum(captured_minor) > 0 as has_capture
    from int_payment_ledger
    group by checkout_id
)

select
    keys.checkout_id,
    keys.currency,
    coalesce(client.client_revenue_minor, 0) as client_revenue_minor,
    coalesce(client.first_event_minor, 0) as first_event_minor,
    coalesce(client.duplicate_event_minor, 0) as duplicate_event_minor,
    coalesce(client.attributed_event_minor, 0) as attributed_event_minor,
    coalesce(orders.open_order_minor, 0) as open_order_minor,
    coalesce(money.captured_minor, 0) as captured_minor,
    coalesce(money.refunded_minor, 0) as refunded_minor,
    coalesce(events.completion_events, 0) > 0 as has_completion,
    coalesce(checkout_orders.order_count, 0) > 0 as has_any_order,
    coalesce(checkout_orders.open_order_count, 0) > 0 as has_open_order,
    coalesce(captures.has_capture, false) as has_capture,
    coalesce(server_attribution.has_utm, false) as server_has_utm
from keys
left join client
    on keys.checkout_id = client.checkout_id and keys.currency = client.currency
left join orders
    on keys.checkout_id = orders.checkout_id and keys.currency = orders.currency
left join money
    on keys.checkout_id = money.checkout_id and keys.currency = money.currency
left join int_client_events as events on keys.checkout_id = events.checkout_id
left join int_checkout_orders as checkout_orders
    on keys.checkout_id = checkout_orders.checkout_id
left join captures on keys.checkout_id = captures.checkout_id
left join server_attribution on keys.checkout_id = server_attribution.checkout_id
