-- orphaned_reservation of the business date: a reserve with neither release nor commit for its
-- reservation_id once the reservation TTL has passed in the data (`as_of`, not the wall clock).
-- The open reservations are found from counts and times alone; their checkout and SKU (text,
-- which costs most to carry through a grouping of every reservation) are looked up for those few.
with context as (
    select * from int_run_context
),

open_reservations as (
    select
        reservations.reservation_key,
        reservations.reserved_at,
        reservations.reserved_quantity
    from int_reservations as reservations
    cross join context
    where
        reservations.reserve_count > 0
        and not reservations.is_released
        and not reservations.is_committed
        -- microseconds: date_diff counts unit boundaries crossed, so in seconds 29 min 59.5 s
        -- would already count as 30 min
        and date_diff('microsecond', reservations.reserved_at, context.as_of)
        >= cast(context.reservation_ttl_minutes as bigint) * 60 * 1000000
),

open_moves as (
    select
        moves.reservation_key,
        min(moves.reservation_id) as reservation_id,
        min(moves.checkout_id) as checkout_id,
        min(moves.sku) as sku
    from stg_inventory_moves as moves
    where
        moves.reservation_key
        in (select open_reservations.reservation_key from open_reservations)
    group by moves.reservation_key
)

select
    open_moves.checkout_id,
    'orphaned_reservation' as type,
    open_moves.reservation_id as subject_id,
    cast(null as bigint) as amount_minor,
    cast(null as varchar) as currency,
    cast(to_json(struct_pack(
        reservation_id := open_moves.reservation_id,
        sku := open_moves.sku,
        quantity := open_reservations.reserved_quantity,
        reserved_at := cast(open_reservations.reserved_at as varchar),
        minutes_open := date_diff('minute', open_reservations.reserved_at, context.as_of)
    )) as varchar) as details
from open_reservations
inner join open_moves on open_reservations.reservation_key = open_moves.reservation_key
inner join int_checkouts_of_day as checkouts on surrogate_key(open_moves.checkout_id) = checkouts.checkout_key
cross join context
