-- orphaned_reservation of the business date: a reserve with neither release nor commit for its
-- reservation_id once the reservation TTL has passed in the data (`as_of`, not the wall clock).
-- The reserves of reservations that never ended are found by an anti join against the ending
-- moves, which leaves few; only those are grouped per reservation, their IDs and SKU carried
-- along. (Grouping every reservation, 10M at 10M checkouts, and then reading the moves again for
-- the open ones' IDs took twice as long.)
with context as (
    select * from int_run_context
),

ending_moves as (
    select moves.reservation_key
    from stg_inventory_moves as moves
    where moves.kind in ('release', 'commit')
),

open_reserves as (
    select
        moves.reservation_key,
        moves.reservation_id,
        moves.checkout_id,
        moves.sku,
        moves.quantity,
        moves.created_at
    from stg_inventory_moves as moves
    anti join ending_moves on moves.reservation_key = ending_moves.reservation_key
    where moves.kind = 'reserve'
),

open_reservations as (
    select
        reservation_key,
        min(reservation_id) as reservation_id,
        min(checkout_id) as checkout_id,
        min(sku) as sku,
        min(created_at) as reserved_at,
        coalesce(sum(quantity), 0) as reserved_quantity
    from open_reserves
    group by reservation_key
)

select
    open_reservations.checkout_id,
    'orphaned_reservation' as type,
    open_reservations.reservation_id as subject_id,
    cast(null as bigint) as amount_minor,
    cast(null as varchar) as currency,
    cast(to_json(struct_pack(
        reservation_id := open_reservations.reservation_id,
        sku := open_reservations.sku,
        quantity := open_reservations.reserved_quantity,
        reserved_at := cast(open_reservations.reserved_at as varchar),
        minutes_open := date_diff('minute', open_reservations.reserved_at, context.as_of)
    )) as varchar) as details
from open_reservations
inner join int_checkouts_of_day as checkouts
    on surrogate_key(open_reservations.checkout_id) = checkouts.checkout_key
cross join context
-- microseconds: date_diff counts unit boundaries crossed, so in seconds 29 min 59.5 s would
-- already count as 30 min
where
    date_diff('microsecond', open_reservations.reserved_at, context.as_of)
    >= cast(context.reservation_ttl_minutes as bigint) * 60 * 1000000
