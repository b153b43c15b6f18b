-- orphaned_reservation of the business date: a reserve with neither release nor commit for its
-- reservation_id once the reservation TTL has passed in the data (`as_of`, not the wall clock).
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
)

select
    reservations.checkout_id,
    'orphaned_reservation' as type,
    reservations.reservation_id as subject_id,
    cast(null as bigint) as amount_minor,
    cast(null as varchar) as currency,
    cast(to_json(struct_pack(
        reservation_id := reservations.reservation_id,
        sku := reservations.sku,
        quantity := reservations.reserved_quantity,
        reserved_at := reservations.reserved_at,
        minutes_open := date_diff('minute', reservations.reserved_at, context.as_of)
    )) as varchar) as details
from int_reservations as reservations
inner join checkouts on reservations.checkout_id = checkouts.checkout_id
cross join context
where
    reservations.reserve_count > 0
    and not reservations.is_released
    and not reservations.is_committed
    -- microseconds: date_diff counts unit boundaries crossed, so in seconds 29 min 59.5 s
    -- would already count as 30 min
    and date_diff('microsecond', reservations.reserved_at, context.as_of)
    >= cast(context.reservation_ttl_minutes as bigint) * 60 * 1000000
