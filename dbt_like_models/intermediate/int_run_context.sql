-- The run's settings and its clocks. Time-based rules (reservation TTL, capture SLA) compare with
-- `as_of`, the latest server-side instant in the data, never the wall clock: the same files give
-- the same answer whenever they are reconciled. The settlement SLA compares with
-- `settlement_as_of`, the latest instant of the provider's reports (null without them): a capture
-- is unsettled only once the report has moved on past it.
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
),

provider_instants as (
    select max(settled_at) as recorded_at from stg_settlements
    union all
    select max(created_at) as recorded_at from stg_payouts
),

settlement_clock as (
    select max(recorded_at) as settlement_as_of from provider_instants
)

select
    params.business_date,
    params.lookback_days,
    params.reservation_ttl_minutes,
    params.capture_sla_hours,
    params.amount_tolerance_minor,
    params.settlement_sla_days,
    params.run_id,
    clock.as_of,
    settlement_clock.settlement_as_of
from meta.run_params as params
cross join clock
cross join settlement_clock
