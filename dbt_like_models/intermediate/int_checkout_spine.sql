-- One row per checkout seen anywhere in the window, with the business date it belongs to (the UTC
-- day of its first record: server timestamps, and the collector's receipt time for client
-- events) and what its records hold: the facts that decide which revenue-bridge line a difference
-- belongs to. Keyed by checkout_key, the checkout ID's surrogate_key: every per-checkout table
-- joins on it.
with records as (
    select
        checkout_key,
        created_at as recorded_at,
        false as is_completion,
        true as is_order,
        status = 'placed' as is_open_order,
        status = 'placed' and utm_source is not null as is_campaign_order,
        false as is_capture
    from stg_orders
    union all
    select
        checkout_key,
        created_at as recorded_at,
        false as is_completion,
        false as is_order,
        false as is_open_order,
        false as is_campaign_order,
        kind = 'capture' and status = 'succeeded' as is_capture
    from stg_payments
    union all
    select
        checkout_key,
        created_at as recorded_at,
        false as is_completion,
        false as is_order,
        false as is_open_order,
        false as is_campaign_order,
        false as is_capture
    from stg_inventory_moves
    union all
    select
        checkout_key,
        created_at as recorded_at,
        false as is_completion,
        false as is_order,
        false as is_open_order,
        false as is_campaign_order,
        false as is_capture
    from stg_fulfillments
    union all
    select
        checkout_key,
        received_at as recorded_at,
        event_name = 'checkout_completed' as is_completion,
        false as is_order,
        false as is_open_order,
        false as is_campaign_order,
        false as is_capture
    from stg_analytics_events
    where checkout_id is not null
)

select
    checkout_key,
    min(recorded_at) as first_record_at,
    cast(min(recorded_at) as date) as business_date,
    count(*) as records,
    bool_or(is_completion) as has_completion,
    bool_or(is_order) as has_any_order,
    bool_or(is_open_order) as has_open_order,
    bool_or(is_capture) as has_capture,
    bool_or(is_campaign_order) as server_has_utm
from records
group by checkout_key
