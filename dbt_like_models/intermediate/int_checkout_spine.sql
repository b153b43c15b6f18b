-- One row per checkout seen anywhere in the window, with the business date it belongs to: the UTC
-- day of its first record (server timestamps, and the collector's receipt time for client events).
with records as (
    select checkout_id, created_at as recorded_at from stg_orders
    union all
    select checkout_id, created_at as recorded_at from stg_payments
    union all
    select checkout_id, created_at as recorded_at from stg_inventory_moves
    union all
    select checkout_id, created_at as recorded_at from stg_fulfillments
    union all
    select checkout_id, received_at as recorded_at
    from stg_analytics_events
    where checkout_id is not null
)

select
    checkout_id,
    min(recorded_at) as first_record_at,
    cast(min(recorded_at) as date) as business_date,
    count(*) as records
from records
group by checkout_id
