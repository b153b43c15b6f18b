-- One row per checkout seen anywhere in the window, with the business date it belongs to (the UTC
-- day of its first record: server timestamps, and the collector's receipt time for client
-- events) and what its records hold: the facts that decide which revenue-bridge line a difference
-- belongs to. Keyed by checkout_key, the checkout ID's surrogate_key: every per-checkout table
-- joins on it. The client side comes from int_client_events, already one row per checkout.
with records as (
    select
        checkout_key,
        created_at as recorded_at,
        false as is_completion,
        true as is_order,
        status = 'placed' as is_open_order,
        status = 'placed' and utm_source is not null as is_campaign_order,
        false as is_capture,
        null::bigint as client_events
    from stg_orders
    union all
    select
        checkout_key,
        created_at as recorded_at,
        false as is_completion,
        false as is_order,
        false as is_open_order,
        false as is_campaign_order,
        kind = 'capture' and status = 'succeeded' as is_capture,
        null::bigint as client_events
    from stg_payments
    union all
    select
        checkout_key,
        created_at as recorded_at,
        false as is_completion,
        false as is_order,
        false as is_open_order,
        false as is_campaign_order,
        false as is_capture,
        null::bigint as client_events
    from stg_inventory_moves
    union all
    select
        checkout_key,
        created_at as recorded_at,
        false as is_completion,
        false as is_order,
        false as is_open_order,
        false as is_campaign_order,
        false as is_capture,
        null::bigint as client_events
    from stg_fulfillments
    union all
    select
        checkout_key,
        first_received_at as recorded_at,
        completion_events > 0 as is_completion,
        false as is_order,
        false as is_open_order,
        false as is_campaign_order,
        false as is_capture,
        client_events
    from int_client_events
)
,

-- The five facts travel as bits of one integer: one aggregate state instead of five per checkout,
-- which is what let this grouping of every checkout fit in 2.5 GB at 10M checkouts.
per_checkout as (
    select
        checkout_key,
        min(recorded_at) as first_record_at,
        -- a staged row is one record; the client side arrives counted, one row per checkout
        -- (one sum's state, where a count, a count and a maximum took three: at 10M checkouts
        -- 19.3-19.6 s against 20.8-21.8 s)
        sum(coalesce(client_events, 1)) as records,
        bit_or(
            coalesce(is_completion, false)::utinyint
            | (coalesce(is_order, false)::utinyint << 1)
            | (coalesce(is_open_order, false)::utinyint << 2)
            | (coalesce(is_capture, false)::utinyint << 3)
            | (coalesce(is_campaign_order, false)::utinyint << 4)
        ) as facts
    from records
    group by checkout_key
)

select
    checkout_key,
    first_record_at,
    cast(first_record_at as date) as business_date,
    records,
    facts & 1 <> 0 as has_completion,
    facts & 2 <> 0 as has_any_order,
    facts & 4 <> 0 as has_open_order,
    facts & 8 <> 0 as has_capture,
    facts & 16 <> 0 as server_has_utm
from per_checkout
