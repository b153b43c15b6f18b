-- The run's settings and its clock. Time-based rules (reservation TTL, capture SLA) compare with
-- `as_of`, the latest server-side instant in the data, never the wall clock: the same files give
-- the same answer whenever they are reconciled.
with server_instants as (
    select max(updated_at) as recorded_at from stg_orders
    union all
    select max(created_at) as recorded_at from stg_payments
    union all
    select max(created_at) as recorded_at from stg_inventory_moves
    union all
    select max(updated_at) as recorded_at from stg_fulfillments
),

clock as (
    select max(recorded_at) as as_of from server_instants
)

select
    params.business_date,
    params.lookback_days,
    params.reservation_ttl_minutes,
    params.capture_sla_hours,
    params.amount_tolerance_minor,
    params.run_id,
    clock.as_of
from meta.run_params as params
cross join clock
